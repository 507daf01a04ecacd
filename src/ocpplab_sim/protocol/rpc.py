"""OCPP-J framing (OCPP-J 1.6 §4, OCPP 2.0.1 Part 4 §4): CALL, CALLRESULT, CALLERROR.

Plain dicts with camelCase keys travel as payloads; nothing here validates them against a schema
(see :mod:`ocpplab_sim.protocol.schemas`). :class:`PendingCalls` matches answers to the CALLs
awaiting them by message id.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any, NamedTuple

import orjson

from ocpplab_sim.errors import ChargePointError, OcppCallError

__all__ = [
    "Call",
    "CallError",
    "CallErrorReply",
    "CallResult",
    "FrameError",
    "Message",
    "MessageType",
    "PendingCalls",
    "counter_ids",
    "decode",
    "decode_array",
    "encode",
    "encode_array",
]

Payload = dict[str, Any]


class MessageType(IntEnum):
    CALL = 2
    CALLRESULT = 3
    CALLERROR = 4


# Call and CallResult are named tuples, not frozen dataclasses: one of each is made for every
# call, and a tuple is built in a third of the time.
class Call(NamedTuple):
    unique_id: str
    action: str
    payload: Payload

    def to_array(self) -> list[Any]:
        return [2, self.unique_id, self.action, self.payload]  # MessageType.CALL


class CallResult(NamedTuple):
    unique_id: str
    payload: Payload

    def to_array(self) -> list[Any]:
        return [3, self.unique_id, self.payload]  # MessageType.CALLRESULT


@dataclass(frozen=True, slots=True)
class CallError:
    unique_id: str
    code: str
    description: str = ""
    details: Payload = field(default_factory=dict)

    def to_array(self) -> list[Any]:
        return [
            4,  # MessageType.CALLERROR
            self.unique_id,
            self.code,
            self.description,
            self.details,
        ]


Message = Call | CallResult | CallError


class FrameError(ChargePointError):
    """A received frame is not valid OCPP-J. ``unique_id`` is set when it could be read, so the
    receiver can answer a broken CALL with a CALLERROR (``code``)."""

    def __init__(self, message: str, *, code: str = "ProtocolError", unique_id: str | None = None):
        self.code = code
        self.unique_id = unique_id
        super().__init__(message)


class CallErrorReply(Exception):
    """Raised by a handler of an incoming CALL to answer it with a CALLERROR."""

    def __init__(self, code: str, description: str = "", details: Payload | None = None) -> None:
        self.code = code
        self.description = description
        self.details = details or {}
        super().__init__(f"{code}: {description}")


_OPTIONS = orjson.OPT_NON_STR_KEYS


def encode(message: Message) -> bytes:
    """Serialize a message to the UTF-8 text of one websocket frame (compact JSON)."""
    return orjson.dumps(message.to_array(), option=_OPTIONS)


def encode_array(array: list[Any]) -> bytes:
    """:func:`encode` for a message already turned into its OCPP-J array."""
    return orjson.dumps(array, option=_OPTIONS)


def decode(raw: str | bytes) -> Message:
    """Parse one websocket frame (text, or its UTF-8 bytes). Raises :class:`FrameError` on
    anything that is not OCPP-J, invalid UTF-8 included."""
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise FrameError(f"not JSON: {exc}") from exc
    return decode_array(data)


def decode_array(data: Any) -> Message:
    """:func:`decode` for a frame already parsed from JSON."""
    if not isinstance(data, list) or len(data) < 3:
        raise FrameError("an OCPP-J message is a JSON array of 3 to 5 elements")
    kind, unique_id = data[0], data[1]
    if not isinstance(unique_id, str) or not unique_id or len(unique_id) > 36:
        raise FrameError("message id must be a string of 1..36 characters")
    if kind == MessageType.CALL and len(data) == 4:
        action, payload = data[2], data[3]
        if not isinstance(action, str) or not isinstance(payload, dict):
            raise FrameError(
                "CALL needs an action string and a payload object", unique_id=unique_id
            )
        return Call(unique_id, action, payload)
    if kind == MessageType.CALLRESULT and len(data) == 3:
        if not isinstance(data[2], dict):
            raise FrameError("CALLRESULT payload must be an object", unique_id=unique_id)
        return CallResult(unique_id, data[2])
    if kind == MessageType.CALLERROR and len(data) == 5:
        code, description, details = data[2], data[3], data[4]
        if not isinstance(code, str) or not isinstance(description, str):
            raise FrameError("CALLERROR code and description must be strings")
        return CallError(unique_id, code, description, details if isinstance(details, dict) else {})
    raise FrameError(
        f"unknown message type or length: {data[:1]!r}/{len(data)}", unique_id=unique_id
    )


def counter_ids(prefix: str = "") -> Callable[[], str]:
    """A message-id factory: ``prefix1``, ``prefix2``… (ids need only be unique per connection)."""
    counter = itertools.count(1)
    return lambda: f"{prefix}{next(counter)}"


class PendingCalls:
    """CALLs sent and not yet answered, by message id.

    The caller registers a CALL with :meth:`expect` before sending it, awaits the returned future
    (which raises :class:`OcppCallError` for a CALLERROR), and calls :meth:`discard` when it
    gives up (timeout). :meth:`fail_all` ends every wait, e.g. when the connection drops.
    """

    def __init__(self) -> None:
        #: by message id: (action, future, sent); a hot path may add and pop entries itself
        self.by_id: dict[str, tuple[str, asyncio.Future[Payload], float]] = {}

    def __len__(self) -> int:
        return len(self.by_id)

    def expect(self, unique_id: str, action: str, sent: float = 0.0) -> asyncio.Future[Payload]:
        """Register a CALL; ``sent`` (any clock) comes back from :meth:`resolve`."""
        if unique_id in self.by_id:
            raise ValueError(f"message id {unique_id!r} already pending")
        future: asyncio.Future[Payload] = asyncio.get_running_loop().create_future()
        self.by_id[unique_id] = (action, future, sent)
        return future

    def action_of(self, unique_id: str) -> str | None:
        entry = self.by_id.get(unique_id)
        return entry[0] if entry else None

    def resolve(self, message: CallResult | CallError) -> tuple[str, float] | None:
        """Complete the matching wait and return its action and ``sent``; None when no CALL
        with that id is pending."""
        entry = self.by_id.pop(message.unique_id, None)
        if entry is None:
            return None
        action, future, sent = entry
        if future.done():
            return None
        if isinstance(message, CallResult):
            future.set_result(message.payload)
        else:
            future.set_exception(OcppCallError(action, message.code, message.description))
        return action, sent

    def discard(self, unique_id: str) -> None:
        self.by_id.pop(unique_id, None)

    def fail_all(self, exc: BaseException) -> None:
        waiting = list(self.by_id.values())
        self.by_id.clear()
        for _action, future, _sent in waiting:
            if not future.done():
                future.set_exception(exc)
