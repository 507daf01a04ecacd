"""`ocpplab-sim report merge` takes one complete set of shard reports of one run, and nothing else.

Every bad input — a file, a field, a set of reports that is not one run, an output that cannot
be written — runs the real CLI in a subprocess and must end with exit code 2 and a few lines on
stderr naming the file and the problem, never a traceback. The shard reports are built from the
writer's own pieces (``WorkerPlan`` described as the runner describes it, ``LoadMetrics``,
``timeline_point``), and a test holds their keys to those of a report ``run_load`` writes.
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from hdrh.histogram import HdrHistogram

from ocpplab_sim.load.metrics import LatencyHistogram, LoadMetrics
from ocpplab_sim.load.runner import LOAD_REPORT_KIND, LOAD_REPORT_VERSION, run_load, timeline_point
from ocpplab_sim.load.runner import _describe as describe_plan
from ocpplab_sim.load.shapes import Ramp, Steady
from ocpplab_sim.load.shard import Shard
from ocpplab_sim.load.worker import WorkerPlan

ROOT = Path(__file__).resolve().parents[2]
T0 = 1_700_000_000.0


def plan_of(total: int = 60, **changes: Any) -> WorkerPlan:
    plan = WorkerPlan(
        csms_url="ws://127.0.0.1:9000",
        first=0,
        last=total,
        total=total,
        shape=Steady(chargers=total, duration_s=10.0),
    )
    return replace(plan, **changes)


def shard_report(
    index: int,
    count: int,
    *,
    total: int = 60,
    started_at: float = T0,
    **plan_changes: Any,
) -> dict[str, Any]:
    """What ``ocpplab-sim load --shard index/count`` writes, with made-up measurements that are a
    pure function of the charger number (so shards add up to the whole fleet exactly)."""
    plan = plan_of(total, **plan_changes)
    mine = Shard(index, count).slice(total)
    metrics = LoadMetrics()
    for number in mine:
        metrics.count("connected")
        metrics.record("connect+boot", 0.002 + number % 7 / 1000)
        metrics.record("BootNotification", 0.001 + number % 5 / 1000)
        for beat in range(3):
            metrics.record("Heartbeat", 0.0005 + (number + beat) % 11 / 10_000)
    timeline = []
    for second in range(3):
        interval = LatencyHistogram()
        for number in mine:
            interval.record(0.001 + (number + second) % 9 / 1000)
        snapshot = {
            "t": second,
            "final": False,
            "connected": len(mine),
            "charging": sum(1 for number in mine if number % 3 == second),
            "faulted": 0,
            "messages": len(mine) * 2,
            "booted": len(mine),
            "sessions": sum(1 for number in mine if number % 4 == second),
            "errors": 0,
            "latency": interval.encode(),
        }
        timeline.append(timeline_point(second, [snapshot]))
    return {
        "kind": LOAD_REPORT_KIND,
        "version": LOAD_REPORT_VERSION,
        "started_at": started_at + index * 0.5,
        "duration_s": 10.2,
        "shard": {"index": index, "count": count},
        "workers": 1,
        "plan": describe_plan(plan),
        "settings": {"argv": ["load", "--shard", f"{index}/{count}"]},
        "metrics": metrics.to_dict(),
        "timeline": timeline,
    }


def write(path: Path, data: Any) -> Path:
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def shards(tmp: Path, count: int, which: range | list[int] | None = None, **kw: Any) -> list[Path]:
    return [
        write(tmp / f"shard-{i}.json", shard_report(i, count, **kw))
        for i in (range(count) if which is None else which)
    ]


def merge(*args: str | Path, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ocpplab_sim", "report", "merge", *(str(a) for a in args)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )


def garbled(key: str, value: Any, *, index: int = 0, count: int = 2) -> dict[str, Any]:
    """Shard ``index`` of ``count`` with ``key`` (dotted path) set to ``value`` (or deleted when
    ``value`` is ``DELETE``)."""
    report = shard_report(index, count)
    *parents, last = key.split(".")
    target: Any = report
    for part in parents:
        target = target[int(part)] if isinstance(target, list) else target[part]
    if value is DELETE:
        del target[last]
    elif isinstance(target, list):
        target[int(last)] = value
    else:
        target[last] = value
    return report


DELETE = object()


def with_other(tmp: Path, bad: dict[str, Any] | str | bytes) -> list[Path]:
    """A good shard 1/2 plus ``bad`` as shard-0.json."""
    good = write(tmp / "shard-1.json", shard_report(1, 2))
    path = tmp / "shard-0.json"
    if isinstance(bad, bytes):
        path.write_bytes(bad)
    elif isinstance(bad, str):
        path.write_text(bad, encoding="utf-8")
    else:
        write(path, bad)
    return [path, good]


def out_args(tmp: Path) -> list[str | Path]:
    return ["--output", tmp / "merged.json"]


def big_histogram() -> str:
    """An HDR histogram whose range exceeds the harness's 10 minutes: it cannot be added."""
    histogram = HdrHistogram(1, 10**12, 3)
    histogram.record_value(10**11)
    return base64.b64encode(histogram.encode()).decode("ascii")


