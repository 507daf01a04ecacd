"""Plumbing between Starlette websockets and the ``ocpp`` library's ChargePoint.

Every CALL's payload is checked against its official schema by a compiled validator
(:mod:`.schemas`; a refused payload gets the library's own verdict and error code); frames the
library cannot even route are
answered here with a CALLERROR (message id ``-1`` when the id is unreadable). Before the library
sees a frame it passes :func:`check_frame`: JSON nested at most ``max_depth`` deep, numbers of
at most ``max_digits`` characters, an integer message type, a message id of 1-36 characters
(OCPP-J 1.6 §4.1.2/2.0.1 Part 4 §4.1.2). A frame too deep or with too long a number whose
message id can be read gets a CALLERROR; otherwise the socket is closed with 1007. Binary
frames (OCPP-J uses text frames only) close the socket with 1003. Every log line of a session is
cut at :data:`LOG_LINE_CHARS` characters.
"""

from __future__ import annotations

import functools
import inspect
import json
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import fastjsonschema
from ocpp.charge_point import (
    camel_to_snake_case,
    remove_nones,
    serialize_as_dict,
    snake_to_camel_case,
)
from ocpp.exceptions import NotImplementedError as OcppNotImplemented
from ocpp.exceptions import NotSupportedError, OCPPError
from ocpp.messages import Call, CallError, CallResult, MessageType, unpack, validate_payload
from ocpp.v16.enums import Action as Action16
from ocpp.v201.enums import Action as Action201
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketDisconnected

from .commands import CommandChannel
from .schemas import request_validator
from .station_store import Station, StationStore

__all__ = [
    "LOG_LINE_CHARS",
    "MAX_ACTION_CHARS",
    "MAX_MESSAGE_ID_CHARS",
    "CentralSystemMixin",
    "FrameRefusal",
    "WebSocketConnection",
    "check_frame",
    "clip",
]

#: Longest message id OCPP-J allows (1.6 §4.1.2, 2.0.1 Part 4 §4.1.2: string of max. 36).
MAX_MESSAGE_ID_CHARS = 36
#: Longest action name echoed or stored (the longest OCPP 2.0.1 action has 32 characters).
MAX_ACTION_CHARS = 64
#: Longest log line of a charger session; the rest is replaced by a marker.
LOG_LINE_CHARS = 2000


def clip(text: str, limit: int) -> str:
    """``text`` cut at ``limit`` characters with a marker saying how much was dropped."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}...[{len(text) - limit} more characters]"


class _ClipLines(logging.Filter):
    """Cuts a record's message and traceback at :data:`LOG_LINE_CHARS` characters (frames
    reach the log whole otherwise, e.g. an 8 MB action name four times per frame)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if len(message) > LOG_LINE_CHARS:
            record.msg, record.args = clip(message, LOG_LINE_CHARS), None
        if record.exc_info and not record.exc_text:
            record.exc_text = clip(
                logging.Formatter().formatException(record.exc_info), LOG_LINE_CHARS
            )
        return True


def _clipped_logger(name: str) -> logging.Logger:
    log = logging.getLogger(name)
    if not any(isinstance(f, _ClipLines) for f in log.filters):
        log.addFilter(_ClipLines())
    return log


logger = _clipped_logger(__name__)
#: The logger the ``ocpp`` library writes through for the gateway's sessions.
ocpp_logger = _clipped_logger("ocpplab_sim.gateway.ocpp")


@dataclass(frozen=True)
class FrameRefusal:
    """Why :func:`check_frame` refused a frame; ``unique_id`` None: the id cannot be read;
    ``fatal``: too deep or too long a number without a readable id (the socket is closed)."""

    reason: str
    unique_id: str | None
    fatal: bool = False


_ACTIONS = {
    "1.6": frozenset(action.value for action in Action16),
    "2.0.1": frozenset(action.value for action in Action201),
}


class _TooLong(ValueError):
    pass


_LEADING_ID = re.compile(r'\s*\[\s*[-+0-9.eE]{1,20}\s*,\s*"([^"\\]{1,36})"')


def _depth(value: object, limit: int) -> bool:
    """True if ``value`` nests no deeper than ``limit`` (iterative: no recursion)."""
    stack: list[tuple[object, int]] = [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, (list, dict)):
            if level > limit:
                return False
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, level + 1) for child in children)
    return True


