"""Central-system-initiated OCPP operations: the machinery behind the HTTP command API.

A :class:`CommandChannel` belongs to one live charger websocket. :meth:`CommandChannel.call`
sends one CALL and waits for the matching CALLRESULT/CALLERROR; calls are serialised because
OCPP-J allows one outstanding CALL per direction (OCPP-J 1.6 §4.1.1, 2.0.1 Part 4 §4.1.1).
:func:`validate_request` checks that an action is one the central system may send for the
charger's version and that the payload matches the official JSON schema.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from ocpp.messages import MessageType, get_validator

__all__ = [
    "CSMS_ACTIONS",
    "CommandChannel",
    "CommandOutcome",
    "Disconnected",
    "schema_errors",
    "validate_request",
]

# Operations initiated by the central system (OCPP 1.6 edition 2 §5 plus the 1.6 security
# whitepaper; OCPP 2.0.1 Part 2 messages sent CSMS → charging station).
CSMS_ACTIONS: Final[dict[str, frozenset[str]]] = {
    "1.6": frozenset(
        {
            "CancelReservation",
            "CertificateSigned",
            "ChangeAvailability",
            "ChangeConfiguration",
            "ClearCache",
            "ClearChargingProfile",
            "DataTransfer",
            "DeleteCertificate",
            "ExtendedTriggerMessage",
            "GetCompositeSchedule",
            "GetConfiguration",
            "GetDiagnostics",
            "GetInstalledCertificateIds",
            "GetLocalListVersion",
            "GetLog",
            "InstallCertificate",
            "RemoteStartTransaction",
            "RemoteStopTransaction",
            "ReserveNow",
            "Reset",
            "SendLocalList",
            "SetChargingProfile",
            "SignedUpdateFirmware",
            "TriggerMessage",
            "UnlockConnector",
            "UpdateFirmware",
        }
    ),
    "2.0.1": frozenset(
        {
            "CancelReservation",
            "CertificateSigned",
            "ChangeAvailability",
            "ClearCache",
            "ClearChargingProfile",
            "ClearDisplayMessage",
            "ClearVariableMonitoring",
            "CostUpdated",
            "CustomerInformation",
            "DataTransfer",
            "DeleteCertificate",
            "GetBaseReport",
            "GetChargingProfiles",
            "GetCompositeSchedule",
            "GetDisplayMessages",
            "GetInstalledCertificateIds",
            "GetLocalListVersion",
            "GetLog",
            "GetMonitoringReport",
            "GetReport",
            "GetTransactionStatus",
            "GetVariables",
            "InstallCertificate",
            "PublishFirmware",
            "RequestStartTransaction",
            "RequestStopTransaction",
            "ReserveNow",
            "Reset",
            "SendLocalList",
            "SetChargingProfile",
            "SetDisplayMessage",
            "SetMonitoringBase",
            "SetMonitoringLevel",
            "SetNetworkProfile",
            "SetVariableMonitoring",
            "SetVariables",
            "TriggerMessage",
            "UnlockConnector",
            "UnpublishFirmware",
            "UpdateFirmware",
        }
    ),
}

CommandStatus = Literal["answered", "callerror", "timeout", "offline"]


class Disconnected(ConnectionError):
    """The websocket closed before the charger answered."""


def schema_errors(version: str, action: str, payload: object, *, response: bool) -> list[str]:
    """Violations of the official schema of ``action``'s request (or response); [] if valid."""
    # The ocpp package's cached Draft 4 validators of the official schemas.
    validator = get_validator(
        MessageType.CallResult if response else MessageType.Call, action, version
    )
    found = []
    for error in sorted(validator.iter_errors(payload), key=lambda e: list(e.absolute_path)):
        where = "/".join(str(p) for p in error.absolute_path)
        found.append(f"{where or '(payload)'}: {error.message}")
    return found


