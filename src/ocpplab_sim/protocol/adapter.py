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
import math
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, NamedTuple

from ocpplab_sim.protocol.rpc import CallErrorReply
from ocpplab_sim.protocol.schemas import Version, has_schema
from ocpplab_sim.protocol.settings import Settings
from ocpplab_sim.station import Intent, Station, StatusChanged

__all__ = [
    "Adapter",
    "AvailabilityChange",
    "BootResult",
    "Command",
    "Deauthorize",
    "FirmwareUpdate",
    "IncomingResult",
    "LogUpload",
    "OutgoingCall",
    "RemoteStart",
    "RemoteStop",
    "ReportRequested",
    "ResetRequested",
    "Settings",
    "SettingsChanged",
    "TriggerRequested",
    "iso",
]

Payload = dict[str, Any]


VENDOR_ID = "ocpplab"


_iso_second: tuple[float, str] = (math.nan, "")  # the last whole second formatted


def iso(timestamp: float) -> str:
    """Epoch seconds as the UTC ``date-time`` string both OCPP versions use, to the
    millisecond (what ``datetime.isoformat(timespec="milliseconds")`` gives, with ``Z``).

    Each whole second is formatted once: a load run stamps thousands of messages a second.
    """
    global _iso_second
    fraction, second = math.modf(timestamp)
    micros = round(fraction * 1e6)  # as datetime.fromtimestamp rounds (half to even)
    if micros < 0:
        micros += 1_000_000
        second -= 1.0
    elif micros >= 1_000_000:
        micros -= 1_000_000
        second += 1.0
    cached = _iso_second  # one read: another thread may replace it meanwhile
    if second != cached[0]:
        cached = _iso_second = (
            second,
            datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%S"),
        )
    return f"{cached[1]}.{micros // 1000:03d}Z"


