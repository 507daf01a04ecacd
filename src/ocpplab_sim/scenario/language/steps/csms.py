"""The central system's side: operations it sends through the gateway's command API (``csms``
as written; ``remote_start``, ``remote_stop``, ``change_availability``, ``reset``, ``unlock``,
``reserve``, ``cancel_reservation`` picked by each charger's version), what it must have sent
(``expect_csms``) and what the gateway reports (``expect_report``). Every step here is
version-neutral: the same file drives OCPP 1.6J and 2.0.1 chargers. The engine's operations
send, poll and judge; these are the steps' models, labels and handlers."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, ClassVar

from pydantic import Field, model_validator

from ocpplab_sim.scenario.language.base import Expectation, StepSpec
from ocpplab_sim.scenario.language.types import (
    ChargerSelection,
    Duration,
    EvseSelection,
    IdToken,
    PositiveDuration,
    Selector,
    Strict,
)

if TYPE_CHECKING:
    from ocpplab_sim.scenario.execution.engine import StepRun
    from ocpplab_sim.scenario.execution.events import CheckResult

__all__ = [
    "STEPS",
    "CancelReservation",
    "ChangeAvailability",
    "CsmsCall",
    "CsmsOperation",
    "ExpectCsms",
    "ExpectReport",
    "RemoteStart",
    "RemoteStop",
    "Reserve",
    "Reset",
    "Respond",
    "Unlock",
]

_ALL = Selector(kind="all")


class _Targets(Expectation):
    """A step aimed at chargers (``chargers``) or at EVSEs (``evse``): exactly one of them."""

    chargers: ChargerSelection | None = None
    evse: EvseSelection | None = None

    @model_validator(mode="after")
    def _one_target(self) -> _Targets:
        if (self.chargers is None) == (self.evse is None):
            raise ValueError(f"{self.key} takes exactly one of chargers or evse")
        return self


class CsmsCall(_Targets):
    """The central system sends ``action`` with ``payload`` (as on the wire) to each selected
    charger through the gateway's command API; the answer's ``status`` must be ``expect``
    (``null``: any answer will do)."""

    key: ClassVar[str] = "csms"
    action: Annotated[str, Field(min_length=1)]
    payload: dict[str, Any] = Field(default_factory=dict)
    expect: str | None = "Accepted"
    answer_within: PositiveDuration = 10.0


class CsmsOperation(Expectation):
    """Base of the version-neutral central-system operations (``expect``: the answer's status)."""

    expect: str | None = "Accepted"
    answer_within: PositiveDuration = 10.0


class RemoteStart(CsmsOperation):
    """RemoteStartTransaction (1.6) / RequestStartTransaction (2.0.1) for each selected EVSE."""

    key: ClassVar[str] = "remote_start"
    evse: EvseSelection
    id_token: IdToken | None = None


class RemoteStop(CsmsOperation):
    """RemoteStopTransaction (1.6) / RequestStopTransaction (2.0.1) of the session running on
    each selected EVSE (its transaction id is taken from the charger's own messages)."""

    key: ClassVar[str] = "remote_stop"
    evse: EvseSelection


class ChangeAvailability(CsmsOperation):
    """ChangeAvailability to Inoperative (``operative: false``) or Operative, for selected EVSEs
    or whole chargers. Answer Scheduled when a session runs; write ``expect: Scheduled`` then."""

    key: ClassVar[str] = "change_availability"
    evse: EvseSelection | None = None
    chargers: ChargerSelection | None = None
    operative: bool

    @model_validator(mode="after")
    def _one_target(self) -> ChangeAvailability:
        if (self.chargers is None) == (self.evse is None):
            raise ValueError("change_availability takes exactly one of chargers or evse")
        return self


class Reset(CsmsOperation):
    """Reset each selected charger: 1.6 Soft/Hard, 2.0.1 OnIdle/Immediate (``hard: true``)."""

    key: ClassVar[str] = "reset"
    chargers: ChargerSelection = _ALL
    hard: bool = False


class Unlock(CsmsOperation):
    """UnlockConnector for each selected EVSE."""

    key: ClassVar[str] = "unlock"
    evse: EvseSelection
    expect: str | None = "Unlocked"


class Reserve(CsmsOperation):
    """ReserveNow on each selected EVSE for ``id_token`` until ``expires_in`` from now;
    ``reservation_id`` defaults to a fresh number per EVSE (remembered for cancel_reservation)."""

    key: ClassVar[str] = "reserve"
    evse: EvseSelection
    id_token: IdToken | None = None
    expires_in: Duration = 900.0
    reservation_id: Annotated[int, Field(ge=1)] | None = None


class CancelReservation(CsmsOperation):
    """CancelReservation of the reservation made on each selected EVSE (or ``reservation_id``)."""

    key: ClassVar[str] = "cancel_reservation"
    evse: EvseSelection
    reservation_id: Annotated[int, Field(ge=1)] | None = None


class Respond(Strict):
    """How the charger answers: ``status`` fills the answer's status field, ``payload`` replaces
    the whole answer (both: the payload with that status). A refusal (e.g. ``Rejected``) skips
    what the request would have done on the charger."""

    status: Annotated[str, Field(min_length=1)] | None = None
    payload: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _something(self) -> Respond:
        if self.status is None and self.payload is None:
            raise ValueError("respond takes status, payload or both")
        return self


class ExpectCsms(_Targets):
    """The central system must send ``action`` to every selected charger (to a selected EVSE's
    number when ``evse`` is given) within the deadline; ``payload`` fields, if written, must
    match. A message counts once: what an earlier ``expect_csms`` matched is not matched again.

    With ``respond`` the answer is armed when the step starts (put the step that makes the
    central system send it next to this one in a ``parallel``): the next CALL of ``action`` each
    target's charger receives gets it, and only CALLs received after the step started count."""

    key: ClassVar[str] = "expect_csms"
    action: Annotated[str, Field(min_length=1)]
    payload: dict[str, Any] = Field(default_factory=dict)
    within: Duration | None = None
    respond: Respond | None = None


class ExpectReport(Expectation):
    """Figures of the gateway's report (``GET /ocpi/cpos/{id}/report``) for the selected EVSEs:
    ``sessions`` transactions counted (``finished_sessions``: of them stopped), and with
    ``energy_tolerance_wh`` every finished transaction's energy (meter values) equal to its
    meter stop minus meter start within that tolerance. Polled until they hold or ``within``."""

    key: ClassVar[str] = "expect_report"
    evse: EvseSelection = _ALL
    sessions: Annotated[int, Field(ge=0)] | None = None
    finished_sessions: Annotated[int, Field(ge=0)] | None = None
    energy_tolerance_wh: Annotated[float, Field(ge=0)] | None = None
    within: Duration | None = None

    @model_validator(mode="after")
    def _something(self) -> ExpectReport:
        if (self.sessions, self.finished_sessions, self.energy_tolerance_wh) == (None,) * 3:
            raise ValueError(
                "expect_report checks at least one of sessions, finished_sessions, "
                "energy_tolerance_wh"
            )
        return self


async def _csms(run: StepRun, step: Any) -> CheckResult:
    return await run.engine.operations.csms(run.index, run.label, step)


async def _expect_csms(run: StepRun, step: ExpectCsms) -> CheckResult:
    return await run.engine.operations.expect_csms(run.index, run.label, step)


async def _expect_report(run: StepRun, step: ExpectReport) -> CheckResult:
    return await run.engine.operations.expect_report(run.index, run.label, step)


_CHARGERS, _EVSE = "chargers", "evse"

STEPS = (
    StepSpec(CsmsCall, _csms, needs_gateway=True),
    StepSpec(RemoteStart, _csms, _EVSE, needs_gateway=True),
    StepSpec(RemoteStop, _csms, _EVSE, needs_gateway=True),
    StepSpec(ChangeAvailability, _csms, needs_gateway=True),
    StepSpec(Reset, _csms, _CHARGERS, needs_gateway=True),
    StepSpec(Unlock, _csms, _EVSE, needs_gateway=True),
    StepSpec(Reserve, _csms, _EVSE, needs_gateway=True),
    StepSpec(CancelReservation, _csms, _EVSE, needs_gateway=True),
    StepSpec(ExpectCsms, _expect_csms),
    StepSpec(ExpectReport, _expect_report, needs_gateway=True),
)
