"""What the engine needs from the outside world, as protocols and plain values.

The runner adapts the real charge points, OCPI client and eMSP receiver to these; tests fake them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

__all__ = [
    "ArmedAnswerPort",
    "ChargerPort",
    "CommandAnswer",
    "CommandPort",
    "EvseView",
    "FrameLike",
    "PushSource",
    "PushView",
    "ReportSource",
    "ReportView",
    "StatusSource",
    "TransactionView",
]


class ArmedAnswerPort(Protocol):
    """An answer armed for the next CALL of an action (see ``ChargerPort.answer_next``)."""

    @property
    def answered(self) -> Mapping[str, Any] | None: ...
    def cancel(self) -> bool: ...


class ChargerPort(Protocol):
    """What the engine needs of a simulated charge point (see ocpplab_sim.fleet)."""

    async def start(self) -> None: ...
    async def stop(self) -> None: ...
    async def plug_in(
        self,
        evse: int,
        *,
        ev_max_power_w: float | None = None,
        battery_wh: float | None = None,
        soc_pct: float = 20.0,
    ) -> None: ...
    async def unplug(self, evse: int) -> None: ...
    async def authorize(self, evse: int, id_token: str) -> str: ...
    async def start_charging(self, evse: int, id_token: str) -> None: ...
    async def stop_charging(self, evse: int, reason: str = "Local") -> None: ...
    async def disconnect(self) -> None: ...
    async def reconnect(self) -> None: ...
    async def reboot(self, reason: str = "PowerUp") -> None: ...
    async def set_fault(self, evse: int, faulted: bool, error_code: str = "OtherError") -> None: ...
    async def set_ev_demand(self, evse: int, wants_energy: bool) -> None: ...
    async def set_power_limit(self, evse: int, limit_w: float | None) -> None: ...
    async def set_configuration(self, name: str, value: str) -> bool: ...
    async def send_raw(self, action: str, payload: dict[str, Any]) -> Mapping[str, Any]: ...
    def answer_next(
        self, action: str, payload: dict[str, Any] | None = None, *, status: str | None = None
    ) -> ArmedAnswerPort: ...

    def status(self, evse: int) -> str:
        """The EVSE's status now (1.6 ChargePointStatus vocabulary, for both versions)."""
        ...

    def transaction_id(self, evse: int) -> str | int | None:
        """The id the central system knows the transaction running on ``evse`` by (1.6: an
        integer), or None."""
        ...

    @property
    def queued(self) -> int: ...


@dataclass(frozen=True)
class CommandAnswer:
    """What a charger answered a central-system command: ``outcome`` is ``answered``,
    ``callerror``, ``timeout`` or ``offline`` (the gateway's command API vocabulary)."""

    outcome: str
    response: Mapping[str, Any] | None = None
    error: Mapping[str, Any] | None = None


class CommandPort(Protocol):
    """The central system's operations, as the gateway's command API offers them."""

    async def command(
        self, identity: str, action: str, payload: Mapping[str, Any], timeout_s: float
    ) -> CommandAnswer: ...


@dataclass(frozen=True)
class TransactionView:
    """One transaction the gateway recorded (energy in Wh; ``None`` where it has no figure)."""

    charger: str
    number: int | None
    transaction_id: str | None
    meter_start_wh: float | None
    meter_stop_wh: float | None
    energy_wh: float | None
    stopped: bool


@dataclass(frozen=True)
class ReportView:
    transactions: tuple[TransactionView, ...]
    messages: Mapping[str, int] = field(default_factory=dict)


class ReportSource(Protocol):
    """The gateway's report of the CPO under test."""

    async def report(self) -> ReportView: ...


@dataclass(frozen=True)
class EvseView:
    """One EVSE as the OCPI peer shows it: status and connectors (OCPI field names, 2.2.1)."""

    status: str
    connectors: tuple[Mapping[str, Any], ...] = ()


class StatusSource(Protocol):
    """Where OCPI EVSE states are read from: EVSE uid → view, from one full pull."""

    async def evse_statuses(self) -> Mapping[str, EvseView]: ...


@dataclass(frozen=True)
class PushView:
    """One PUT/PATCH the CPO pushed to the harness's eMSP receiver, as it arrived.

    ``evse_uid`` is ``None`` for a push to a Location; ``problems`` lists what the receiver
    found wrong with it (a missing ``last_updated``, an unknown status, ...).
    """

    at: float
    method: str
    location_id: str
    evse_uid: str | None
    body: Mapping[str, Any]
    problems: tuple[str, ...] = field(default=())


class PushSource(Protocol):
    """Every push received so far, in arrival order."""

    def pushes(self) -> Sequence[PushView]: ...


class FrameLike(Protocol):
    @property
    def at(self) -> float: ...
    @property
    def direction(self) -> str: ...
    @property
    def identity(self) -> str: ...
    @property
    def message(self) -> list[Any]: ...
    @property
    def note(self) -> str | None: ...
