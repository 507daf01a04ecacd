"""The JSON report: the whole run, versioned, with a JSON Schema (``report_schema()``).

Version 2 shape (every field always present; ``null`` where unknown): the run's header and
verdict, ``phases`` (run and scenario phases), ``steps`` (every executed step), ``checks`` (with
the failure explanation and the OCPP messages behind it), ``timeline`` (every OCPP and OCPI status
change seen) and ``ocpi_latency_s`` (count, p50, p95, p99, max in seconds).
"""

from __future__ import annotations

import json
import statistics
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from ocpplab_sim.reports.collector import RunRecord
from ocpplab_sim.scenario.execution.events import Outcome

__all__ = ["JSON_REPORT_VERSION", "JsonReport", "latency_summary", "report_schema", "to_json"]

JSON_REPORT_VERSION = 2


def latency_summary(values: list[float]) -> dict[str, float | int | None]:
    """count, p50, p95, p99 and max of ``values`` (seconds); ``None`` figures when empty."""
    if not values:
        return {"count": 0, "p50": None, "p95": None, "p99": None, "max": None}
    ordered = sorted(values)

    def pct(p: float) -> float:
        # nearest-rank percentile: the smallest value with at least p % of the samples ≤ it
        return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered) + 0.5) - 1))]

    return {
        "count": len(ordered),
        "p50": statistics.median(ordered),
        "p95": pct(95),
        "p99": pct(99),
        "max": ordered[-1],
    }


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PhaseOut(_Out):
    phase: str
    kind: Literal["run", "scenario"]
    outcome: Outcome
    message: str
    duration_s: float
    at: float


class StepOut(_Out):
    index: int
    label: str
    phase: str
    path: str
    line: int | None
    outcome: Outcome
    message: str
    duration_s: float
    at: float


class CheckOut(_Out):
    name: str
    kind: str
    step_index: int
    outcome: Outcome
    message: str
    expected: str
    observed: dict[str, str]
    duration_s: float
    latencies_s: dict[str, float]
    explanation: str
    ocpp_messages: dict[str, list[str]]


class StatusChange(_Out):
    """One status seen: ``source`` ocpp (a StatusNotification) or ocpi (a poll)."""

    at: float
    evse_uid: str
    source: Literal["ocpp", "ocpi"]
    status: str


class LatencyOut(_Out):
    count: int
    p50: float | None
    p95: float | None
    p99: float | None
    max: float | None


class JsonReport(_Out):
    """The JSON report of one run (``report_version`` 2). Times are seconds since the epoch."""

    report_version: Literal[2]
    scenario: str | None
    source: str | None
    seed: int | None
    gateway_url: str | None
    started_at: float | None
    finished_at: float | None
    duration_s: float | None
    exit_code: int | None
    verdict: str | None
    cpo_id: str | None
    phases: list[PhaseOut]
    steps: list[StepOut]
    checks: list[CheckOut]
    timeline: list[StatusChange]
    ocpi_latency_s: LatencyOut


def to_dict(record: RunRecord) -> dict[str, Any]:
    started, finished = record.started, record.finished
    timeline = [
        StatusChange(at=e.at, evse_uid=e.evse_uid, source="ocpp", status=e.status)
        for e in record.ocpp_statuses
    ] + [
        StatusChange(at=e.at, evse_uid=e.evse_uid, source="ocpi", status=e.status)
        for e in record.ocpi_statuses
    ]
    report = JsonReport(
        report_version=JSON_REPORT_VERSION,
        scenario=started.scenario if started else None,
        source=started.source if started else None,
        seed=started.seed if started else None,
        gateway_url=started.gateway_url if started else None,
        started_at=started.at if started else None,
        finished_at=finished.at if finished else None,
        duration_s=finished.duration_s if finished else None,
        exit_code=finished.exit_code if finished else None,
        verdict=finished.message if finished else None,
        cpo_id=finished.cpo_id if finished else None,
        phases=[PhaseOut.model_validate(p, from_attributes=True) for p in record.phases],
        steps=[StepOut.model_validate(s, from_attributes=True) for s in record.steps],
        checks=[CheckOut.model_validate(c, from_attributes=True) for c in record.checks],
        timeline=sorted(timeline, key=lambda change: change.at),
        ocpi_latency_s=LatencyOut.model_validate(latency_summary(record.latencies_s)),
    )
    return report.model_dump(mode="json")


def to_json(record: RunRecord) -> str:
    """The report as JSON text (UTF-8, indented, stable key order)."""
    return json.dumps(to_dict(record), indent=2, ensure_ascii=False) + "\n"


def report_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) every report of this version validates against."""
    schema = JsonReport.model_json_schema()
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"https://ocpplab.dev/schemas/ocpplab-sim-report-v{JSON_REPORT_VERSION}.json",
        **schema,
    }