def check_frame(raw: str, max_depth: int, max_digits: int) -> FrameRefusal | None:
    """None if the library may parse ``raw``; else why not. Frames that are not JSON at all
    pass (the library answers them)."""

    def number(text: str) -> float | int:
        if len(text) > max_digits:
            raise _TooLong(f"a number longer than {max_digits} characters")
        return float(text) if any(c in text for c in ".eE") else int(text)

    def constant(text: str) -> float:
        raise ValueError(f"{text} is not JSON")

    try:
        parsed = json.loads(raw, parse_int=number, parse_float=number, parse_constant=constant)
    except RecursionError:
        problem = f"JSON nested deeper than {max_depth}"
    except _TooLong as exc:
        problem = str(exc)
    except ValueError:
        return None
    else:
        if not _depth(parsed, max_depth + 1):
            problem = f"JSON nested deeper than {max_depth}"
        elif isinstance(parsed, list) and parsed:
            return _check_elements(parsed)
        else:
            return None
    found = _LEADING_ID.match(raw)
    if found is None:
        return FrameRefusal(problem, None, fatal=True)
    return FrameRefusal(problem, found.group(1))


def _check_elements(frame: list[Any]) -> FrameRefusal | None:
    unique_id = frame[1] if len(frame) > 1 else None
    readable = (
        unique_id
        if isinstance(unique_id, str) and 0 < len(unique_id) <= MAX_MESSAGE_ID_CHARS
        else None
    )
    if type(frame[0]) is not int:
        return FrameRefusal("the message type is not an integer", readable)
    if len(frame) > 1 and readable is None:
        return FrameRefusal(f"the message id is not a string of 1-{MAX_MESSAGE_ID_CHARS}", None)
    return None


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
        # OCPP-J uses text frames only (1.6 §3, 2.0.1 Part 4 §3.3): 1003 "unsupported data".
        reason = "OCPP-J accepts text frames only"
        await self._ws.close(code=1003, reason=reason)
        raise WebSocketDisconnect(1003, reason)

    async def close(self, code: int, reason: str) -> None:
        await self._ws.close(code=code, reason=reason)

    async def send(self, message: str) -> None:
        await self._ws.send_text(message)


