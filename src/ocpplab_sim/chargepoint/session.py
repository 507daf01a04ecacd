"""The OCPP-J session of one charge point, sans-I/O: one ordered queue of CALLs to send, at most
one CALL in flight (OCPP-J §4.1.1, "synchronicity"), the answers to the central system's CALLs,
and the outbox every frame leaves through.

Contract:
- A CALL is queued (:meth:`Session.enqueue`) when its cause happens and leaves in that order;
  nothing overtakes it but the BootNotification of a (re)connect. Frames leave through one
  outbox, in the order they were put there (:meth:`Session.frames_to_send`).
- Before BootNotification is Accepted only BootNotification is sent (1.6 §4.2; 2.0.1 B02/B03);
  answers to the central system's CALLs are always sent at once.
- Kinds of CALL and what a lost connection does to them: ``tx`` (transaction messages, 1.6
  §3.3 / 2.0.1 E04) stay queued, in a durable queue when one is given, and go out again after
  the reconnect (marked ``again after reconnect`` in the trace; not an attempt); ``status``
  calls are dropped (the current statuses are sent after the reconnect); ``security`` calls
  are handed back to their owner; any other CALL fails with :class:`CsmsUnreachable`.
- A ``tx`` CALL that is answered with a CALLERROR or not at all is an attempt; it is sent again
  after ``n × TransactionMessageRetryInterval`` until ``TransactionMessageAttempts`` attempts
  were made, then given up (1.6 §4.10 / 2.0.1 E13; marked ``attempt n of m`` in the trace).
  Messages behind it wait: they never overtake it.
- :class:`Op` is what an action waits for: done once each CALL it caused was answered, failed,
  dropped or left queued while offline; its ``error`` is the first failure.
"""

from __future__ import annotations

import itertools
import logging
import math
from collections import deque
from collections.abc import Callable
from typing import Any, Literal

import orjson

from ocpplab_sim.chargepoint.config import FrameRecord
from ocpplab_sim.errors import ChargePointError, CsmsUnreachable, OcppCallError, OcppCallTimeout
from ocpplab_sim.protocol import Adapter, Command, OutgoingCall, Settings
from ocpplab_sim.protocol.rpc import CallError, FrameError, decode_array, encode_array
from ocpplab_sim.protocol.schemas import SchemaViolation, validate, validator
from ocpplab_sim.station import TransactionIntent

__all__ = ["CallObserver", "Kind", "Op", "Session", "Ticket"]

log = logging.getLogger("ocpplab_sim.chargepoint")

_dumps = orjson.dumps
_NON_STR_KEYS = orjson.OPT_NON_STR_KEYS

Payload = dict[str, Any]
_new_ticket = object.__new__
_new_call = tuple.__new__  # an OutgoingCall without the Python frame of its __new__
Kind = Literal["tx", "status", "call", "boot", "security", "barrier"]
#: Told of every CALL once it is over: ``out`` for the charge point's own (seconds from its
#: frame to the answer; outcome None, the CALLERROR code, ``timeout`` or ``lost``) and ``in``
#: for the central system's (outcome None or the CALLERROR code of the answer).
CallObserver = Callable[[Literal["out", "in"], str, float, str | None], None]


class Op:
    """What one action, command or (re)connect caused, until it is over.

    Held open while a step of it still waits (a CALL queued or in flight, an answer that will
    queue more); :attr:`done` once nothing does, or as soon as a step failed. ``error`` is the
    first failure, ``result`` what the action returns (e.g. an authorization status).
    """

    # No ``__slots__``: one op is made per action, and class defaults leave one store to do.
    result: Any = None
    error: BaseException | None = None
    #: a driver's future-like object (``done()``, ``set_result(None)``) set once the op is
    #: done: what an asyncio driver awaits, without a callback made per action
    waker: Any = None
    #: held open by whoever builds it, until it releases it (a class default: no __init__ to run
    #: for the op of every action; the first hold or release gives the op its own count)
    _open = 1

    #: nothing of it waits any more, or a step failed (nobody need wait for the rest)
    done = False

    def hold(self) -> None:
        self._open += 1

    def release(self) -> None:
        self._open -= 1
        if self._open == 0:
            self._settled()

    def fail(self, error: BaseException) -> None:
        if self.error is None:
            self.error = error
            self._settled()

    def _settled(self) -> None:
        self.done = True
        waker = self.waker
        if waker is not None:
            self.waker = None
            if not waker.done():  # a cancelled waiter leaves a cancelled future
                waker.set_result(None)


