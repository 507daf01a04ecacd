"""`load --prometheus` and `--pushgateway` through prometheus_client: Prometheus histograms built
from the workers' exact HDR histograms, counters and gauges labelled by shard, a bind address,
and a push at the end to a Pushgateway (a small HTTP server of the test, on loopback)."""

from __future__ import annotations

import json
import random
import re
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from ocpplab_sim.load.metrics import LatencyHistogram
from ocpplab_sim.load.prometheus import BUCKETS_S, PrometheusExporter, bind_address
from tests.load.test_load_command import ROOT, sink

HISTOGRAMS = ("ocpplab_load_call_latency_seconds", "ocpplab_load_connect_boot_seconds")


def families(text: str) -> dict[str, Any]:
    return {family.name: family for family in text_string_to_metric_families(text)}


def samples(family: Any, suffix: str, **labels: str) -> list[Any]:
    return [
        s
        for s in family.samples
        if s.name == family.name + suffix and all(s.labels.get(k) == v for k, v in labels.items())
    ]


def check_histogram(family: Any, **labels: str) -> tuple[float, float]:
    """Buckets monotonic, ending in +Inf equal to _count; the (_count, _sum)."""
    buckets = samples(family, "_bucket", **labels)
    bounds = [float(s.labels["le"]) for s in buckets]
    counts = [s.value for s in buckets]
    assert bounds == sorted(bounds) and bounds[-1] == float("inf")
    assert bounds[:-1] == list(BUCKETS_S)
    assert counts == sorted(counts), counts
    (count,) = samples(family, "_count", **labels)
    (total,) = samples(family, "_sum", **labels)
    assert counts[-1] == count.value
    return count.value, total.value


def test_buckets_are_the_hdr_counts_at_each_bound() -> None:
    values_us = [1, 999, 1000, 1001, 2047, 2048, 9_990, 9_999, 10_000, 10_001, 250_000]
    values_us += [59_000_000, 700_000_000]  # the last one is kept at the histogram's 600 s
    histogram = LatencyHistogram()
    for micros in values_us:
        histogram.record((micros + 0.5) / 1_000_000)  # recorded as `micros` exactly

    def exact(bound_us: float) -> int:
        return sum(1 for v in values_us if min(v, 600_000_000) <= bound_us)

    # exact below 2.048 ms (one microsecond per HDR bin)
    assert histogram.cumulative_counts([0.0, 0.001, 0.002047]) == [0, 3, 5]
    # above, within the bins' 0.1 %: never more than the exact count, never less than the
    # exact count 0.1 % lower (a bin whose highest value is past the bound stays out)
    for bound in (0.01, 0.25, 60.0):
        (count,) = histogram.cumulative_counts([bound])
        assert exact(bound * 1e6 / 1.001) <= count <= exact(bound * 1e6), bound
    assert histogram.cumulative_counts([600.0, float("inf")]) == [13, 13]
    expected_sum = sum(min(v, 600_000_000) for v in values_us) / 1_000_000
    assert histogram.total_seconds() == pytest.approx(expected_sum, rel=1e-3)


def test_the_sum_is_within_the_histogram_s_precision_over_the_whole_range() -> None:
    rng = random.Random(7)
    values = [rng.lognormvariate(-5, 1.0) for _ in range(5000)]
    values += [rng.uniform(0.0, 700.0) for _ in range(500)]  # up to the 600 s clamp
    histogram = LatencyHistogram()
    for value in values:
        histogram.record(value)
    exact = sum(min(int(v * 1_000_000), 600_000_000) for v in values) / 1_000_000
    assert histogram.total_seconds() == pytest.approx(exact, rel=1e-3)
    (count,) = histogram.cumulative_counts([0.01])
    assert (
        sum(1 for v in values if v <= 0.01 / 1.001) <= count <= sum(1 for v in values if v <= 0.01)
    )