def _frame_error(
    version: str, raw: str, exc: OCPPError | None, reason: str, unique_id: str | None = None
) -> str:
    """A CALLERROR for a frame that cannot be routed (OCPP-J 1.6 §4.2.3, 2.0.1 Part 4 §4.2.3);
    ``raw`` has passed :func:`check_frame` unless ``unique_id`` is given."""
    parsed: object = None
    if unique_id is None:
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
    elif (
        isinstance(parsed, list)
        and parsed
        and type(parsed[0]) is int
        and parsed[0] not in (2, 3, 4)
    ):
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
    route_map: dict[str, dict[str, Any]]

    def __init__(
        self,
        station: Station,
        connection: WebSocketConnection,
        store: StationStore,
        heartbeat_interval: int,
        clock: Callable[[], datetime],
        *,
        max_depth: int = 32,
        max_digits: int = 50,
    ) -> None:
        super().__init__(station.identity, connection, logger=ocpp_logger)  # type: ignore[call-arg]
        self.connection = connection
        self.max_depth = max_depth
        self.max_digits = max_digits
        self.station = station
        self.store = store
        self.heartbeat_interval = heartbeat_interval
        self.clock = clock
        self.channel = CommandChannel(self._ocpp_version, self._send)
        self.last_seen = clock()
        # Requests are validated in _handle_call (compiled validators, see .schemas); the
        # library's own validation runs only for a payload they refuse.
        for handlers in self.route_map.values():
            handlers["_skip_schema_validation"] = True

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
            # The route map holds bound methods of this object: a cycle per session. Breaking
            # it frees a closed session by reference counting; left to the cyclic collector,
            # thousands of closed sessions made full collections of a second or more.
            self.route_map = {}

    async def _reject(
        self, raw_msg: str, exc: OCPPError | None, reason: str, unique_id: str | None = None
    ) -> None:
        await self._send(_frame_error(self._ocpp_version, raw_msg, exc, reason, unique_id))
        await self.store.event(self.station, "invalid_frame", f"{reason}: {clip(raw_msg, 200)}")

    async def route_message(self, raw_msg: str) -> None:
        self.last_seen = self.clock()
        refusal = check_frame(raw_msg, self.max_depth, self.max_digits)
        if refusal is not None:
            if refusal.fatal:
                # Too deep or too long a number and no message id to answer: close (1007).
                await self.store.event(
                    self.station, "invalid_frame", f"{refusal.reason}: {clip(raw_msg, 200)}"
                )
                await self.connection.close(1007, f"invalid frame: {refusal.reason}")
                raise WebSocketDisconnect(1007, refusal.reason)
            await self._reject(raw_msg, None, refusal.reason, refusal.unique_id or "-1")
            return
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
            if self._known(msg.action):
                # Only the version's actions: unknown names would add rows without end.
                await self.store.count(self.station, msg.action)
            # The frame is parsed once, above (the library's route_message would parse it again).
            try:
                await self._handle_call(msg)
            except OCPPError as refused:
                ocpp_logger.exception("Error while handling request '%s'", msg)
                await self._send(msg.create_call_error(refused).to_json())
        except (WebSocketDisconnect, WebSocketDisconnected):
            raise
        except Exception as exc:
            action = clip(msg.action, MAX_ACTION_CHARS)
            logger.exception("%s: failed to handle %s", self.station.identity, action)
            error = Call(msg.unique_id, action, {}).create_call_error(exc)
            await self._send(error.to_json())

    def _known(self, action: str) -> bool:
        """``action`` is one of the version's OCPP actions."""
        return action in _ACTIONS[self._ocpp_version]

    async def _handle_call(self, msg: Call) -> None:
        # The library answers schema violations with a CALLERROR by raising OCPPError here;
        # record them before it does.
        try:
            if msg.action not in self.route_map or "_on_action" not in self.route_map[msg.action]:
                # OCPP-J 1.6 §4.2.3 / 2.0.1 Part 4 §4.2.3: NotImplemented "Requested Action is
                # not known by receiver", NotSupported "recognized but not supported" (the
                # library has them the other way round).
                action = clip(msg.action, MAX_ACTION_CHARS)
                if self._known(msg.action):
                    cause = f"{action} is not supported by this central system"
                    raise NotSupportedError(details={"cause": cause})
                raise OcppNotImplemented(details={"cause": f"{action} is not an OCPP action"})
            check = request_validator(self._ocpp_version, msg.action)
            if check is not None:
                try:
                    check(msg.payload)
                except fastjsonschema.JsonSchemaException:
                    # The library's verdict and error code (raises the OCPPError to answer).
                    await validate_payload(msg, self._ocpp_version)
            await self._dispatch(msg)
        except OCPPError as exc:
            detail = (
                f"{clip(msg.action, MAX_ACTION_CHARS)}: {type(exc).__name__}: {exc.description}"
            )
            await self.store.event(self.station, "rejected_call", detail)
            raise

    async def _dispatch(self, msg: Call) -> None:
        """The library's ``ChargePoint._handle_call`` (its ``@on`` handlers, its snake_case
        keyword arguments, its answers and CALLERRORs; the gateway has no ``@after`` handlers),
        without what it repeats on every CALL: a signature inspection per handler and two
        regular expressions per key are looked up once (:func:`_wants_unique_id`,
        :func:`_key`)."""
        handlers = self.route_map[msg.action]
        payload = _to_snake(msg.payload)
        handler = handlers["_on_action"]
        try:
            if _wants_unique_id(handler):
                response = handler(**payload, call_unique_id=msg.unique_id)
            else:
                response = handler(**payload)
            if inspect.isawaitable(response):
                response = await response
        except Exception as exc:
            ocpp_logger.exception("Error while handling request '%s'", msg)
            await self._send(msg.create_call_error(exc).to_json())
            return
        answer = _to_camel(remove_nones(serialize_as_dict(response)))
        await self._send(msg.create_call_result(answer).to_json())


_SNAKE: dict[str, str] = {}
_CAMEL: dict[str, str] = {}
#: Keys remembered per direction (a payload may carry keys of its own, e.g. 2.0.1 customData).
_KEY_CACHE = 4096


def _key(key: str, cache: dict[str, str], convert: Callable[[Any], Any]) -> str:
    """The library's case conversion (``convert``) of one key, computed once per key."""
    converted = cache.get(key)
    if converted is None:
        converted = next(iter(convert({key: None})))
        if len(cache) < _KEY_CACHE:
            cache[key] = converted
    return converted


def _convert_keys(data: Any, cache: dict[str, str], convert: Callable[[Any], Any]) -> Any:
    if isinstance(data, dict):
        return {
            _key(key, cache, convert): _convert_keys(value, cache, convert)
            for key, value in data.items()
        }
    if isinstance(data, list):
        return [_convert_keys(value, cache, convert) for value in data]
    return data


def _to_snake(data: Any) -> Any:
    """Every key camelCase → snake_case, as the library's ``camel_to_snake_case``."""
    return _convert_keys(data, _SNAKE, camel_to_snake_case)


def _to_camel(data: Any) -> Any:
    """Every key snake_case → camelCase, as the library's ``snake_to_camel_case``."""
    return _convert_keys(data, _CAMEL, snake_to_camel_case)


@functools.cache
def _unique_id_wanted(function: Callable[..., Any]) -> bool:
    return "call_unique_id" in inspect.signature(function).parameters


def _wants_unique_id(handler: Callable[..., Any]) -> bool:
    """The handler takes ``call_unique_id`` (the library passes it only then)."""
    return _unique_id_wanted(getattr(handler, "__func__", handler))
