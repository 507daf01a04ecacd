"""HTML, JSON (against its schema), console summary and trace: pure writers over events."""

from __future__ import annotations

import io
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema

from ocpplab_sim.reports import (
    ConsoleReporter,
    RunRecord,
    TraceWriter,
    report_schema,
    to_html,
    to_json,
)
from ocpplab_sim.scenario.events import (
    CheckFinished,
    CheckResult,
    Event,
    OcpiStatusSeen,
    OcppStatusSeen,
    Outcome,
    RunFinished,
    RunStarted,
    StepFinished,
)


def events() -> list[Event]:
    ok = CheckResult(
        name="all AVAILABLE",
        step_index=1,
        outcome=Outcome.PASSED,
        message="2 EVSE(s) AVAILABLE after 0.40s",
        expected="AVAILABLE",
        observed={"E1": "AVAILABLE", "E2": "AVAILABLE"},
        duration_s=0.4,
        latencies_s={"E1": 0.012, "E2": 0.030},
        kind="expect_ocpi",
    )
    bad = CheckResult(
        name="E1 <CHARGING>",
        step_index=2,
        outcome=Outcome.FAILED,
        message="expected CHARGING within 2s; still E1=AVAILABLE",
        expected="CHARGING",
        observed={"E1": "AVAILABLE"},
        duration_s=2.0,
        kind="expect_ocpi",
        explanation="check started …\nE1: expected CHARGING, saw AVAILABLE\n    +0.10s → StatusNotification {}",
        ocpp_messages={"E1": ["+0.10s → StatusNotification {}"]},
    )
    t0 = 1_700_000_000.0
    return [
        RunStarted(scenario="Urban", source="s.yaml", seed=3, gateway_url=None, at=t0),
        OcppStatusSeen(evse_uid="E1", charger="CP1", status="Available", at=t0 + 1),
        OcpiStatusSeen(evse_uid="E1", status="UNKNOWN", at=t0 + 0.5),
        OcpiStatusSeen(evse_uid="E1", status="AVAILABLE", at=t0 + 1.01),
        OcppStatusSeen(evse_uid="E2", charger="CP2", status="Available", at=t0 + 1),
        OcpiStatusSeen(evse_uid="E2", status="AVAILABLE", at=t0 + 1.03),
        StepFinished(
            index=0,
            label="connect all",
            outcome=Outcome.PASSED,
            phase="steps",
            path="steps[0]",
            line=7,
        ),
        CheckFinished(result=ok),
        StepFinished(index=1, label="all AVAILABLE", outcome=Outcome.PASSED),
        CheckFinished(result=bad),
        StepFinished(index=2, label="E1 <CHARGING>", outcome=Outcome.FAILED, message=bad.message),
        RunFinished(
            exit_code=1, message="1 of 2 check(s) failed", duration_s=4.0, cpo_id="7", at=t0 + 4
        ),
    ]


def record() -> RunRecord:
    rec = RunRecord()
    for event in events():
        rec(event)
    return rec


def test_json_report_validates_against_its_schema() -> None:
    schema = report_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    data = json.loads(to_json(record()))
    jsonschema.validate(data, schema)
    assert data["checks"][1]["explanation"].startswith("check started")
    assert data["checks"][1]["ocpp_messages"] == {"E1": ["+0.10s → StatusNotification {}"]}
    assert [(c["source"], c["status"]) for c in data["timeline"]][:2] == [
        ("ocpi", "UNKNOWN"),
        ("ocpp", "Available"),
    ]
    assert data["steps"][0]["line"] == 7
    assert data["ocpi_latency_s"]["p99"] == 0.030
    data["checks"][0]["outcome"] = "maybe"
    errors = list(jsonschema.Draft202012Validator(schema).iter_errors(data))
    assert errors, "the schema constrains outcomes"


def test_html_is_self_contained_and_has_the_timeline_and_histogram() -> None:
    page = to_html(record())
    assert page.startswith("<!DOCTYPE html>")
    # nothing is fetched: no src/href, no URL at all outside the text
    assert not re.search(r"""(src|href)\s*=""", page)
    assert "http://" not in page and "https://" not in page
    assert page.count('<svg class="evse"') == 2
    assert 'data-source="ocpp" data-status="Available"' in page
    assert 'data-source="ocpi" data-status="UNKNOWN"' in page
    assert '<svg class="histogram"' in page
    assert "E1 &lt;CHARGING&gt;" in page  # escaped
    assert "saw AVAILABLE" in page
    assert "p50 21 ms, p95 30 ms, p99 30 ms, max 30 ms" in page


def test_console_ends_with_a_summary_table_and_percentiles() -> None:
    out = io.StringIO()
    console = ConsoleReporter(out, color=False)
    for event in events():
        console(event)
    lines = out.getvalue().splitlines()
    assert any(line.startswith("      │ E1: expected CHARGING, saw AVAILABLE") for line in lines)
    table = lines[lines.index("") + 1 :]
    assert table[0].split() == ["check", "took", "latency", "max"]
    assert re.match(r"  ✓ all AVAILABLE\s+0\.40s\s+30 ms$", table[1])
    assert re.match(r"  ✗ E1 <CHARGING>\s+2\.00s\s+–$", table[2])
    assert "p50 21 ms, p95 30 ms, p99 30 ms, max 30 ms" in table[4]
    assert table[-1].startswith("✗ FAILED: 1 of 2 check(s) failed")


@dataclass
class Frame:
    at: float
    direction: str
    identity: str
    message: list[Any]


def test_trace_writes_one_json_line_per_frame(tmp_path: Path) -> None:
    path = tmp_path / "trace.jsonl"
    with TraceWriter(path) as trace:
        trace(Frame(1.5, "out", "CP1", [2, "1", "Heartbeat", {}]))
        trace(Frame(1.6, "in", "CP1", [3, "1", {"currentTime": "x"}]))
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert lines == [
        {"at": 1.5, "direction": "out", "identity": "CP1", "message": [2, "1", "Heartbeat", {}]},
        {
            "at": 1.6,
            "direction": "in",
            "identity": "CP1",
            "message": [3, "1", {"currentTime": "x"}],
        },
    ]
