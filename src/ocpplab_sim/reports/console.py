"""Live progress for a person at a terminal, then a summary table and the verdict."""

from __future__ import annotations

import sys
from typing import TextIO

from ocpplab_sim.reports.collector import RunRecord
from ocpplab_sim.reports.json_report import latency_summary
from ocpplab_sim.scenario.execution.events import (
    CheckFinished,
    Event,
    Outcome,
    PhaseFinished,
    PhaseStarted,
    RunFinished,
    RunStarted,
    StepFinished,
)
from ocpplab_sim.terminal import use_color

__all__ = ["ConsoleReporter"]

_MARK = {
    Outcome.PASSED: ("✓", "32"),
    Outcome.FAILED: ("✗", "31"),
    Outcome.ERROR: ("!", "31"),
    Outcome.SKIPPED: ("-", "33"),
}
_NAME_WIDTH = 44


class ConsoleReporter:
    """An EventSink writing one line per event worth a person's attention."""

    def __init__(self, stream: TextIO | None = None, *, color: bool | None = None) -> None:
        self._out = stream or sys.stdout
        # None: NO_COLOR / FORCE_COLOR, else whether the stream is a terminal
        self._color = use_color(self._out) if color is None else color
        self._record = RunRecord()

    def __call__(self, event: Event) -> None:
        self._record(event)
        if isinstance(event, RunStarted):
            where = event.gateway_url or "embedded reference gateway"
            self._line(f"▶ {event.scenario}  ({event.source}, gateway {where}, seed {event.seed})")
        elif isinstance(event, PhaseStarted):
            detail = f": {event.detail}" if event.detail else ""
            if event.kind == "scenario":
                # A plain steps list is one implicit phase, already announced by the run.
                if event.phase != "steps":
                    self._line(f"  ▸ {event.phase}{detail}")
            else:
                self._line(f"  … {event.phase}{detail}")
        elif isinstance(event, PhaseFinished):
            if event.kind == "run":
                self._line(f"  {self._mark(event.outcome)} {event.phase} ({event.duration_s:.2f}s)")
                if event.message:
                    self._line(f"      {event.message}")
        elif isinstance(event, StepFinished):
            text = f"  {self._mark(event.outcome)} step {event.index + 1}: {event.label}"
            if event.outcome is not Outcome.SKIPPED:
                text += f" ({event.duration_s:.2f}s)"
            self._line(text)
            if event.message and event.outcome is not Outcome.PASSED and not event.block:
                self._line(f"      {event.message}")
        elif isinstance(event, CheckFinished):
            result = event.result
            if result.latencies_s:
                worst = max(result.latencies_s.values())
                self._line(f"      OCPP → OCPI latency: max {worst * 1000:.0f} ms")
            for line in result.explanation.splitlines():
                self._line(f"      │ {line}")
        elif isinstance(event, RunFinished):
            self._summary(event)

    def _summary(self, event: RunFinished) -> None:
        record = self._record
        checks = record.checks
        passed = sum(check.outcome is Outcome.PASSED for check in checks)
        self._line("")
        if checks:
            self._line(f"  {'':1} {'check':<{_NAME_WIDTH}} {'took':>7}  {'latency max':>11}")
            for check in checks:
                name = check.name
                if len(name) > _NAME_WIDTH:
                    name = name[: _NAME_WIDTH - 1] + "…"
                worst = max(check.latencies_s.values(), default=None)
                latency = f"{worst * 1000:.0f} ms" if worst is not None else "–"
                self._line(
                    f"  {self._mark(check.outcome)} {name:<{_NAME_WIDTH}} "
                    f"{check.duration_s:>6.2f}s  {latency:>11}"
                )
        self._line(f"  checks: {passed}/{len(checks)} passed")
        figures = latency_summary(record.latencies_s)
        if figures["count"]:
            p50, p95, p99, worst = (
                float(figures[k] or 0) * 1000 for k in ("p50", "p95", "p99", "max")
            )
            self._line(
                f"  OCPP → OCPI latency over {figures['count']} EVSE change(s): "
                f"p50 {p50:.0f} ms, p95 {p95:.0f} ms, p99 {p99:.0f} ms, max {worst:.0f} ms"
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
