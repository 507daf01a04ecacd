"""OCPP-J framing (OCPP-J 1.6 §4, OCPP 2.0.1 Part 4 §4): CALL, CALLRESULT, CALLERROR.

Plain dicts with camelCase keys travel as payloads; nothing here validates them against a schema
(see :mod:`ocpplab_sim.protocol.schemas`). The charge point's OCPP-J session, which matches
answers to its CALL in flight, is :mod:`ocpplab_sim.chargepoint.session`.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any, NamedTuple

import orjson

from ocpplab_sim.errors import ChargePointError

__all__ = [
    "Call",
    "CallError",
    "CallErrorReply",
    "CallResult",
    "FrameError",
    "Message",
    "MessageType",
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
