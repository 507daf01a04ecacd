"""`load --threshold`: k6-like pass/fail rules, checked up front, evaluated on the final metrics,
shown as ✓/✗ in the summary and the JSON report; a failed one exits 1."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ocpplab_sim.load.metrics import LoadMetrics
from ocpplab_sim.load.thresholds import evaluate, parse_threshold
from ocpplab_sim.load.verdict import summary_lines, verdict
from tests.load.test_load_command import load, sink
from tests.load.test_report_merge import merge, shards


@pytest.mark.parametrize(
    ("text", "action", "metric", "op", "value", "percentile"),
    [
        ("p99<500ms", None, "p99", "<", 0.5, 99.0),
        (" p95 <= 2s ", None, "p95", "<=", 2.0, 95.0),
        ("Heartbeat:p95<=200ms", "Heartbeat", "p95", "<=", 0.2, 95.0),
        ("connect+boot:max<1.5", "connect+boot", "max", "<", 1.5, None),
        ("p999>=1ms", None, "p999", ">=", 0.001, 99.9),
        ("p(90)!=0", None, "p(90)", "!=", 0.0, 90.0),
        ("errors==0", None, "errors", "==", 0.0, None),
        ("calls_per_s>=100", None, "calls_per_s", ">=", 100.0, None),
        ("Heartbeat:calls>10", "Heartbeat", "calls", ">", 10.0, None),
    ],
)
def test_the_grammar(
    text: str, action: str | None, metric: str, op: str, value: float, percentile: float | None
) -> None:
    threshold = parse_threshold(text)
    assert (threshold.action, threshold.metric, threshold.op) == (action, metric, op)
    assert threshold.value == pytest.approx(value)
    assert threshold.percentile == percentile


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("p99", "not [ACTION:]METRIC OP VALUE"),
        ("p99=<500ms", "not [ACTION:]METRIC OP VALUE"),
        ("p99<fast", "is not a duration"),
        ("p99<-5ms", "negative"),
        ("latency<5s", "unknown metric 'latency'"),
        ("p101<5s", "not in (0, 100]"),
        ("errors==none", "'none' is not a number"),
        ("Heartbeat:errors==0", "only calls, calls_per_s and latencies take an ACTION"),
        ("calls_per_s>=nan", "not a finite number"),
    ],
)
def test_bad_thresholds_are_refused_naming_them(text: str, why: str) -> None:
    with pytest.raises(ValueError, match="threshold") as caught:
        parse_threshold(text)
    assert repr(text) in str(caught.value)
    assert why in str(caught.value)


def _report() -> dict[str, Any]:
    metrics = LoadMetrics()
    for ms in range(1, 101):  # 1..100 ms
        metrics.record("Heartbeat", ms / 1000)
    metrics.record("BootNotification", 0.5)
    metrics.record("connect+boot", 3.0)  # not a call: left out of the overall percentiles
    metrics.count("connected", 2)
    return {"metrics": metrics.to_dict(), "duration_s": 10.0}


def test_evaluation_on_the_final_metrics() -> None:
    report = _report()
    rules = [
        "p50<=60ms",
        "max<1s",
        "Heartbeat:max<=101ms",
        "connect+boot:p50>=2s",
        "calls_per_s>=10",
        "Heartbeat:calls==100",
        "errors==0",
        "connected>2",  # fails: 2 connected
        "Reset:p99<1s",  # fails: nothing measured
    ]
    results = evaluate([parse_threshold(r) for r in rules], report)
    passed = {r["threshold"]: r["passed"] for r in results}
    assert passed == {rule: rule not in ("connected>2", "Reset:p99<1s") for rule in rules}
    shown = {r["threshold"]: r["shown"] for r in results}
    assert shown["calls_per_s>=10"] == "calls_per_s 10.1"
    assert shown["Reset:p99<1s"] == "nothing measured"
    report["thresholds"] = results
    outcome = verdict(report)
    assert not outcome.passed
    assert outcome.reasons == ("threshold(s) failed: connected>2, Reset:p99<1s",)
    lines = summary_lines(report)
    assert "  ✓ p50<=60ms  (p50 51.0 ms)" in lines
    assert "  ✗ connected>2  (connected 2)" in lines
    assert lines[-1].startswith("✗ ERRORS: threshold(s) failed")


def test_a_bad_threshold_exits_2_before_anything_starts() -> None:
    result = load("--csms-url", "ws://127.0.0.1:9", "--threshold", "p99<soon", timeout=30)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "--threshold" in result.stderr
    assert "threshold 'p99<soon'" in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


def _run(url: str, report: Path, *rules: str) -> Any:
    args: list[str | Path] = ["--csms-url", url, "--chargers", "4", "--shape", "steady"]
    args += ["--duration", "2s", "--workers", "1", "--report", report]
    for rule in rules:
        args += ["--threshold", rule]
    return load(*args)


def test_thresholds_against_the_sink(tmp_path: Path) -> None:
    good = ["p99<30s", "errors==0", "BootNotification:p95<=30s", "calls_per_s>=0.5"]
    with sink() as url:
        held = _run(url, tmp_path / "held.json", *good)
        broken = _run(url, tmp_path / "broken.json", *good, "connected>=1000")
    assert held.returncode == 0, held.stdout + held.stderr
    for rule in good:
        assert f"✓ {rule}  (" in held.stdout
    data = json.loads((tmp_path / "held.json").read_text())
    assert [t["threshold"] for t in data["thresholds"]] == good
    assert all(t["passed"] for t in data["thresholds"])
    assert data["verdict"]["passed"] is True

    assert broken.returncode == 1, broken.stdout + broken.stderr
    assert "✗ connected>=1000  (connected 4)" in broken.stdout
    assert "threshold(s) failed: connected>=1000" in broken.stdout.splitlines()[-1]
    data = json.loads((tmp_path / "broken.json").read_text())
    assert data["thresholds"][-1] == {
        "threshold": "connected>=1000",
        "passed": False,
        "value": 4.0,
        "shown": "connected 4",
    }
    assert data["verdict"]["passed"] is False


def test_report_merge_takes_thresholds_too(tmp_path: Path) -> None:
    result = merge(
        *shards(tmp_path, 2), "--threshold", "errors==0", "--threshold", "Heartbeat:p99<1ms"
    )
    assert result.returncode == 1, result.stdout + result.stderr
    merged = json.loads(result.stdout)
    assert [t["passed"] for t in merged["thresholds"]] == [True, False]
    assert "✗ Heartbeat:p99<1ms" in result.stderr