def _snapshot(worker: int, latencies: dict[str, list[float]], **fields: Any) -> dict[str, Any]:
    encoded = {}
    for name, values in latencies.items():
        histogram = LatencyHistogram()
        for value in values:
            histogram.record(value)
        encoded[name] = histogram.encode()
    return {
        "worker": worker,
        "t": 2.0,
        "messages": 10,
        "histograms": encoded,
        **fields,
    }


def test_workers_latest_snapshots_merge_into_one_histogram_per_action() -> None:
    exporter = PrometheusExporter(shard=3)
    old = _snapshot(0, {"Heartbeat": [0.5]}, connected=1)
    exporter.observe(old)  # replaced by the worker's next one (histograms are cumulative)
    exporter.observe(
        _snapshot(
            0,
            {"Heartbeat": [0.003, 0.5], "connect+boot": [0.02]},
            connected=4,
            faulted=1,
            booted=4,
            counters={"errors.callerror.Heartbeat": 2, "reconnects": 1, "unanswered": 0},
        )
    )
    exporter.observe(
        _snapshot(1, {"Heartbeat": [0.004], "MeterValues": [0.2]}, connected=5, booted=5)
    )
    exporter.observe({"worker": 1, "statuses": [], "status_only": True})
    found = families(exporter.text())
    calls = found["ocpplab_load_call_latency_seconds"]
    assert check_histogram(calls, shard="3", action="Heartbeat")[0] == 3
    assert check_histogram(calls, shard="3", action="MeterValues")[0] == 1
    heartbeat = {s.labels["le"]: s.value for s in samples(calls, "_bucket", action="Heartbeat")}
    assert heartbeat["0.0025"] == 0 and heartbeat["0.005"] == 2 and heartbeat["0.5"] == 2
    count, total = check_histogram(found["ocpplab_load_connect_boot_seconds"], shard="3")
    assert count == 1 and total == pytest.approx(0.02, rel=1e-3)
    assert {s.labels["action"]: s.value for s in found["ocpplab_load_calls"].samples} == {
        "Heartbeat": 3,
        "MeterValues": 1,
    }
    (error,) = found["ocpplab_load_errors"].samples
    assert error.labels == {"shard": "3", "kind": "callerror.Heartbeat"} and error.value == 2
    assert found["ocpplab_load_reconnects"].samples[0].value == 1
    assert found["ocpplab_load_connected"].samples[0].value == 9
    assert found["ocpplab_load_faulted"].samples[0].value == 1
    assert found["ocpplab_load_booted"].samples[0].value == 9
    assert found["ocpplab_load_messages"].samples[0].value == 30  # every snapshot's interval


def test_nothing_reported_yet_is_zeros_and_empty_histograms() -> None:
    found = families(PrometheusExporter().text())
    assert found["ocpplab_load_connected"].samples[0].value == 0
    assert found["ocpplab_load_call_latency_seconds"].samples == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("9464", ("127.0.0.1", 9464)),
        ("0.0.0.0:9464", ("0.0.0.0", 9464)),
        ("[::1]:0", ("::1", 0)),
        ("metrics.local:80", ("metrics.local", 80)),
    ],
)
def test_the_bind_address(text: str, expected: tuple[str, int]) -> None:
    assert bind_address(text) == expected


def test_a_pushgateway_that_is_not_there_is_an_oserror() -> None:
    with pushgateway() as (url, _):
        pass  # closed: nothing listens on its port any more
    with pytest.raises(OSError, match="refused"):
        PrometheusExporter().push(url, "job", "shard-0", timeout=5)


