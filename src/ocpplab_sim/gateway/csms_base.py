"""Plumbing between Starlette websockets and the ``ocpp`` library's ChargePoint.

Every CALL is schema-validated by the library; frames the library cannot even route are
answered here with a CALLERROR (message id ``-1`` when the id is unreadable).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from ocpp.exceptions import OCPPError
from ocpp.messages import Call, CallError, CallResult, MessageType, unpack
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketDisconnected

from .commands import CommandChannel
from .station_store import Station, StationStore

__all__ = ["CentralSystemMixin", "WebSocketConnection"]

logger = logging.getLogger(__name__)


class WebSocketConnection:
    """The ``recv()``/``send()`` interface ``ocpp.ChargePoint`` expects, over Starlette.

    ``recv`` raises :class:`WebSocketDisconnect` once the socket is closed, which ends
    ``ChargePoint.start()``.
    """

    def __init__(self, websocket: WebSocket) -> None:
        self._ws = websocket

    async def recv(self) -> str:
        message = await self._ws.receive()
        if message["type"] == "websocket.disconnect":
            raise WebSocketDisconnect(message.get("code", 1000), message.get("reason"))
        text = message.get("text")
        if text is not None:
            return str(text)
        # OCPP-J uses text frames only; a binary frame is handed on and fails as malformed.
        return bytes(message.get("bytes") or b"").decode("utf-8", errors="replace")

    async def send(self, message: str) -> None:
        await self._ws.send_text(message)


def _frame_error(version: str, raw: str, exc: OCPPError | None, reason: str) -> str:
    """A CALLERROR for a frame that cannot be routed (OCPP-J 1.6 §4.2.3, 2.0.1 Part 4 §4.2.3)."""
    unique_id = "-1"
    try:
        parsed = json.loads(raw)
    except ValueError:
        parsed = None
    if isinstance(parsed, list) and len(parsed) > 1 and isinstance(parsed[1], str):
        unique_id = parsed[1]
    if version == "1.6":
        # OCPP-J 1.6 spells the code "FormationViolation" (sic).
        code = "FormationViolation"
    elif isinstance(parsed, list) and parsed and parsed[0] not in (2, 3, 4):
        code = "MessageTypeNotSupported"
    else:
        code = "RpcFrameworkError"
    details: dict[str, Any] = {"cause": reason}
    if exc is not None and isinstance(exc.details, dict) and "cause" in exc.details:
        details["cause"] = str(exc.details["cause"])
    return CallError(unique_id, code, reason, details).to_json()  # type: ignore[no-any-return]


class CentralSystemMixin:
    """Shared routing for the version-specific central systems in :mod:`.csms_handlers`.

    Counts every routable CALL per action, answers unroutable frames with a CALLERROR (and
    records them as gateway events) and turns any unexpected exception into an
    ``InternalError`` CALLERROR so one bad message never ends the connection.
    CALLRESULT/CALLERROR frames answer the CALLs of :attr:`channel` (the command API);
    unsolicited ones are ignored.
    """

    _ocpp_version: str
    # Provided by ocpp.ChargePoint (declared only, so the library's method is not shadowed).
    _send: Callable[[str], Awaitable[None]]

    def __init__(
        self,
        station: Station,
        connection: WebSocketConnection,
        store: StationStore,
        heartbeat_interval: int,
        clock: Callable[[], datetime],
    ) -> None:
        super().__init__(station.identity, connection)  # type: ignore[call-arg]
        self.station = station
        self.store = store
        self.heartbeat_interval = heartbeat_interval
        self.clock = clock
        self.channel = CommandChannel(self._ocpp_version, self._send)
        self.last_seen = clock()

    def now_text(self) -> str:
        """The current time as an OCPP dateTime (UTC, millisecond precision, ``Z``)."""
        return self.clock().isoformat(timespec="milliseconds").replace("+00:00", "Z")

    async def serve(self) -> None:
        """Handle frames until the websocket closes (raises :class:`WebSocketDisconnect`);
        then fail every command still waiting for an answer."""
        try:
            await super().start()  # type: ignore[misc]
        finally:
            self.channel.close()

    async def _reject(self, raw_msg: str, exc: OCPPError | None, reason: str) -> None:
        await self._send(_frame_error(self._ocpp_version, raw_msg, exc, reason))
        await self.store.event(self.station, "invalid_frame", f"{reason}: {raw_msg[:200]}")

    async def route_message(self, raw_msg: str) -> None:
        self.last_seen = self.clock()
        try:
            msg = unpack(raw_msg)
        except OCPPError as exc:
            await self._reject(raw_msg, exc, "malformed frame")
            return
        if isinstance(msg, CallResult):
            answered = self.channel.resolve([3, msg.unique_id, msg.payload])
        elif isinstance(msg, CallError):
            answered = self.channel.resolve(
                [4, msg.unique_id, msg.error_code, msg.error_description, msg.error_details]
            )
        if msg.message_type_id != MessageType.Call:
            if not answered:
                logger.debug("%s: ignoring unsolicited response %r", self.station.identity, msg)
            return
        if not (
            isinstance(msg.unique_id, str)
            and isinstance(msg.action, str)
            and isinstance(msg.payload, dict)
        ):
            await self._reject(raw_msg, None, "CALL elements have wrong types")
            return
        try:
            await self.store.count(self.station, msg.action)
            await super().route_message(raw_msg)  # type: ignore[misc]
        except (WebSocketDisconnect, WebSocketDisconnected):
            raise
        except Exception as exc:
            logger.exception("%s: failed to handle %s", self.station.identity, msg.action)
            error = Call(msg.unique_id, msg.action, msg.payload).create_call_error(exc)
            await self._send(error.to_json())

    async def _handle_call(self, msg: Call) -> None:
        # The library answers schema violations and unknown actions with a CALLERROR by
        # raising OCPPError here; record them before it does.
        try:
            await super()._handle_call(msg)  # type: ignore[misc]
        except OCPPError as exc:
            detail = f"{msg.action}: {type(exc).__name__}: {exc.description}"
            await self.store.event(self.station, "rejected_call", detail)
            raise
