"""Collect a run's events into one record that the file reports are written from."""

from __future__ import annotations

from dataclasses import dataclass, field

from ocpplab_sim.scenario.execution.events import (
    CheckFinished,
    CheckResult,
    Event,
    OcpiStatusSeen,
    OcppStatusSeen,
    PhaseFinished,
    RunFinished,
    RunStarted,
    StepFinished,
    TopologyKnown,
)

__all__ = ["RunRecord"]


@dataclass
class RunRecord:
    """Everything a finished run said, in order. Feed it every event (it is an EventSink)."""

    started: RunStarted | None = None
    finished: RunFinished | None = None
    phases: list[PhaseFinished] = field(default_factory=list)
    steps: list[StepFinished] = field(default_factory=list)
    checks: list[CheckResult] = field(default_factory=list)
    ocpp_statuses: list[OcppStatusSeen] = field(default_factory=list)
    ocpi_statuses: list[OcpiStatusSeen] = field(default_factory=list)
    topology_evse_uids: tuple[str, ...] = ()

    def __call__(self, event: Event) -> None:
        if isinstance(event, RunStarted):
            self.started = event
        elif isinstance(event, RunFinished):
            self.finished = event
        elif isinstance(event, PhaseFinished):
            self.phases.append(event)
        elif isinstance(event, StepFinished):
            self.steps.append(event)
        elif isinstance(event, CheckFinished):
            self.checks.append(event.result)
        elif isinstance(event, OcppStatusSeen):
            self.ocpp_statuses.append(event)
        elif isinstance(event, OcpiStatusSeen):
            self.ocpi_statuses.append(event)
        elif isinstance(event, TopologyKnown):
            self.topology_evse_uids = event.evse_uids

    @property
    def latencies_s(self) -> list[float]:
        """Every OCPP → OCPI propagation latency measured in the run, in seconds."""
        return [value for check in self.checks for value in check.latencies_s.values()]

    @property
    def evse_uids(self) -> list[str]:
        """Every EVSE the run saw a status for: in topology order (locations, chargers, EVSEs)
        when the run said it, then any other in order of first appearance."""
        changes = [(e.at, e.evse_uid) for e in self.ocpp_statuses]
        changes += [(e.at, e.evse_uid) for e in self.ocpi_statuses]
        seen = dict.fromkeys(uid for _, uid in sorted(changes))
        ordered = [uid for uid in self.topology_evse_uids if uid in seen]
        return ordered + [uid for uid in seen if uid not in set(ordered)]
