"""What a run emits. Reports (console, JUnit, JSON) are consumers of these events and nothing else.

Every event is a frozen dataclass with the wall-clock time ``at`` (seconds since the epoch) it
happened. The order of a run is::

    RunStarted → PhaseStarted/PhaseFinished* → StepStarted → (CheckFinished)? → StepFinished → …
    → RunFinished

Run phases (``kind="run"``: gateway, provision, ocpi, steps, teardown) frame the scenario's own
phases (``kind="scenario"``: setup, each named phase, teardown steps). Steps of a parallel block
interleave. ``OcppStatusSeen`` and ``OcpiStatusSeen`` record every status change the harness
observed (from the chargers' frames and from the OCPI polls) for timelines.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Literal

__all__ = [
    "CheckFinished",
    "CheckResult",
    "Event",
    "EventSink",
    "OcpiStatusSeen",
    "OcppStatusSeen",
    "Outcome",
    "PhaseFinished",
    "PhaseStarted",
    "RunFinished",
    "RunStarted",
    "StepFinished",
    "StepStarted",
    "TopologyKnown",
]


class Outcome(StrEnum):
    PASSED = "passed"
    FAILED = "failed"  # an expectation was not met
    ERROR = "error"  # something could not be done (an OCPP CALLERROR, an unreachable peer)
    SKIPPED = "skipped"


def _now() -> float:
    return time.time()


@dataclass(frozen=True, kw_only=True)
class RunStarted:
    scenario: str
    source: str
    seed: int
    gateway_url: str | None
    at: float = field(default_factory=_now)


@dataclass(frozen=True, kw_only=True)
class PhaseStarted:
    """A named phase of the run began: provision, connect, ocpi, steps, teardown."""

    phase: str
    detail: str = ""
    kind: Literal["run", "scenario"] = "run"
    at: float = field(default_factory=_now)


@dataclass(frozen=True, kw_only=True)
class PhaseFinished:
    phase: str
    outcome: Outcome
    message: str = ""
    duration_s: float = 0.0
    kind: Literal["run", "scenario"] = "run"
    at: float = field(default_factory=_now)


@dataclass(frozen=True, kw_only=True)
class StepStarted:
    """A step began. ``index`` counts executed steps (a repeated step gets one per run);
    ``path`` is where it is written (``phases[1].steps[0]``), ``line`` its line in the file."""

    index: int
    label: str
    phase: str = ""
    path: str = ""
    line: int | None = None
    at: float = field(default_factory=_now)


@dataclass(frozen=True, kw_only=True)
class StepFinished:
    index: int
    label: str
    outcome: Outcome
    message: str = ""
    duration_s: float = 0.0
    phase: str = ""
    path: str = ""
    line: int | None = None
    block: bool = False  # a parallel/repeat/each block: its outcome is its children's
    at: float = field(default_factory=_now)


@dataclass(frozen=True, kw_only=True)
class CheckResult:
    """One verdict: an expectation on the platform under test.

    ``latencies_s`` maps an EVSE uid to the time from the OCPP message that caused the change to the
    first poll that showed the expected OCPI status (absent when no OCPP message preceded it).
    ``observed`` maps each selected EVSE uid to the last status seen. ``explanation`` is the
    multi-line account of a failure: per EVSE what was expected, what was seen and when, and the
    OCPP messages that led there (``ocpp_messages``: uid → lines, oldest first). ``kind`` is the
    expectation's action key.
    """

    name: str
    step_index: int
    outcome: Outcome
    message: str
    expected: str
    observed: dict[str, str]
    duration_s: float
    latencies_s: dict[str, float] = field(default_factory=dict)
    kind: str = ""
    explanation: str = ""
    ocpp_messages: dict[str, list[str]] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class CheckFinished:
    result: CheckResult
    at: float = field(default_factory=_now)


@dataclass(frozen=True, kw_only=True)
class OcppStatusSeen:
    """A charger reported an EVSE status (StatusNotification), at the time the frame was sent."""

    evse_uid: str
    charger: str
    status: str
    at: float = field(default_factory=_now)


@dataclass(frozen=True, kw_only=True)
class OcpiStatusSeen:
    """An OCPI poll showed an EVSE in a status different from the previous poll."""

    evse_uid: str
    status: str
    at: float = field(default_factory=_now)


@dataclass(frozen=True, kw_only=True)
class TopologyKnown:
    """The network under test is known (provisioned or inline): its EVSEs in topology order
    (locations, chargers, EVSEs — the order selector indexes count)."""

    evse_uids: tuple[str, ...]
    at: float = field(default_factory=_now)


@dataclass(frozen=True, kw_only=True)
class RunFinished:
    """The verdict. ``exit_code``: 0 passed, 1 a check failed, 2 invalid input, 3 unreachable."""

    exit_code: int
    message: str
    duration_s: float
    cpo_id: str | None = None
    at: float = field(default_factory=_now)


Event = (
    RunStarted
    | PhaseStarted
    | PhaseFinished
    | StepStarted
    | StepFinished
    | CheckFinished
    | OcppStatusSeen
    | OcpiStatusSeen
    | TopologyKnown
    | RunFinished
)
EventSink = Callable[[Event], None]
