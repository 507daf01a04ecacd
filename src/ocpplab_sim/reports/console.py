"""Live progress for a person at a terminal, then a summary."""

from __future__ import annotations

import sys
from typing import TextIO

from ocpplab_sim.reports.collector import RunRecord
from ocpplab_sim.reports.json_report import latency_summary
from ocpplab_sim.scenario.events import (
    CheckFinished,
    Event,
    Outcome,
    PhaseFinished,
    PhaseStarted,
    RunFinished,
    RunStarted,
    StepFinished,
    StepStarted,
)

__all__ = ["ConsoleReporter"]

_MARK = {
    Outcome.PASSED: ("✓", "32"),
    Outcome.FAILED: ("✗", "31"),
    Outcome.ERROR: ("!", "31"),
    Outcome.SKIPPED: ("-", "33"),
}


class ConsoleReporter:
    """An EventSink writing one line per event worth a person's attention."""

    def __init__(self, stream: TextIO | None = None, *, color: bool | None = None) -> None:
        self._out = stream or sys.stdout
        self._color = self._out.isatty() if color is None else color
        self._record = RunRecord()

    def __call__(self, event: Event) -> None:
        self._record(event)
        if isinstance(event, RunStarted):
            where = event.gateway_url or "embedded reference gateway"
            self._line(f"▶ {event.scenario}  ({event.source}, gateway {where}, seed {event.seed})")
        elif isinstance(event, PhaseStarted):
            detail = f": {event.detail}" if event.detail else ""
            self._line(f"  … {event.phase}{detail}")
        elif isinstance(event, PhaseFinished):
            self._line(f"  {self._mark(event.outcome)} {event.phase} ({event.duration_s:.2f}s)")
            if event.message:
                self._line(f"      {event.message}")
        elif isinstance(event, StepStarted):
            pass
        elif isinstance(event, StepFinished):
            text = f"  {self._mark(event.outcome)} step {event.index + 1}: {event.label}"
            if event.outcome is not Outcome.SKIPPED:
                text += f" ({event.duration_s:.2f}s)"
            self._line(text)
            if event.message and event.outcome is not Outcome.PASSED:
                self._line(f"      {event.message}")
        elif isinstance(event, CheckFinished) and event.result.latencies_s:
            worst = max(event.result.latencies_s.values())
            self._line(f"      OCPP → OCPI latency: max {worst * 1000:.0f} ms")
        elif isinstance(event, RunFinished):
            self._summary(event)

    def _summary(self, event: RunFinished) -> None:
        record = self._record
        checks = record.checks
        passed = sum(check.outcome is Outcome.PASSED for check in checks)
        latency = latency_summary(record.latencies_s)
        self._line("")
        self._line(f"  checks: {passed}/{len(checks)} passed")
        if latency["count"]:
            p50, p95, worst = (float(latency[k] or 0) * 1000 for k in ("p50", "p95", "max"))
            self._line(
                f"  OCPP → OCPI latency over {latency['count']} EVSE change(s): "
                f"p50 {p50:.0f} ms, p95 {p95:.0f} ms, max {worst:.0f} ms"
            )
        outcome = Outcome.PASSED if event.exit_code == 0 else Outcome.FAILED
        verdict = "PASSED" if event.exit_code == 0 else "FAILED"
        self._line(
            f"{self._mark(outcome)} {verdict}: {event.message} "
            f"(exit {event.exit_code}, {event.duration_s:.1f}s)"
        )

    def _mark(self, outcome: Outcome) -> str:
        symbol, color = _MARK[outcome]
        return f"\033[{color}m{symbol}\033[0m" if self._color else symbol

    def _line(self, text: str) -> None:
        self._out.write(text + "\n")
        self._out.flush()