def validate_request(version: str, action: str, payload: dict[str, Any]) -> list[dict[str, Any]]:
    """FastAPI-style error entries (``loc``, ``msg``, ``type``) for an action the central
    system cannot send to a ``version`` charger or a payload that breaks its schema."""
    allowed = CSMS_ACTIONS[version]
    if action not in allowed:
        msg = f"{action!r} is not an OCPP {version} operation the central system can send"
        return [{"loc": ["body", "action"], "msg": msg, "type": "value_error", "input": action}]
    return [
        {"loc": ["body", "payload"], "msg": text, "type": "ocpp_schema", "input": payload}
        for text in schema_errors(version, action, payload, response=False)
    ]


@dataclass
class CommandOutcome:
    """What became of one CALL."""

    status: CommandStatus
    message_id: str | None = None
    response: dict[str, Any] | None = None
    error: dict[str, Any] | None = None
    response_valid: bool | None = None


async def _closed_send(message: str) -> None:
    raise Disconnected("the charger disconnected")


@dataclass
class CommandChannel:
    """CALLs from the central system to one connected charger.

    ``send`` writes a text frame to the websocket. The receiving loop hands every
    CALLRESULT/CALLERROR frame to :meth:`resolve`; :meth:`close` fails whatever is waiting.
    """

    version: str
    send: Callable[[str], Awaitable[None]]
    _pending: dict[str, asyncio.Future[list[Any]]] = field(default_factory=dict)
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    _closed: bool = False

    def resolve(self, frame: list[Any]) -> bool:
        """Deliver a CALLRESULT/CALLERROR frame; False if no CALL is waiting for its id."""
        waiter = self._pending.pop(str(frame[1]), None) if len(frame) > 1 else None
        if waiter is None or waiter.done():
            return False
        waiter.set_result(frame)
        return True

    def close(self) -> None:
        """The socket is gone: every waiting CALL ends as :class:`Disconnected`."""
        self._closed = True
        for waiter in self._pending.values():
            if not waiter.done():
                waiter.set_exception(Disconnected("the charger disconnected"))
        self._pending.clear()
        # ``send`` is a bound method of the central system that owns this channel: dropping it
        # breaks the cycle, so a closed session is freed at once, not by the cyclic collector.
        self.send = _closed_send

    async def call(self, action: str, payload: dict[str, Any], wait_s: float) -> CommandOutcome:
        """Send ``[2, id, action, payload]`` and wait up to ``wait_s`` seconds (queueing behind
        an earlier CALL counts) for the answer."""
        message_id = str(uuid.uuid4())
        try:
            async with asyncio.timeout(wait_s), self._lock:
                if self._closed:
                    raise Disconnected("the charger disconnected")
                waiter: asyncio.Future[list[Any]] = asyncio.get_running_loop().create_future()
                self._pending[message_id] = waiter
                try:
                    await self.send(json.dumps([2, message_id, action, payload]))
                    frame = await waiter
                finally:
                    self._pending.pop(message_id, None)
        except TimeoutError:
            return CommandOutcome("timeout", message_id, error={"description": "no answer"})
        except (Disconnected, OSError, RuntimeError) as exc:
            return CommandOutcome("offline", message_id, error={"description": str(exc)})
        if frame[0] == MessageType.CallResult and len(frame) == 3 and isinstance(frame[2], dict):
            problems = schema_errors(self.version, action, frame[2], response=True)
            return CommandOutcome(
                "answered",
                message_id,
                response=frame[2],
                error=None if not problems else {"description": "; ".join(problems)},
                response_valid=not problems,
            )
        if frame[0] == MessageType.CallError and len(frame) >= 4:
            details = frame[4] if len(frame) > 4 and isinstance(frame[4], dict) else {}
            error = {"code": frame[2], "description": frame[3], "details": details}
            return CommandOutcome("callerror", message_id, error=error)
        return CommandOutcome(
            "callerror",
            message_id,
            error={"code": "FormationViolation", "description": f"malformed answer {frame!r}"},
        )