Case = Callable[[Path], list[str | Path]]

# id -> (arguments built in a temporary folder, what stderr must say)
BAD: dict[str, tuple[Case, list[str]]] = {
    # -- not one complete set of shards of one run
    "one shard of two": (
        lambda t: [*shards(t, 2, [0]), *out_args(t)],
        ["incomplete set of shards: missing 1/2", "shard-0.json", "--allow-partial"],
    ),
    "two shards of three": (
        lambda t: [*shards(t, 3, [0, 2]), *out_args(t)],
        ["missing 1/3", "given 0/3 ", "shard-0.json, 2/3 ", "shard-2.json)"],
    ),
    "fleet sizes differ": (
        lambda t: [
            write(t / "a.json", shard_report(0, 2, total=60)),
            write(t / "b.json", shard_report(1, 2, total=80)),
            *out_args(t),
        ],
        ["b.json: not the same run as", "a.json", "plan.total 80 ≠ 60"],
    ),
    "plans differ (shape)": (
        lambda t: [
            write(t / "a.json", shard_report(0, 2)),
            write(
                t / "b.json", shard_report(1, 2, shape=Ramp(chargers=60, duration_s=10, ramp_s=5))
            ),
            *out_args(t),
        ],
        ["b.json: not the same run", 'plan.shape.kind "Ramp" ≠ "Steady"'],
    ),
    "seeds differ": (
        lambda t: [
            write(t / "a.json", shard_report(0, 2)),
            write(t / "b.json", shard_report(1, 2, seed=7)),
            *out_args(t),
        ],
        ["b.json: not the same run", "plan.seed 7 ≠ 0"],
    ),
    "central systems differ": (
        lambda t: [
            write(t / "a.json", shard_report(0, 2)),
            write(t / "b.json", shard_report(1, 2, csms_url="ws://10.0.0.9:9000")),
            *out_args(t),
        ],
        ["b.json", "plan.csms_url"],
    ),
    "shard counts differ": (
        lambda t: [
            write(t / "a.json", shard_report(0, 2)),
            write(t / "b.json", shard_report(1, 3)),
            *out_args(t),
        ],
        ["b.json: not the same run", "shard count 3 ≠ 2"],
    ),
    "run ids differ": (
        lambda t: [
            write(t / "a.json", {**shard_report(0, 2), "run_id": "run-A"}),
            write(t / "b.json", {**shard_report(1, 2), "run_id": "run-B"}),
            *out_args(t),
        ],
        ["b.json: not the same run", "run_id 'run-B' ≠ 'run-A'"],
    ),
    "a run id on one shard only": (
        lambda t: [
            write(t / "a.json", {**shard_report(0, 2), "run_id": "run-A"}),
            write(t / "b.json", shard_report(1, 2)),
            *out_args(t),
        ],
        ["b.json: not the same run", "run_id None ≠ 'run-A'"],
    ),
    "--allow-partial does not merge other runs": (
        lambda t: [
            write(t / "a.json", shard_report(0, 3, total=60)),
            write(t / "b.json", shard_report(1, 3, total=90)),
            "--allow-partial",
            *out_args(t),
        ],
        ["b.json: not the same run", "plan.total 90 ≠ 60"],
    ),
    "the same shard in two files": (
        lambda t: [
            write(t / "a.json", shard_report(0, 2)),
            write(t / "b.json", shard_report(0, 2)),
            *out_args(t),
        ],
        ["b.json: shard 0/2 again", "a.json"],
    ),
    "the same file twice": (
        lambda t: [*shards(t, 2, [0]), t / "shard-0.json", *out_args(t)],
        ["shard-0.json: given twice"],
    ),
    "a merged report among the shards": (
        lambda t: [
            write(
                t / "merged-before.json",
                {**shard_report(0, 1), "shard": {"index": 0, "count": 1, "merged_from": ["0/2"]}},
            ),
            *out_args(t),
        ],
        ["merged-before.json: already a merged report", "0/2"],
    ),
    # -- one file that is not a load report of this version
    "version 99": (
        lambda t: with_other(t, garbled("version", 99)),
        ["shard-0.json: version: 99", "version 1"],
    ),
    "version missing": (
        lambda t: with_other(t, garbled("version", DELETE)),
        ["shard-0.json: version: missing"],
    ),
    "a JSON list": (
        lambda t: with_other(t, "[1, 2, 3]"),
        ["shard-0.json: not a load report", "a list, not an object"],
    ),
    "a JSON number": (
        lambda t: with_other(t, "42"),
        ["shard-0.json: not a load report", "a number"],
    ),
    "another kind": (
        lambda t: with_other(t, garbled("kind", "something-else")),
        ["shard-0.json: kind: 'something-else'", "not an ocpplab-sim load report"],
    ),
    "a scenario run report": (
        lambda t: with_other(t, {"report_version": 2, "scenario": {"name": "urban"}}),
        ["shard-0.json: a scenario run report", "not a load report"],
    ),
    "no metrics": (
        lambda t: with_other(t, garbled("metrics", DELETE)),
        ["shard-0.json: metrics: missing"],
    ),
    "metrics a list": (
        lambda t: with_other(t, garbled("metrics", [1, 2])),
        ["shard-0.json: metrics: a list, not an object"],
    ),
    "metrics of another kind": (
        lambda t: with_other(t, garbled("metrics.kind", "nope")),
        ["shard-0.json: metrics: kind/version 'nope'/1"],
    ),
    "a negative counter": (
        lambda t: with_other(t, garbled("metrics.counters.connected", -3)),
        ["shard-0.json: metrics.counters.connected: -3 is not a count"],
    ),
    "a counter as text": (
        lambda t: with_other(t, garbled("metrics.counters.connected", "30")),
        ["shard-0.json: metrics.counters.connected: '30'"],
    ),
    "a histogram that is not base64 HDR": (
        lambda t: with_other(t, garbled("metrics.histograms.Heartbeat", "bm90IGEgaGlzdG9ncmFt")),
        ["shard-0.json: metrics.histograms.Heartbeat: not a mergeable HDR histogram"],
    ),
    "a histogram that is a number": (
        lambda t: with_other(t, garbled("metrics.histograms.Heartbeat", 12)),
        ["shard-0.json: metrics.histograms.Heartbeat: not an encoded histogram"],
    ),
    "a histogram beyond the harness's range": (
        lambda t: with_other(t, garbled("metrics.histograms.Heartbeat", big_histogram())),
        ["shard-0.json: metrics.histograms.Heartbeat: not a mergeable HDR histogram"],
    ),
    "no shard": (
        lambda t: with_other(t, garbled("shard", DELETE)),
        ["shard-0.json: shard: missing"],
    ),
    "shard index out of range": (
        lambda t: with_other(t, garbled("shard.index", 2)),
        ["shard-0.json: shard: 2/2 is not a shard"],
    ),
    "an absurd shard count": (
        lambda t: with_other(t, garbled("shard.count", 10**12)),
        ["shard-0.json: shard: count 1000000000000 is more than the 100000 shards"],
    ),
    "one shard of a thousand": (
        lambda t: [write(t / "s.json", shard_report(5, 1000, total=2000)), *out_args(t)],
        ["missing 0/1000, 1/1000, 2/1000, 3/1000, 4/1000, 6/1000", "(999 in all)"],
    ),
    "shard index as text": (
        lambda t: with_other(t, garbled("shard.index", "0")),
        ["shard-0.json: shard: index and count must be whole numbers", "'0'/2"],
    ),
    "no plan": (
        lambda t: with_other(t, garbled("plan", DELETE)),
        ["shard-0.json: plan: missing"],
    ),
    "plan without a fleet size": (
        lambda t: with_other(t, garbled("plan.total", DELETE)),
        ["shard-0.json: plan.total: missing"],
    ),
    "no timeline": (
        lambda t: with_other(t, garbled("timeline", DELETE)),
        ["shard-0.json: timeline: missing"],
    ),
    "a timeline point without t": (
        lambda t: with_other(t, garbled("timeline.1.t", DELETE)),
        ["shard-0.json: timeline[1].t: missing"],
    ),
    "a timeline point as text": (
        lambda t: with_other(t, garbled("timeline.0", "one second")),
        ["shard-0.json: timeline[0]: a string, not an object"],
    ),
    "a timeline latency that is no histogram": (
        lambda t: with_other(t, garbled("timeline.2.latency", "AAAA")),
        ["shard-0.json: timeline[2].latency: not a mergeable HDR histogram"],
    ),
    "started_at as text": (
        lambda t: with_other(t, garbled("started_at", "yesterday")),
        ["shard-0.json: started_at: 'yesterday' is not a number of seconds"],
    ),
    "workers as text": (
        lambda t: with_other(t, garbled("workers", "2")),
        ["shard-0.json: workers: not a whole number"],
    ),
    "settings a list": (
        lambda t: with_other(t, garbled("settings", ["--shard"])),
        ["shard-0.json: settings: a list, not an object"],
    ),
    "ocpi_misses not strings": (
        lambda t: with_other(t, garbled("ocpi_misses", [1])),
        ["shard-0.json: ocpi_misses: not a list of strings"],
    ),
    "worker_failures not a list": (
        lambda t: with_other(t, garbled("worker_failures", "worker 0 died")),
        ["shard-0.json: worker_failures: not a list of strings"],
    ),
    "several problems in one file": (
        lambda t: with_other(t, {**garbled("metrics", DELETE), "timeline": {}, "workers": -1}),
        ["shard-0.json: workers", "shard-0.json: metrics: missing", "shard-0.json: timeline"],
    ),
    "problems in many files, capped": (
        lambda t: [write(t / f"junk-{i}.json", [i]) for i in range(9)],
        ["junk-0.json: not a load report", "… and 3 more problem(s)"],
    ),
    # -- a file that is not JSON at all
    "a missing file": (
        lambda t: [*shards(t, 2, [0]), t / "shard-1.json", *out_args(t)],
        ["shard-1.json: cannot read the report", "No such file"],
    ),
    "a folder as report": (
        lambda t: [*shards(t, 2, [0]), t, *out_args(t)],
        ["cannot read the report: Is a directory"],
    ),
    "an empty file": (
        lambda t: with_other(t, ""),
        ["shard-0.json: not a JSON report: the file is empty"],
    ),
    "not JSON": (
        lambda t: with_other(t, "kind: ocpplab-sim/load-run\n"),
        ["shard-0.json: not a JSON report", "line 1 column 1"],
    ),
    "not UTF-8": (
        lambda t: with_other(t, b'{"kind": "\xff\xfe"}'),
        ["shard-0.json: not a JSON report: not UTF-8"],
    ),
    "JSON nested too deeply": (
        lambda t: with_other(t, "[" * 100_000 + "]" * 100_000),
        ["shard-0.json: not a JSON report: nested too deeply"],
    ),
    # -- outputs
    "output in a missing folder": (
        lambda t: [*shards(t, 2), "--output", t / "nowhere" / "merged.json"],
        ["--output", "nowhere/merged.json", "does not exist"],
    ),
    "html in a missing folder": (
        lambda t: [*shards(t, 2), "--html", t / "nowhere" / "merged.html"],
        ["--html", "nowhere/merged.html", "does not exist"],
    ),
    "output is a folder": (
        lambda t: [*shards(t, 2), "--output", t],
        ["--output", "is a folder"],
    ),
    "output under a file": (
        lambda t: [*shards(t, 2), "--output", t / "shard-0.json" / "merged.json"],
        ["--output", "shard-0.json is not a folder"],
    ),
    "output overwrites a shard": (
        lambda t: [*shards(t, 2), "--output", t / "shard-1.json"],
        ["--output", "would overwrite the report", "shard-1.json"],
    ),
    "html and output the same file": (
        lambda t: [*shards(t, 2), "--output", t / "m.json", "--html", t / "m.json"],
        ["--html", "m.json: the same file as --output"],
    ),
    # -- arguments (argparse's own usage errors, exit 2)
    "no reports": (lambda t: ["--output", t / "m.json"], ["REPORT"]),
    "an unknown flag": (lambda t: [*shards(t, 2), "--partial"], ["unrecognized arguments"]),
}