class Ticket:
    """One queued unit: a transaction intent (translated into its CALLs when it reaches the
    head, so a 1.6 transaction id given meanwhile is used), or CALLs known when queued.
    ``then`` digests each answer, ``failed`` hears of a CALL that got none.

    (No ``__slots__``: the rarely set attributes are class defaults, so the one made for every
    CALL stores three.)
    """

    intent: TransactionIntent | None = None
    then: Callable[[Payload, float], None] | None = None
    failed: Callable[[BaseException, float], None] | None = None
    attempts = 0
    not_before = 0.0
    lost = False  # its CALL was in flight when the connection dropped
    data: Any = None  # what its owner keeps with it (a barrier's boot reason, …)

    def __init__(
        self,
        kind: Kind,
        calls: list[OutgoingCall] | None,
        op: Op | None,
        *,
        intent: TransactionIntent | None = None,
        then: Callable[[Payload, float], None] | None = None,
        failed: Callable[[BaseException, float], None] | None = None,
    ) -> None:
        self.kind = kind
        self.calls = calls
        self.op = op
        if intent is not None:
            self.intent = intent
        if then is not None:
            self.then = then
        if failed is not None:
            self.failed = failed


class Session:
    """The OCPP-J session (see the module docstring). ``persist`` is told after every answered
    transaction message, so a durable queue's owner can save what the next one depends on."""

    def __init__(
        self,
        identity: str,
        adapter: Adapter,
        settings: Settings,
        *,
        call_timeout_s: float,
        validation: Literal["strict", "lenient", "off"],
        queue: Any,
        message_ids: Callable[[], str] | None = None,
        on_frame: Callable[[FrameRecord], None] | None = None,
        on_call: CallObserver | None = None,
        persist: Callable[[], None] | None = None,
    ) -> None:
        self.identity = identity
        self.adapter = adapter
        self.settings = settings
        self.call_timeout_s = call_timeout_s
        self.validation = validation
        self.version = adapter.version
        self.queue = queue
        self.ids = message_ids  # None: 1, 2, 3, … (ids need only be unique per connection)
        self._counter = itertools.count(1)
        self.on_frame = on_frame
        self.on_call = on_call
        self.persist = persist
        self.fifo: deque[Ticket] = deque()
        self.boot: Ticket | None = None
        self.in_flight: Ticket | None = None
        self.uid = ""
        self.sent_at = 0.0
        self.due = 0.0
        self.outbox: list[bytes] = []
        self.connected = False
        self.registered = False
        #: CALLs of the charge point answered with a CALLRESULT, in all
        self.calls_answered = 0
        #: the earliest deadline set since the owner last took it (see
        #: ``ChargePointProtocol.take_deadline_hint``)
        self.hint = -math.inf
        #: set by a barrier at the head of the queue: the owner restarts (reason of the boot)
        self.restart: str | None = None
        #: the owner hears of a security ticket that a lost connection handed back
        self.security_lost: Callable[[Ticket], None] | None = None

    # -- queueing ----------------------------------------------------------------------------

    def enqueue(self, ticket: Ticket, now: float) -> None:
        """Queue ``ticket`` behind everything queued before it (and hold its op)."""
        op = ticket.op
        if op is not None:
            op._open += 1  # hold(), without a call: every CALL comes through here
        if ticket.kind == "boot":
            self.boot = ticket
        else:
            self.fifo.append(ticket)
        self.pump(now)

    def send_raw(self, action: str, payload: Payload, now: float) -> Op:
        """Queue a plain CALL of ``action`` for a new op (the protocol's ``act`` of a
        ``SendRaw`` event, in one step: the CALL of every action of a load run); offline the
        op fails at once."""
        op = Op()
        if not self.connected:
            op.fail(CsmsUnreachable(f"{self.identity}: not connected, cannot send {action}"))
            return op
        ticket = _new_ticket(Ticket)  # no __init__ to run: the rest are class defaults
        ticket.kind = "call"
        ticket.calls = [_new_call(OutgoingCall, (action, payload, None))]
        ticket.op = op  # the op's first hold is its ticket's
        self.fifo.append(ticket)
        self.pump(now)
        return op

    def restore(self, intents: list[TransactionIntent]) -> None:
        """Queue the transaction intents of a durable queue (already in it), before anything."""
        for intent in reversed(intents):
            self.fifo.appendleft(Ticket("tx", None, None, intent=intent))

    def pump(self, now: float) -> None:
        """Put the next CALL in flight if the session may send one."""
        while self.in_flight is None and self.connected:
            ticket = self.boot
            if ticket is None:
                if not self.registered or not self.fifo:
                    return
                ticket = self.fifo[0]
            if ticket.kind == "barrier":
                self.fifo.popleft()
                self.restart = str(ticket.data)
                self.registered = False
                if ticket.then is not None:
                    ticket.then({}, now)
                self._settle(ticket)
                return
            if ticket.not_before > now:
                return  # a retry waits (see next_deadline)
            calls = ticket.calls
            if calls is None:
                assert ticket.intent is not None
                calls = ticket.calls = self.adapter.translate(ticket.intent)
            if not calls:
                self._finish(ticket, now)
                continue
            action, payload, _intent = calls[0]  # (unpacked: a field read is a lookup)
            if self.validation != "off":
                error = self.violation(action, "request", payload)
                if error is not None:  # strict: the CALL is not sent
                    self._fail_call(ticket, error, now, retry=False)
                    continue
            self.in_flight = ticket
            self.uid = uid = self.ids() if self.ids is not None else str(next(self._counter))
            self.sent_at = now
            self.due = due = now + self.call_timeout_s
            if due < self.hint:
                self.hint = due
            array = [2, uid, action, payload]  # MessageType.CALL
            if self.on_frame is not None:
                note = None
                if ticket.attempts:
                    attempts = max(1, int(self.settings.transaction_message_attempts))
                    note = f"attempt {ticket.attempts + 1} of {attempts}"
                elif ticket.lost:
                    note = "again after reconnect"
                self.on_frame(FrameRecord(now, "out", self.identity, array, note))
            try:
                frame = _dumps(array)
            except TypeError:  # a key that is not a string (orjson's default refuses it)
                frame = _dumps(array, option=_NON_STR_KEYS)
            self.outbox.append(frame)
            return

    def frames_to_send(self) -> list[bytes]:
        """Every frame queued for the socket, oldest first; the outbox is empty afterwards."""
        frames, self.outbox = self.outbox, []
        return frames

    def next_deadline(self) -> float | None:
        """When :meth:`expire` has something to do: the CALL in flight times out, or the
        message at the head of the queue may be attempted again."""
        if self.in_flight is not None:
            return self.due
        if self.connected and self.registered and self.fifo and self.fifo[0].not_before:
            return self.fifo[0].not_before
        return None

    def expire(self, now: float) -> None:
        """Time out the CALL in flight when it is due, and send what may go now."""
        ticket = self.in_flight
        if ticket is not None and now >= self.due:
            self.in_flight = None
            assert ticket.calls is not None
            action = ticket.calls[0].action
            self._observe(action, now, "timeout")
            timeout = OcppCallTimeout(f"{action}: no answer within {self.call_timeout_s:g} s")
            self._fail_call(ticket, timeout, now, retry=True)
        self.pump(now)

    # -- the socket ----------------------------------------------------------------------------

    def connection_made(self, now: float) -> None:
        self.connected = True
        self.outbox.clear()
        self.pump(now)

    def connection_lost(self, now: float) -> None:
        """The socket is gone: what it still had to send is lost with it (see the module
        docstring for what happens to each kind of CALL)."""
        self.connected = False
        self.outbox.clear()
        ticket = self.in_flight
        if ticket is not None:
            self.in_flight = None
            assert ticket.calls is not None
            self._observe(ticket.calls[0].action, now, "lost")
            ticket.lost = True
        kept: deque[Ticket] = deque()
        lost = CsmsUnreachable(f"{self.identity}: connection lost")
        if self.boot is not None:
            boot, self.boot = self.boot, None
            if boot.failed is not None:
                boot.failed(lost, now)
            self._settle(boot)
        for queued in self.fifo:
            if queued.kind == "tx":
                kept.append(queued)
                if queued.op is not None:  # an action does not wait for a reconnect
                    op, queued.op = queued.op, None
                    op.release()
            elif queued.kind == "barrier":
                kept.append(queued)
            else:
                if queued.kind == "security" and self.security_lost is not None:
                    self.security_lost(queued)
                elif queued.kind == "call" and queued.op is not None:
                    queued.op.fail(CsmsUnreachable(f"{self.identity}: connection lost"))
                if queued.failed is not None:
                    queued.failed(lost, now)
                self._settle(queued)
        self.fifo = kept

    def receive(self, raw: str | bytes, now: float) -> None:
        """Digest one frame: an answer to the CALL in flight, or a CALL of the central system
        for ``serve`` to answer (a broken frame may leave a CALLERROR in the outbox)."""
        try:
            data = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            log.warning("%s: dropping bad frame: not JSON: %s", self.identity, exc)
            return None
        # the common case first: the CALLRESULT of the CALL in flight
        ticket = self.in_flight
        if (
            type(data) is list
            and len(data) == 3
            and data[0] == 3
            and ticket is not None
            and data[1] == self.uid
            and type(data[2]) is dict
        ):
            if self.on_frame is not None:
                self.on_frame(FrameRecord(now, "in", self.identity, data))
            self.in_flight = None
            calls = ticket.calls
            assert calls is not None
            if ticket.kind != "call" or ticket.then is not None or calls[0][2] is not None:
                self._answered(ticket, data[2], now)
                return None
            # a plain CALL (one, without an intent, nothing to digest its answer): what
            # _answered does for it, inline (the load path)
            payload = data[2]
            action = calls.pop()[0]
            self.calls_answered += 1
            if self.on_call is not None:
                self.on_call("out", action, now - self.sent_at, None)
            op = ticket.op
            if self.validation != "off":
                violation = self.violation(action, "response", payload)
                if violation is not None:
                    self._refused(op, violation)
            fifo = self.fifo
            if fifo and fifo[0] is ticket:
                fifo.popleft()
            if op is not None:
                ticket.op = None
                if op.result is None:
                    op.result = payload  # what DataTransfer and a raw CALL return
                op._open -= 1  # release() and _settled(), inline
                if op._open == 0:
                    op.done = True
                    waker = op.waker
                    if waker is not None:
                        op.waker = None
                        if not waker.done():  # a cancelled waiter leaves a cancelled future
                            waker.set_result(None)
            if fifo or self.boot is not None:
                self.pump(now)
            return None
        try:
            message = decode_array(data)
        except FrameError as exc:
            log.warning("%s: dropping bad frame: %s", self.identity, exc)
            if exc.unique_id is not None:
                self.send_answer(CallError(exc.unique_id, exc.code, str(exc)[:255]).to_array(), now)
            return None
        if self.on_frame is not None:
            self.on_frame(FrameRecord(now, "in", self.identity, message.to_array()))
        if len(data) == 4:  # a CALL
            if self.serve is not None:
                self.serve(message, now)
            return None
        if ticket is None or message.unique_id != self.uid:
            log.warning("%s: answer to unknown message id %s", self.identity, message.unique_id)
            return None
        self.in_flight = None
        if isinstance(message, CallError):
            assert ticket.calls is not None
            action = ticket.calls[0].action
            self._observe(action, now, message.code)
            error = OcppCallError(action, message.code, message.description)
            self._fail_call(ticket, error, now, retry=True)
        else:
            self._answered(ticket, message.payload, now)
        self.pump(now)
        return None

    def send_answer(self, array: list[Any], now: float) -> None:
        """Queue the answer to a CALL of the central system (it overtakes queued CALLs: they
        are not on the wire yet)."""
        if not self.connected:
            return
        if self.on_frame is not None:
            self.on_frame(FrameRecord(now, "out", self.identity, array))
        self.outbox.append(encode_array(array))

    # -- internals ---------------------------------------------------------------------------

    def violation(
        self, action: str, kind: Literal["request", "response"], data: Any
    ) -> SchemaViolation | None:
        """Where ``data`` breaks the official schema: strict returns the violation, lenient
        logs it and returns None."""
        check = validator(self.version, action, kind)
        if check is not None:
            try:
                check(data)
                return None  # valid: the common case, without validate()'s frame
            except Exception:  # validate() below tells what is wrong
                pass
        try:
            validate(self.version, action, kind, data)
        except SchemaViolation as exc:
            if self.validation == "strict":
                return exc
            log.warning("%s: %s", self.identity, exc)
        return None

    def _observe(self, action: str, now: float, outcome: str | None) -> None:
        if self.on_call is not None:
            self.on_call("out", action, now - self.sent_at, outcome)

    def _answered(self, ticket: Ticket, payload: Payload, now: float) -> None:
        """The CALL of ``ticket`` in flight got its CALLRESULT. (On every call: lean.)"""
        calls = ticket.calls
        assert calls is not None
        call = calls.pop(0)
        self.calls_answered += 1
        if self.on_call is not None:
            self.on_call("out", call.action, now - self.sent_at, None)
        op = ticket.op
        if self.validation != "off":
            violation = self.violation(call.action, "response", payload)
            if violation is not None:
                self._refused(op, violation)
        if ticket.attempts or ticket.lost:
            ticket.lost = False
            ticket.attempts = 0
            ticket.not_before = 0.0
        held = False
        if op is not None:
            if ticket.kind == "call" and op.result is None:
                op.result = payload  # what DataTransfer and a raw CALL return
            if ticket.then is not None:
                op.hold()  # open until what the answer causes is queued
                held = True
        if ticket.then is not None:
            try:
                ticket.then(payload, now)
            except ChargePointError as exc:  # the station refused what the answer allowed
                self._refused(op, exc)
        # the adapter digests the answer to a message with an intent before the next message is
        # translated (a 1.6 transactionId); what the answer implies runs after this message left
        # the queue
        commands = self.adapter.on_result(call, payload) if call.intent is not None else None
        if commands and op is not None and not held:
            op.hold()
            held = True
        if calls:
            self.pump(now)
        else:
            self._finish(ticket, now)
        if commands and self.commands is not None:
            try:
                self.commands(commands, now, op)
            except ChargePointError as exc:
                self._refused(op, exc)
        if held:
            assert op is not None
            op.release()

    def _refused(self, op: Op | None, error: Exception) -> None:
        if op is not None:
            op.fail(error)
        else:
            log.warning("%s: %s", self.identity, error)

    #: answers a CALL of the central system; set by the owner
    serve: Callable[[Any, float], None] | None = None

    #: runs what an answer implies (e.g. Deauthorize on a refused token); set by the owner
    commands: Callable[[list[Command], float, Op | None], None] | None = None

    def _finish(self, ticket: Ticket, now: float) -> None:
        """The ticket's last CALL was answered (or it had none): it leaves the queue."""
        if ticket is self.boot:
            self.boot = None
        elif self.fifo and self.fifo[0] is ticket:
            self.fifo.popleft()
        if ticket.kind == "tx":
            self.queue.pop()
            if self.persist is not None:
                self.persist()
        op = ticket.op
        if op is not None:
            ticket.op = None
            op._open -= 1  # release(), inline: every CALL ends here
            if op._open == 0:
                op._settled()
        if self.fifo or self.boot is not None:
            self.pump(now)

    def _fail_call(self, ticket: Ticket, error: BaseException, now: float, *, retry: bool) -> None:
        """A CALL of ``ticket`` got no usable answer: a transaction message is attempted again
        (see the module docstring); any other ticket ends with ``error``."""
        if ticket.op is not None and ticket.kind != "security":
            ticket.op.fail(error)
        elif ticket.op is None and ticket.failed is None:
            log.info("%s: %s", self.identity, error)
        if ticket.kind == "tx" and retry:
            ticket.attempts += 1
            attempts = max(1, int(self.settings.transaction_message_attempts))
            if ticket.attempts < attempts:
                interval = self.settings.transaction_message_retry_interval_s
                ticket.not_before = again = now + interval * ticket.attempts
                if again < self.hint:
                    self.hint = again
                if ticket.op is not None:  # the action saw the failure; the retry is the queue's
                    op, ticket.op = ticket.op, None
                    op.release()
                return
            assert ticket.calls is not None
            log.warning(
                "%s: %s given up after %d attempts: %s",
                self.identity,
                ticket.calls[0].action,
                ticket.attempts,
                error,
            )
            ticket.calls.clear()
        if ticket.failed is not None:
            ticket.failed(error, now)
        if ticket.kind == "tx":
            self._finish(ticket, now)
            return
        if ticket is self.boot:
            self.boot = None
        elif self.fifo and self.fifo[0] is ticket:
            self.fifo.popleft()
        self._settle(ticket)

    @staticmethod
    def _settle(ticket: Ticket) -> None:
        if ticket.op is not None:
            op, ticket.op = ticket.op, None
            op.release()
