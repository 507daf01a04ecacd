"""Answers armed by a driver for the central system's next CALL of an action
(``answer_next``): what a scenario's ``expect_csms … respond`` uses."""

from __future__ import annotations

import contextlib
from collections import deque
from collections.abc import Mapping
from typing import Any

from ocpplab_sim.protocol.schemas import SchemaViolation, Version, schema, validate

__all__ = ["ACCEPTING", "ArmedAnswer", "check_armed"]

Payload = dict[str, Any]

# Answer statuses that let the central system's request take effect; any other is a refusal.
ACCEPTING = frozenset({"Accepted", "Scheduled", "Unlocked", "RebootRequired"})


class ArmedAnswer:
    """The answer the next incoming CALL of ``action`` gets (armed with ``answer_next``).

    ``payload`` replaces the simulator's answer, ``status`` fills its ``status`` field (on
    ``payload`` when both are given). A refusal (a status outside :data:`ACCEPTING`) skips what
    the request would have done; otherwise the simulator acts as usual and only the answer
    changes. ``answered`` is what was sent, once a CALL used it.
    """

    def __init__(self, action: str, payload: Payload | None, status: str | None) -> None:
        self.action = action
        self.payload = dict(payload) if payload is not None else None
        self.status = status
        self.answered: Payload | None = None
        self._queue: deque[ArmedAnswer] | None = None

    @property
    def used(self) -> bool:
        return self.answered is not None

    @property
    def refusal(self) -> bool:
        status = self.status if self.status is not None else (self.payload or {}).get("status")
        return isinstance(status, str) and status not in ACCEPTING

    def cancel(self) -> bool:
        """Disarm it unless a CALL already used it; True when it was still waiting."""
        if self._queue is None or self.answered is not None:
            return False
        with contextlib.suppress(ValueError):
            self._queue.remove(self)
        self._queue = None
        return True

    def compose(self, own: Mapping[str, Any] | None) -> Payload:
        """The answer to send, over the simulator's own answer ``own`` (if it gave one)."""
        answer = dict(self.payload) if self.payload is not None else dict(own or {})
        if self.status is not None:
            answer["status"] = self.status
        self.answered = answer
        self._queue = None
        return answer


def _status_values(spec: Mapping[str, Any]) -> list[str] | None:
    """The allowed values of a response schema's ``status`` (None: the answer has no status)."""
    field = spec.get("properties", {}).get("status")
    if not isinstance(field, Mapping):
        return None
    ref = field.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/definitions/"):
        field = spec.get("definitions", {}).get(ref.removeprefix("#/definitions/"), {})
    return [str(value) for value in field.get("enum", [])]


def check_armed(version: Version, armed: ArmedAnswer) -> None:
    """Check an armed answer against the official response schema (raises
    :class:`SchemaViolation`): the whole payload, or that ``status`` is an allowed value."""
    action = armed.action
    if armed.payload is not None:
        answer = dict(armed.payload)
        if armed.status is not None:
            answer["status"] = armed.status
        validate(version, action, "response", answer)
        return
    spec = schema(version, action, "response")
    if spec is None:
        raise SchemaViolation(version, action, "response", "no such action in this OCPP version")
    allowed = _status_values(spec)
    if allowed is None:
        raise SchemaViolation(version, action, "response", "the answer has no status field")
    if allowed and armed.status not in allowed:
        raise SchemaViolation(
            version,
            action,
            "response",
            f"status {armed.status!r} is not one of {', '.join(allowed)}",
        )
