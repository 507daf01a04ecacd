"""Load shapes, shard slices and histogram merging: pure code, tested exactly."""

from __future__ import annotations

import base64
import json
import random

import pytest

from ocpplab_sim.load import (
    LatencyHistogram,
    LoadMetrics,
    Shard,
    merge_reports,
    parse_shape,
    shard_from_env,
    synthetic_identity,
)
from ocpplab_sim.load.shapes import Ramp, Spike, Steady, Target


def test_steady_holds_then_stops_by_itself() -> None:
    shape = Steady(chargers=100, duration_s=10, connect_rate=50)
    assert shape.tick(0) == Target(100, 50)
    assert shape.tick(9.99) == Target(100, 50)
    assert shape.tick(10) is None


def test_ramp_grows_linearly_then_holds() -> None:
    shape = Ramp(chargers=1000, duration_s=20, ramp_s=10)
    assert [shape.tick(t).chargers for t in (0, 2.5, 5, 10, 19)] == [0, 250, 500, 1000, 1000]  # type: ignore[union-attr]
    assert shape.tick(0).connect_rate == 100  # type: ignore[union-attr]
    assert shape.tick(20) is None


def test_spike_jumps_and_falls_back() -> None:
    shape = Spike(chargers=500, duration_s=30, base=50, at_s=10, width_s=5)
    assert [shape.tick(t).chargers for t in (0, 9.9, 10, 14.9, 15, 29)] == [
        50,
        50,
        500,
        500,
        50,
        50,
    ]  # type: ignore[union-attr]


@pytest.mark.parametrize("name", ["steady", "ramp", "spike", "soak"])
def test_every_named_shape_ends(name: str) -> None:
    shape = parse_shape(name, chargers=10, duration_s=5)
    assert shape.tick(0) is not None
    assert shape.tick(5) is None


@pytest.mark.parametrize(
    ("name", "chargers", "duration", "message"),
    [
        ("wave", 10, 5, "unknown shape 'wave'"),
        ("steady", 0, 5, "at least 1"),
        ("ramp", 5, 0, "positive"),
    ],
)
def test_bad_shape_words(name: str, chargers: int, duration: float, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_shape(name, chargers=chargers, duration_s=duration)


@pytest.mark.parametrize("total", [0, 1, 7, 100, 20_001])
@pytest.mark.parametrize("count", [1, 2, 3, 8])
def test_shards_partition_the_fleet(total: int, count: int) -> None:
    slices = [Shard(i, count).slice(total) for i in range(count)]
    numbers = [n for s in slices for n in s]
    assert numbers == list(range(total))
    assert max(len(s) for s in slices) - min(len(s) for s in slices) <= 1
    identities = {synthetic_identity("LD-", n) for n in numbers}
    assert len(identities) == total


def test_shard_parsing_and_environment() -> None:
    assert Shard.parse("2/4") == Shard(2, 4)
    for bad in ("4/4", "-1/2", "x", "1/0"):
        with pytest.raises(ValueError, match="shard"):
            Shard.parse(bad)
    assert shard_from_env({}) is None
    assert shard_from_env({"JOB_COMPLETION_INDEX": "3", "OCPPLAB_SHARD_COUNT": "5"}) == Shard(3, 5)
    with pytest.raises(ValueError, match="OCPPLAB_SHARD_COUNT"):
        shard_from_env({"JOB_COMPLETION_INDEX": "3"})


def test_histogram_percentiles() -> None:
    histogram = LatencyHistogram()
    for ms in range(1, 1001):
        histogram.record(ms / 1000)
    assert histogram.count == 1000
    assert histogram.percentile(50) == pytest.approx(0.5, rel=1e-3)
    assert histogram.percentile(99) == pytest.approx(0.99, rel=1e-3)
    assert histogram.max == pytest.approx(1.0, rel=1e-3)


def test_merged_shard_reports_equal_one_report_of_everything() -> None:
    rng = random.Random(7)
    samples = [rng.lognormvariate(-6, 1) for _ in range(30_000)]
    whole = LoadMetrics()
    shards = [LoadMetrics() for _ in range(3)]
    for i, value in enumerate(samples):
        whole.record("Heartbeat", value)
        whole.count("messages")
        shards[i % 3].record("Heartbeat", value)
        shards[i % 3].count("messages")
    shards[1].count("errors.timeout", 2)
    whole.count("errors.timeout", 2)
    # through JSON, as files written by separate processes would be
    reports = [json.loads(json.dumps(shard.to_dict())) for shard in shards]
    merged = merge_reports(reports)
    assert merged.to_dict() == whole.to_dict()
    assert merged.histograms["Heartbeat"].count == 30_000


def test_a_foreign_file_is_refused() -> None:
    with pytest.raises(ValueError, match="not an ocpplab-sim load report"):
        merge_reports([{"kind": "something-else"}])


def test_buffered_recording_equals_recording_each_value_into_hdr() -> None:
    from hdrh.histogram import HdrHistogram

    rng = random.Random(11)
    seconds = [rng.lognormvariate(-5, 2) for _ in range(20_000)]
    seconds += [0.0, -1.0, 1e-7, 2047e-6, 2048e-6, 2049e-6, 4095e-6, 0.123456, 700.0]
    buffered = LatencyHistogram()
    plain = HdrHistogram(1, 600_000_000, 3)
    for value in seconds:
        buffered.record(value)
        plain.record_value(min(max(int(value * 1_000_000), 1), 600_000_000))
    assert buffered.count == plain.get_total_count() == len(seconds)
    for p in (0, 1, 50, 90, 99, 99.9, 99.99, 100):
        assert buffered.percentile(p) * 1_000_000 == pytest.approx(
            plain.get_value_at_percentile(p), abs=1e-6
        )
    assert buffered.max * 1_000_000 == pytest.approx(plain.get_max_value(), abs=1e-6)
    assert buffered._h.get_min_value() == plain.get_min_value()
    assert buffered.encode() == base64.b64encode(plain.encode()).decode("ascii")
    twin = LatencyHistogram()
    twin.add_encoded(buffered.encode())
    assert twin.count == len(seconds)
    assert twin.percentile(99) == buffered.percentile(99)
