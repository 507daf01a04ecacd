"""How a simulated charge point talks: CALLs, station intents, the offline queue, incoming CALLs.

Contract of delivery: a non-transaction intent (a status) is sent at once when connected and
dropped otherwise (statuses are re-sent after the reconnect, OCPP 1.6 §4.9 / 2.0.1 G01).
Transaction intents go through the offline queue and are sent strictly in order, each
exactly once (1.6 §3.3 / 2.0.1 E04: transaction-related messages are queued while offline).
An incoming CALL is answered before anything it causes is sent (OCPP-J §4.1.1; e.g. 1.6
§5.11 RemoteStartTransaction before StartTransaction). An answer armed with
``answer_next`` replaces the adapter's own for the next CALL of its action (see
:class:`ArmedAnswer`). Mixed into :class:`~ocpplab_sim.fleet.chargepoint.SimulatedChargePoint`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections import deque
from collections.abc import Iterable, Mapping
from typing import Any, Literal

from ocpplab_sim.connection import Reply
from ocpplab_sim.errors import ChargePointError, CsmsUnreachable, OcppCallError
from ocpplab_sim.fleet.base import ChargePointBase, Payload
from ocpplab_sim.fleet.config import FrameRecord
from ocpplab_sim.protocol import CallErrorReply, OutgoingCall
from ocpplab_sim.protocol.schemas import SchemaViolation, schema, validate
from ocpplab_sim.station import Intent, TransactionIntent, TransactionStarted, TransactionStopped

__all__ = ["ACCEPTING", "ArmedAnswer", "Delivery"]

log = logging.getLogger("ocpplab_sim.fleet.chargepoint")

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


class Delivery(ChargePointBase):
    """CALLs out, intents out, the offline queue, and the handler of incoming CALLs."""

    def _require_started(self) -> None:
        if self._state != "started":
            raise ChargePointError(f"{self.identity}: charge point is {self._state}, not started")

    async def _call(self, call: OutgoingCall) -> Payload:
        """Send ``call`` and return the answer, after running the commands the adapter derives
        from it (e.g. Deauthorize on a refused token). Raises what
        :meth:`OcppConnection.call` raises."""
        response = await self._conn.call(
            call.action, call.payload, timeout_s=self.config.call_timeout_s
        )
        commands = self._adapter.on_result(call, response)
        if commands:
            await self._run_commands(commands)
        return response

    async def _deliver(self, intents: Iterable[Intent]) -> None:
        """Deliver station intents in order (see the module docstring)."""
        for intent in intents:
            if not isinstance(intent, TransactionIntent):
                for call in self._adapter.translate(intent):
                    if not self._conn.connected:
                        break  # statuses are re-sent after the reconnect
                    with contextlib.suppress(CsmsUnreachable):
                        await self._call(call)
                continue
            if isinstance(intent, TransactionStarted):
                self._start_meter(intent.evse, intent.transaction_id)
            await self._submit(intent)
            if isinstance(intent, TransactionStopped):
                await self._transaction_ended(intent.evse)
        self._schedule_update()

    async def _submit(self, intent: TransactionIntent) -> None:
        self._queue.append(intent)
        if self._drain_owner is asyncio.current_task():
            return  # we are inside the drain loop, which will send it next
        await self._drain()

    async def _drain(self) -> None:
        """Send queued transaction messages in order; stop early when disconnected.

        The head is translated once and kept, so a retry after a reconnect re-sends the same
        payload (same 2.0.1 seqNo). A CALLERROR is an answer: the message leaves the queue and
        the first such error is raised after the rest was sent.
        """
        if not len(self._queue):
            return  # nothing queued, nothing in flight (the head leaves the queue once answered)
        errors: list[OcppCallError] = []
        async with self._drain_lock:
            self._drain_owner = asyncio.current_task()
            try:
                while len(self._queue) and self._conn.connected:
                    intent = self._queue.peek()
                    if self._head is None or self._head[0] is not intent:
                        self._head = (intent, self._adapter.translate(intent))
                    calls = self._head[1]
                    while calls:
                        try:
                            await self._call(calls[0])
                        except CsmsUnreachable:
                            return
                        except OcppCallError as exc:
                            errors.append(exc)
                        calls.pop(0)
                    self._queue.pop()
                    self._head = None
                    self._save_state()
            finally:
                self._drain_owner = None
        if errors:
            raise errors[0]

    def _save_state(self) -> None:
        """Persist the adapter state that queued messages depend on (after each delivery, so
        a restart re-translates the head exactly as before)."""
        if self._state_file is not None:
            self._state_file.write_text(json.dumps(self._adapter.snapshot()), encoding="utf-8")

    # -- central system → charge point ----------------------------------------------------

    _armed: dict[str, deque[ArmedAnswer]]

    def _arm(self, armed: ArmedAnswer) -> ArmedAnswer:
        """Queue ``armed`` for its action after checking it against the official response
        schema (strict: :class:`SchemaViolation`; lenient: a warning; off: no check)."""
        mode = self.config.validation_mode
        if mode != "off":
            try:
                self._check_armed(armed)
            except SchemaViolation as exc:
                if mode == "strict":
                    raise
                log.warning("%s: %s", self.identity, exc)
        queue = self._armed.setdefault(armed.action, deque())
        queue.append(armed)
        armed._queue = queue
        return armed

    def _check_armed(self, armed: ArmedAnswer) -> None:
        version, action = self.config.ocpp_version, armed.action
        if armed.payload is not None:
            answer = dict(armed.payload)
            if armed.status is not None:
                answer["status"] = armed.status
            validate(version, action, "response", answer)
            return
        spec = schema(version, action, "response")
        if spec is None:
            raise SchemaViolation(
                version, action, "response", "no such action in this OCPP version"
            )
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

    async def _handle(self, action: str, payload: Payload) -> Reply:
        """Answer an incoming CALL through the adapter (or the answer armed for it); what it
        causes runs after the answer was sent (the ``then`` of the :class:`Reply`)."""
        queue = self._armed.get(action)
        armed = queue.popleft() if queue else None
        if armed is not None and armed.refusal:
            return Reply(armed.compose(None))  # refused: the request has no effect
        try:
            result = self._adapter.handle(action, payload, self._clock())
        except CallErrorReply:
            if armed is None:
                raise
            return Reply(armed.compose(None))  # answered for a simulator that cannot
        answer = result.payload if armed is None else armed.compose(result.payload)
        commands, intents = result.commands, result.intents
        if not commands and not intents:
            return Reply(answer)

        async def then() -> None:
            await self._deliver(intents)
            await self._run_commands(commands)

        return Reply(answer, then)

    def _record(self, direction: Literal["out", "in"], message: list[Any]) -> None:
        if self._on_frame is None:
            return
        try:
            self._on_frame(FrameRecord(time.time(), direction, self.identity, message))
        except Exception:
            # An observer must not be able to break the receive loop.
            log.exception("%s: on_frame callback failed", self.identity)