class OutgoingCall(NamedTuple):
    """A CALL to send. ``intent`` is the station intent it came from, if any. (A named tuple:
    one is made for every call.)"""

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
    until no transaction runs (2.0.1 OnIdle, Part 2 B12). ``evse``: reset only that EVSE
    (2.0.1 ResetRequest ``evseId``), waiting for its own transaction only."""

    immediate: bool
    hard: bool = False
    evse: int | None = None


@dataclass(frozen=True, slots=True)
class AvailabilityChange:
    evse: int
    operative: bool


@dataclass(frozen=True, slots=True)
class SettingsChanged:
    names: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class TriggerRequested:
    """Send ``message`` now (1.6 §5.17; 2.0.1 F06). ``MeterValues`` is a 1.6 MeterValues or a
    2.0.1 TransactionEvent (Trigger); ``MeterValues201`` is a 2.0.1 MeterValuesRequest."""

    message: Literal[
        "BootNotification",
        "Heartbeat",
        "StatusNotification",
        "MeterValues",
        "MeterValues201",
        "FirmwareStatusNotification",
        "UploadStatusNotification",
    ]
    evse: int | None = None


@dataclass(frozen=True, slots=True)
class FirmwareUpdate:
    """Download and install firmware from ``location`` at ``retrieve_at`` (1.6 §5.19;
    2.0.1 L01), reporting FirmwareStatusNotification, then reboot."""

    location: str
    retrieve_at: float
    request_id: int | None = None


@dataclass(frozen=True, slots=True)
class LogUpload:
    """Upload diagnostics (1.6 §5.9 GetDiagnostics) or a log (2.0.1 N01 GetLog) to
    ``location``, reporting Diagnostics-/LogStatusNotification."""

    location: str
    file_name: str
    request_id: int | None = None


@dataclass(frozen=True, slots=True)
class ReportRequested:
    """Send NotifyReport for GetBaseReport ``request_id`` (2.0.1 B07)."""

    request_id: int
    report_base: str


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
    | FirmwareUpdate
    | LogUpload
    | ReportRequested
)


@dataclass(frozen=True, slots=True)
class IncomingResult:
    """The CALLRESULT payload to answer with, and what to do once it is sent: ``intents`` the
    station produced while the CALL was handled (deliver them), then ``commands``."""

    payload: Payload
    commands: tuple[Command, ...] = field(default=())
    intents: tuple[Intent, ...] = field(default=())


class Adapter(abc.ABC):
    """Base of the 1.6 and 2.0.1 adapters. One instance per charge point (it is stateful:
    transaction id mapping, sequence numbers, the last status sent per EVSE)."""

    version: Version
    subprotocol: str
    #: the TriggerMessage names of the version and what each sends (see TriggerRequested)
    triggerable: dict[str, str]

    def __init__(self, station: Station, settings: Settings) -> None:
        self.station = station
        self.settings = settings
        self.settings.evse_count = len(station.evse_numbers)
        self._sent_status: dict[int, str] = {}
        self._now = 0.0
        self.firmware_status = "Idle"
        self.upload_status = "Idle"
        self.firmware_request_id: int | None = None
        self.upload_request_id: int | None = None
        # The owner tells which transactions still have messages queued (2.0.1 E14).
        self.queued_transactions: Callable[[], Collection[str]] = frozenset

    # -- persistence -----------------------------------------------------------------------

    def snapshot(self) -> dict[str, object]:
        """State that must survive a harness restart for queued messages to stay valid
        (1.6 transaction ids, 2.0.1 seqNo); see :meth:`restore`."""
        return {}

    def restore(self, state: dict[str, object]) -> None:  # noqa: B027 - optional hook
        """Take back a :meth:`snapshot`."""

    def transaction_id_on_wire(self, transaction_id: str) -> str | int | None:
        """The id the central system knows a station transaction by (2.0.1: the station's
        own; 1.6: the integer of the StartTransaction answer, None until it came)."""
        return transaction_id

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

    @abc.abstractmethod
    def firmware_status_notification(self, status: str) -> OutgoingCall:
        """FirmwareStatusNotification (1.6 §4.5, 2.0.1 L01); remembers the status."""

    @abc.abstractmethod
    def upload_status_notification(self, status: str) -> OutgoingCall:
        """1.6 DiagnosticsStatusNotification (§4.4) / 2.0.1 LogStatusNotification (N01)."""

    def data_transfer(
        self, vendor_id: str, message_id: str | None, data: str | None
    ) -> OutgoingCall:
        """DataTransfer from the charge point (1.6 §4.3, 2.0.1 P02)."""
        payload: Payload = {"vendorId": vendor_id}
        if message_id is not None:
            payload["messageId"] = message_id
        if data is not None:
            payload["data"] = data
        return OutgoingCall("DataTransfer", payload)

    def security_event_notification(
        self, event: str, timestamp: float, tech_info: str | None = None
    ) -> OutgoingCall:
        """SecurityEventNotification (2.0.1 Part 2 A04; 1.6 Security Whitepaper §8, same
        payload). ``event`` is a name of the 2.0.1 security events list; an adapter renames
        it where its version's list differs."""
        payload: Payload = {
            "type": self._security_event_name(event)[:50],
            "timestamp": iso(timestamp),
        }
        if tech_info:
            payload["techInfo"] = tech_info[:255]
        return OutgoingCall("SecurityEventNotification", payload)

    def _security_event_name(self, event: str) -> str:
        return event

    def measurands(self) -> tuple[str, ...]:
        """MeterValuesSampledData / TxUpdatedMeasurands as configured."""
        return self.settings.measurands

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
        """Digest the answer to ``call``, a CALL made for a station intent (the session asks for
        no other: a plain CALL has nothing to tell the adapter); returns commands (e.g.
        :class:`Deauthorize`)."""
        return []

    @abc.abstractmethod
    def _status_notification(self, intent: StatusChanged) -> OutgoingCall | None: ...

    @abc.abstractmethod
    def _translate_transaction(self, intent: Intent) -> list[OutgoingCall]: ...

    # -- central system → charge point -----------------------------------------------------

    def handle(self, action: str, payload: Payload, now: float = 0.0) -> IncomingResult:
        """Answer an incoming CALL (already schema-checked when strict).

        Raises :class:`CallErrorReply`: ``NotSupported`` for an action of this version that the
        simulator does not implement, ``NotImplemented`` for an unknown action (OCPP-J §4.2.3).
        """
        self._now = now
        # The "on_" prefix plus isalnum keeps a hostile action name away from other attributes.
        method = getattr(self, f"on_{action}", None) if action.isalnum() else None
        if method is None:
            if has_schema(self.version, action):
                raise CallErrorReply("NotSupported", f"{action} is not supported by this simulator")
            raise CallErrorReply("NotImplemented", f"unknown action {action}")
        result: IncomingResult = method(payload)
        return result

    def on_DataTransfer(self, payload: Payload) -> IncomingResult:
        """DataTransfer (1.6 §5.6, 2.0.1 Part 2 P01). Vendor ``ocpplab`` knows the message id
        ``echo`` (answers the data back); any other vendor is unknown."""
        if payload.get("vendorId") != VENDOR_ID:
            return IncomingResult({"status": "UnknownVendorId"})
        if payload.get("messageId") != "echo":
            return IncomingResult({"status": "UnknownMessageId"})
        answer: Payload = {"status": "Accepted"}
        if "data" in payload:
            answer["data"] = payload["data"]
        return IncomingResult(answer)

    def on_ClearCache(self, payload: Payload) -> IncomingResult:
        """ClearCache (1.6 §5.4, 2.0.1 C11): Rejected when the cache is disabled."""
        if not self.settings.auth_cache_enabled:
            return IncomingResult({"status": "Rejected"})
        self.station.auth.clear_cache()
        return IncomingResult({"status": "Accepted"})

    def on_CancelReservation(self, payload: Payload) -> IncomingResult:
        """CancelReservation (1.6 §5.1, 2.0.1 H02)."""
        found, intents = self.station.cancel_reservation(int(payload["reservationId"]), self._now)
        return IncomingResult(
            {"status": "Accepted" if found else "Rejected"}, intents=tuple(intents)
        )

    def _evse_can_start(self, number: int, id_token: str | None = None) -> bool:
        return self.station.can_start(number, id_token)