@contextmanager
def pushgateway() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """A Pushgateway stand-in on loopback: records every request (method, path, headers, body)."""
    received: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_PUT(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            received.append(
                {
                    "method": "PUT",
                    "path": self.path,
                    "type": self.headers.get("Content-Type", ""),
                    "body": body.decode(),
                }
            )
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", received
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


def test_a_load_run_is_scraped_live_and_pushed_at_the_end(tmp_path: Path) -> None:
    report = tmp_path / "load.json"
    scrapes: list[dict[str, Any]] = []
    with sink() as url, pushgateway() as (gateway, pushed):
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "ocpplab_sim",
                "load",
                "--csms-url",
                url,
                "--chargers",
                "80",
                "--shape",
                "steady",
                "--duration",
                "8s",
                "--workers",
                "2",
                "--session-rate",
                "5",
                "--session-length",
                "1s",
                "--meter-interval",
                "1s",
                "--prometheus",
                "127.0.0.1:0",
                "--pushgateway",
                gateway,
                "--pushgateway-job",
                "ci-load",
                "--shard",
                "1/2",
                "--report",
                str(report),
                "--quiet",
            ],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            assert process.stdout is not None
            endpoint = None
            for line in process.stdout:
                found = re.search(r"Prometheus metrics on (http://127\.0\.0\.1:\d+/metrics)", line)
                if found:
                    endpoint = found[1]
                    break
            assert endpoint, "no Prometheus endpoint announced"
            # scrape until calls show, while the run goes on (it ends by itself in ~8 s)
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and process.poll() is None:
                with urllib.request.urlopen(endpoint, timeout=5) as answer:
                    scrapes.append(families(answer.read().decode()))
                if samples(scrapes[-1]["ocpplab_load_calls"], "_total", action="MeterValues"):
                    break
                time.sleep(0.2)  # pacing of the polls only
            out, err = process.communicate(timeout=60)
        finally:
            if process.poll() is None:
                process.kill()
                process.communicate(timeout=10)
    assert process.returncode == 0, out + err
    assert scrapes, "the run ended before any scrape"
    live = scrapes[-1]
    assert live["ocpplab_load_connected"].samples[0].value > 0
    assert live["ocpplab_load_connected"].samples[0].labels == {"shard": "1"}
    for name in HISTOGRAMS:
        assert live[name].type == "histogram"
    check_histogram(live["ocpplab_load_call_latency_seconds"], action="MeterValues")

    # the push: one PUT of the final metrics, grouped by job and instance
    assert len(pushed) == 1, pushed
    assert pushed[0]["path"] == "/metrics/job/ci-load/instance/shard-1"
    assert pushed[0]["type"].startswith("text/plain")
    final = families(pushed[0]["body"])
    data = json.loads(report.read_text())
    latency = data["metrics"]["latency_s"]
    counters = data["metrics"]["counters"]
    calls = final["ocpplab_load_call_latency_seconds"]
    actions = {s.labels["action"] for s in samples(calls, "_count")}
    assert actions == set(latency) - {"connect+boot"}
    assert {"BootNotification", "StartTransaction", "MeterValues"} <= actions
    for action in actions:
        count, total = check_histogram(calls, shard="1", action=action)
        assert count == latency[action]["count"]  # the report's own histogram, exactly
        assert total > 0
        (answered,) = samples(final["ocpplab_load_calls"], "_total", action=action)
        assert answered.value == count
    count, _ = check_histogram(final["ocpplab_load_connect_boot_seconds"], shard="1")
    assert count == latency["connect+boot"]["count"] == counters["connected"] == 40
    assert final["ocpplab_load_booted"].samples[0].value == 40
    assert final["ocpplab_load_connected"].samples[0].value == 0  # all closed at the end
    assert final["ocpplab_load_unanswered_calls"].samples[0].value == counters["unanswered"] == 0
    assert final["ocpplab_load_reconnects"].samples[0].value == counters.get("reconnects", 0)
    assert final["ocpplab_load_errors"].samples == []


def test_a_prometheus_address_in_use_is_refused_before_the_run() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "ocpplab_sim",
                "load",
                "--csms-url",
                "ws://127.0.0.1:9/ocpp",
                "--prometheus",
                f"127.0.0.1:{port}",
                "--workers",
                "1",
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 2, result.stdout + result.stderr
    assert f"--prometheus 127.0.0.1:{port}" in result.stderr
    assert "Traceback" not in result.stderr
