"""What every version adapter offers, and the version-neutral commands it hands back.

An adapter is sans-I/O and version-specific: it turns station intents into OCPP CALLs, reads the
central system's answers, and answers incoming CALLs. When an incoming CALL must change the
station (start a transaction, reset, …) the adapter only *describes* the change as a
:data:`Command`; its owner answers the CALL first and then carries the command out, because
OCPP-J requires the answer before any CALL the change causes (e.g. StartTransaction after
RemoteStartTransaction, OCPP 1.6 §5.11).
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from ocpplab_sim.protocol.rpc import CallErrorReply
from ocpplab_sim.protocol.schemas import Version, has_schema
from ocpplab_sim.station import Intent, Station, StatusChanged

__all__ = [
    "Adapter",
    "AvailabilityChange",
    "BootResult",
    "Command",
    "Deauthorize",
    "IncomingResult",
    "OutgoingCall",
    "RemoteStart",
    "RemoteStop",
    "ResetRequested",
    "Settings",
    "SettingsChanged",
    "TriggerRequested",
    "iso",
]

Payload = dict[str, Any]


def iso(timestamp: float) -> str:
    """Epoch seconds as the UTC ``date-time`` string both OCPP versions use."""
    text = datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="milliseconds")
    return text.replace("+00:00", "Z")


@dataclass
class Settings:
    """Mutable configuration shared by adapter and owner (1.6 keys / 2.0.1 variables)."""

    heartbeat_interval_s: float = 300.0
    meter_interval_s: float = 10.0
    authorize_remote_start: bool = False


@dataclass(frozen=True, slots=True)
class OutgoingCall:
    """A CALL to send. ``intent`` is the station intent it came from, if any."""

    action: str
    payload: Payload
    intent: Intent | None = None


@dataclass(frozen=True, slots=True)
class BootResult:
    status: Literal["Accepted", "Pending", "Rejected"]
    interval_s: float


@dataclass(frozen=True, slots=True)
class RemoteStart:
    evse: int
    id_token: str
    id_token_type: str = "ISO14443"
    remote_start_id: int | None = None


@dataclass(frozen=True, slots=True)
class RemoteStop:
    evse: int


@dataclass(frozen=True, slots=True)
class ResetRequested:
    """``immediate``: stop transactions now (1.6 Hard/Soft, 2.0.1 Immediate); otherwise wait
    until no transaction runs (2.0.1 OnIdle, Part 2 B12)."""

    immediate: bool
    hard: bool = False


@dataclass(frozen=True, slots=True)
class AvailabilityChange:
    evse: int
    operative: bool


@dataclass(frozen=True, slots=True)
class SettingsChanged:
    names: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class TriggerRequested:
    message: Literal["BootNotification", "Heartbeat", "StatusNotification", "MeterValues"]
    evse: int | None = None


@dataclass(frozen=True, slots=True)
class Deauthorize:
    """The central system refused the token of a running transaction: stop it (DeAuthorized)."""

    evse: int
    transaction_id: str


Command = (
    RemoteStart
    | RemoteStop
    | ResetRequested
    | AvailabilityChange
    | SettingsChanged
    | TriggerRequested
    | Deauthorize
)


@dataclass(frozen=True, slots=True)
class IncomingResult:
    """The CALLRESULT payload to answer with, and what to do once it is sent."""

    payload: Payload
    commands: tuple[Command, ...] = field(default=())


class Adapter(abc.ABC):
    """Base of the 1.6 and 2.0.1 adapters. One instance per charge point (it is stateful:
    transaction id mapping, sequence numbers, the last status sent per EVSE)."""

    version: Version
    subprotocol: str

    def __init__(self, station: Station, settings: Settings) -> None:
        self.station = station
        self.settings = settings
        self._sent_status: dict[int, str] = {}

    # -- charge point → central system -----------------------------------------------------

    @abc.abstractmethod
    def boot_notification(
        self, vendor: str, model: str, *, reason: str = "PowerUp"
    ) -> OutgoingCall:
        """BootNotification (1.6 §4.2, 2.0.1 Part 2 B01)."""

    def heartbeat(self) -> OutgoingCall:
        """Heartbeat (1.6 §4.6, 2.0.1 Part 2 G02): an empty request in both versions."""
        return OutgoingCall("Heartbeat", {})

    @abc.abstractmethod
    def authorize(self, id_token: str) -> OutgoingCall:
        """Authorize (1.6 §4.1, 2.0.1 Part 2 C01)."""

    @abc.abstractmethod
    def authorize_status(self, response: Payload) -> str:
        """The authorization status in an Authorize answer ("Accepted", "Invalid", …)."""

    def boot_result(self, response: Payload) -> BootResult:
        status = response.get("status", "Rejected")
        if status not in ("Accepted", "Pending", "Rejected"):
            status = "Rejected"
        return BootResult(status, float(response.get("interval", 0)))

    def translate(self, intent: Intent) -> list[OutgoingCall]:
        """The CALLs that deliver ``intent``; may be empty (nothing to tell in this version)."""
        if isinstance(intent, StatusChanged):
            call = self._status_notification(intent)
            if call is None:
                return []
            key = str(call.payload.get("status", call.payload.get("connectorStatus", "")))
            if self._sent_status.get(intent.evse) == key:
                return []
            self._sent_status[intent.evse] = key
            return [call]
        return self._translate_transaction(intent)

    def forget_sent_statuses(self) -> None:
        """After a (re)connect every status must be sent again, even an unchanged one."""
        self._sent_status.clear()

    def on_result(self, call: OutgoingCall, response: Payload) -> list[Command]:
        """Digest the answer to ``call``; returns commands (e.g. :class:`Deauthorize`)."""
        return []

    @abc.abstractmethod
    def _status_notification(self, intent: StatusChanged) -> OutgoingCall | None: ...

    @abc.abstractmethod
    def _translate_transaction(self, intent: Intent) -> list[OutgoingCall]: ...

    # -- central system → charge point -----------------------------------------------------

    def handle(self, action: str, payload: Payload) -> IncomingResult:
        """Answer an incoming CALL (already schema-checked when strict).

        Raises :class:`CallErrorReply`: ``NotSupported`` for an action of this version that the
        simulator does not implement, ``NotImplemented`` for an unknown action (OCPP-J §4.2.3).
        """
        # The "on_" prefix plus isalnum keeps a hostile action name away from other attributes.
        method = getattr(self, f"on_{action}", None) if action.isalnum() else None
        if method is None:
            if has_schema(self.version, action):
                raise CallErrorReply("NotSupported", f"{action} is not supported by this simulator")
            raise CallErrorReply("NotImplemented", f"unknown action {action}")
        result: IncomingResult = method(payload)
        return result

    def on_DataTransfer(self, payload: Payload) -> IncomingResult:
        """DataTransfer (1.6 §5.6, 2.0.1 Part 2 P01): no vendor extensions are known."""
        return IncomingResult({"status": "UnknownVendorId"})

    def _evse_can_start(self, number: int) -> bool:
        evse = self.station.evse(number)
        return evse.transaction is None and evse.operative and not evse.faulted
