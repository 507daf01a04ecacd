"""Reports are pure writers over events: JUnit XML, JSON and the console."""

from __future__ import annotations

import io
import json
import xml.etree.ElementTree as ET

from ocpplab_sim.reports import ConsoleReporter, RunRecord, to_json, to_junit_xml
from ocpplab_sim.scenario.events import (
    CheckFinished,
    CheckResult,
    Event,
    Outcome,
    PhaseFinished,
    RunFinished,
    RunStarted,
    StepFinished,
)


def _events() -> list[Event]:
    ok = CheckResult(
        name="all AVAILABLE",
        step_index=0,
        outcome=Outcome.PASSED,
        message="6 EVSE(s) AVAILABLE after 0.40s",
        expected="AVAILABLE",
        observed={"E1": "AVAILABLE"},
        duration_s=0.4,
        latencies_s={"E1": 0.12, "E2": 0.3},
    )
    bad = CheckResult(
        name="E1 CHARGING",
        step_index=2,
        outcome=Outcome.FAILED,
        message="expected CHARGING within 2s; still E1=AVAILABLE",
        expected="CHARGING",
        observed={"E1": "AVAILABLE"},
        duration_s=2.0,
    )
    return [
        RunStarted(scenario="Urban <&>", source="s.yaml", seed=7, gateway_url=None),
        PhaseFinished(phase="provision", outcome=Outcome.PASSED, duration_s=0.2),
        CheckFinished(result=ok),
        StepFinished(index=0, label="expect", outcome=Outcome.PASSED),
        StepFinished(index=1, label="plug_in 0", outcome=Outcome.ERROR, message="CALLERROR x"),
        CheckFinished(result=bad),
        StepFinished(index=2, label="E1 CHARGING", outcome=Outcome.FAILED, message=bad.message),
        StepFinished(index=3, label="wait 1s", outcome=Outcome.SKIPPED),
        PhaseFinished(phase="teardown", outcome=Outcome.ERROR, message="delete CPO 1: 500"),
        RunFinished(exit_code=1, message="1 of 2 check(s) failed", duration_s=3.5, cpo_id="1"),
    ]


def _record() -> RunRecord:
    record = RunRecord()
    for event in _events():
        record(event)
    return record


def test_junit_has_one_testcase_per_check_and_per_unfinished_step() -> None:
    root = ET.fromstring(to_junit_xml(_record()))
    assert root.tag == "testsuites"
    (suite,) = root
    assert suite.get("name") == "Urban <&>"
    cases = {case.get("name"): case for case in suite.iter("testcase")}
    assert set(cases) == {
        "all AVAILABLE",
        "E1 CHARGING",
        "step 2: plug_in 0",
        "step 4: wait 1s",
        "teardown",
    }
    assert cases["all AVAILABLE"].find("failure") is None
    failure = cases["E1 CHARGING"].find("failure")
    assert failure is not None
    assert failure.get("message") == "expected CHARGING within 2s; still E1=AVAILABLE"
    assert cases["step 2: plug_in 0"].find("error") is not None
    assert cases["step 4: wait 1s"].find("skipped") is not None
    assert cases["teardown"].find("error") is not None
    assert (
        suite.get("tests"),
        suite.get("failures"),
        suite.get("errors"),
        suite.get("skipped"),
    ) == (
        "5",
        "1",
        "2",
        "1",
    )
    assert root.get("failures") == "1"


def test_json_report_is_complete_and_versioned() -> None:
    data = json.loads(to_json(_record()))
    assert data["report_version"] == 2
    assert data["exit_code"] == 1
    assert data["seed"] == 7
    assert data["cpo_id"] == "1"
    assert [c["outcome"] for c in data["checks"]] == ["passed", "failed"]
    assert [s["outcome"] for s in data["steps"]] == ["passed", "error", "failed", "skipped"]
    latency = data["ocpi_latency_s"]
    assert latency["count"] == 2
    assert latency["max"] == 0.3
    assert latency["p50"] == (0.12 + 0.3) / 2


def test_console_prints_progress_and_the_verdict() -> None:
    out = io.StringIO()
    console = ConsoleReporter(out, color=False)
    for event in _events():
        console(event)
    text = out.getvalue()
    assert "▶ Urban <&>" in text
    assert "✓ provision" in text
    assert "! step 2: plug_in 0" in text
    assert "      CALLERROR x" in text
    assert "checks: 1/2 passed" in text
    assert "FAILED: 1 of 2 check(s) failed (exit 1, 3.5s)" in text.splitlines()[-1]