@pytest.mark.parametrize("name", list(BAD))
def test_bad_input_is_refused_with_a_short_message_and_exit_2(tmp_path: Path, name: str) -> None:
    build, expected = BAD[name]
    result = merge(*build(tmp_path))
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert 1 <= len(lines) <= 7, result.stderr
    for text in expected:
        assert text in result.stderr, result.stderr
    assert not (tmp_path / "merged.json").exists()


def test_there_are_at_least_twenty_distinct_bad_inputs() -> None:
    assert len(BAD) >= 20


# -- good inputs ----------------------------------------------------------------------------------


def test_the_fixture_has_the_keys_of_a_report_the_runner_writes() -> None:
    written = run_load(plan_of(0), workers=1).report  # an empty fleet: no socket is opened
    made = shard_report(0, 1)
    assert set(made) == set(written)
    assert set(made["plan"]) == set(written["plan"])
    assert set(made["metrics"]) == set(written["metrics"])


def test_a_complete_set_merges_to_the_totals_of_the_whole_fleet(tmp_path: Path) -> None:
    paths = shards(tmp_path, 3)
    result = merge(*reversed(paths), "--output", tmp_path / "m.json", "--html", tmp_path / "m.html")
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stderr == ""
    merged = json.loads((tmp_path / "m.json").read_text())
    whole = shard_report(0, 1)
    assert merged["metrics"] == whole["metrics"]
    assert merged["shard"] == {
        "index": 0,
        "count": 1,
        "merged_from": ["0/3", "1/3", "2/3"],
        "complete": True,
        "missing": [],
        "missing_chargers": 0,
    }
    assert merged["plan"] == whole["plan"]
    assert merged["workers"] == 3
    assert merged["started_at"] == T0
    point = merged["timeline"][1]
    expected = {k: v for k, v in whole["timeline"][1].items() if k != "latency"}
    assert {k: v for k, v in point.items() if k != "latency"} == expected
    assert (tmp_path / "m.html").read_text().count("<polyline") == 5
    assert "✓ PASSED" in result.stdout


