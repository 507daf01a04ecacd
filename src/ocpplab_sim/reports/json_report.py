"""The JSON report: the whole run, versioned so consumers can rely on its shape."""

from __future__ import annotations

import json
import statistics
from dataclasses import asdict
from typing import Any

from ocpplab_sim.reports.collector import RunRecord

__all__ = ["JSON_REPORT_VERSION", "latency_summary", "to_json"]

JSON_REPORT_VERSION = 1


def latency_summary(values: list[float]) -> dict[str, float | int | None]:
    """count, p50, p95, p99 and max of ``values`` (seconds); ``None`` figures when empty."""
    if not values:
        return {"count": 0, "p50": None, "p95": None, "p99": None, "max": None}
    ordered = sorted(values)

    def pct(p: float) -> float:
        return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered) + 0.5) - 1))]

    return {
        "count": len(ordered),
        "p50": statistics.median(ordered),
        "p95": pct(95),
        "p99": pct(99),
        "max": ordered[-1],
    }


def to_dict(record: RunRecord) -> dict[str, Any]:
    started, finished = record.started, record.finished
    return {
        "report_version": JSON_REPORT_VERSION,
        "scenario": started.scenario if started else None,
        "source": started.source if started else None,
        "seed": started.seed if started else None,
        "gateway_url": started.gateway_url if started else None,
        "started_at": started.at if started else None,
        "finished_at": finished.at if finished else None,
        "duration_s": finished.duration_s if finished else None,
        "exit_code": finished.exit_code if finished else None,
        "verdict": finished.message if finished else None,
        "cpo_id": finished.cpo_id if finished else None,
        "phases": [asdict(phase) for phase in record.phases],
        "steps": [asdict(step) for step in record.steps],
        "checks": [asdict(check) for check in record.checks],
        "ocpi_latency_s": latency_summary(record.latencies_s),
    }


def to_json(record: RunRecord) -> str:
    """The report as JSON text (UTF-8, indented, stable key order)."""
    return json.dumps(to_dict(record), indent=2, ensure_ascii=False) + "\n"