def test_twelve_shards_are_listed_in_shard_order(tmp_path: Path) -> None:
    result = merge(*shards(tmp_path, 12, total=24), "--output", tmp_path / "m.json")
    assert result.returncode == 0, result.stdout + result.stderr
    merged = json.loads((tmp_path / "m.json").read_text())
    assert merged["shard"]["merged_from"] == [f"{i}/12" for i in range(12)]
    assert merged["metrics"]["counters"]["connected"] == 24


def test_without_output_the_merged_report_is_printed(tmp_path: Path) -> None:
    result = merge(*shards(tmp_path, 2))
    assert result.returncode == 0, result.stdout + result.stderr
    assert json.loads(result.stdout)["metrics"]["counters"]["connected"] == 60
    assert "✓ PASSED" in result.stderr


def test_allow_partial_merges_and_says_and_records_what_is_missing(tmp_path: Path) -> None:
    paths = shards(tmp_path, 3, [0, 2])
    result = merge(*paths, "--allow-partial", "--output", tmp_path / "m.json")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert "warning: partial merge: 1 of 3 shards missing (1/3)" in result.stderr
    assert "leave out 20 of 60 chargers" in result.stderr
    merged = json.loads((tmp_path / "m.json").read_text())
    assert merged["shard"]["complete"] is False
    assert merged["shard"]["missing"] == ["1/3"]
    assert merged["shard"]["missing_chargers"] == 20
    assert merged["shard"]["merged_from"] == ["0/3", "2/3"]
    assert merged["metrics"]["counters"]["connected"] == 40


def test_allow_partial_with_every_shard_is_a_complete_merge(tmp_path: Path) -> None:
    result = merge(*shards(tmp_path, 2), "--allow-partial", "--output", tmp_path / "m.json")
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stderr == ""
    assert json.loads((tmp_path / "m.json").read_text())["shard"]["complete"] is True


def test_shards_far_apart_in_time_merge_with_a_warning(tmp_path: Path) -> None:
    a = write(tmp_path / "a.json", shard_report(0, 2))
    b = write(tmp_path / "b.json", shard_report(1, 2, started_at=T0 + 3 * 3600))
    result = merge(a, b, "--output", tmp_path / "m.json")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "warning: " in result.stderr
    assert "b.json (shard 1/2) started 3.0 h after" in result.stderr
    assert "a.json (shard 0/2) had finished" in result.stderr


def test_a_shared_run_id_ocpi_misses_and_worker_failures_are_carried_over(tmp_path: Path) -> None:
    a = write(
        tmp_path / "a.json",
        {**shard_report(0, 2), "run_id": "job-1", "ocpi_misses": ["LOAD-000001 Faulted"]},
    )
    b = write(
        tmp_path / "b.json",
        {
            **shard_report(1, 2),
            "run_id": "job-1",
            "ocpi_misses": [],
            "worker_failures": ["load worker 1 died (exit code 9)"],
        },
    )
    result = merge(a, b, "--output", tmp_path / "m.json")
    assert result.returncode == 0, result.stdout + result.stderr
    merged = json.loads((tmp_path / "m.json").read_text())
    assert merged["run_id"] == "job-1"
    assert merged["ocpi_misses"] == ["LOAD-000001 Faulted"]
    assert merged["worker_failures"] == ["shard 1/2: load worker 1 died (exit code 9)"]


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs Linux's /dev/full")
def test_an_output_that_cannot_be_written_is_an_input_error(tmp_path: Path) -> None:
    result = merge(*shards(tmp_path, 2), "--output", "/dev/full")
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert "/dev/full: cannot write the merged report: No space left on device" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
