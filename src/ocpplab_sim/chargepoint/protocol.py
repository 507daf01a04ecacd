"""One simulated charge point as a sans-I/O protocol object, in the manner of python-websockets'
``ClientProtocol``: frames and events in, frames out through one ordered outbox, deadlines out.

:class:`ChargePointProtocol` owns the station model, the version adapter, the OCPP-J session
(:mod:`.session`), the transaction-message queue and the state machine of every central-system
command (:mod:`.commands`). It has no asyncio, no sockets and no clock: every method takes the
time ``now`` (epoch seconds) from its driver. Its whole surface:

- :meth:`~ChargePointProtocol.connection_made` / :meth:`~ChargePointProtocol.connection_lost`;
- :meth:`~ChargePointProtocol.receive_frame` (one websocket message);
- :meth:`~ChargePointProtocol.act` (an :mod:`.events` event: plug in, start, fault, …);
- :meth:`~ChargePointProtocol.frames_to_send` (everything to write, in order);
- :meth:`~ChargePointProtocol.next_deadline` and :meth:`~ChargePointProtocol.handle_timers`
  (call timeouts, heartbeats, meter samples, retries, reservation expiry, firmware steps);
- :meth:`~ChargePointProtocol.take_restart` (a reset or reboot wants the socket closed and
  opened again).

Everything the charge point sends is queued when its cause happens and leaves in that order,
so per connector the timestamps on the wire never go backwards.
"""

from __future__ import annotations

import dataclasses
import heapq
import itertools
import logging
import math
from collections import deque
from collections.abc import Callable, Iterable
from typing import Any

from ocpplab_sim.chargepoint import events as ev
from ocpplab_sim.chargepoint.answers import ArmedAnswer, check_armed
from ocpplab_sim.chargepoint.commands import Commands
from ocpplab_sim.chargepoint.config import ChargePointConfig, FrameRecord
from ocpplab_sim.chargepoint.queue import MemoryOfflineQueue, OfflineQueue
from ocpplab_sim.chargepoint.session import CallObserver, Op, Session, Ticket
from ocpplab_sim.errors import ChargePointError, CsmsUnreachable
from ocpplab_sim.protocol import (
    Adapter,
    Command,
    OutgoingCall,
    ResetRequested,
    Settings,
    TriggerRequested,
    V16Adapter,
    V201Adapter,
)
from ocpplab_sim.protocol.rpc import Call, CallError, CallErrorReply, CallResult
from ocpplab_sim.protocol.schemas import SchemaViolation
from ocpplab_sim.protocol.settings import by_key16, by_variable
from ocpplab_sim.station import (
    ChargingStateChanged,
    Intent,
    MeterSample,
    Station,
    StopReason,
    TransactionIntent,
    TransactionStarted,
    TransactionStopped,
)

__all__ = ["ChargePointProtocol"]

log = logging.getLogger("ocpplab_sim.chargepoint")

Payload = dict[str, Any]
_TX = (TransactionStarted, ChargingStateChanged, MeterSample, TransactionStopped)
_DEFAULT_RETRY_S = 10.0  # BootNotification Pending/Rejected without an interval


class ChargePointProtocol:
    """See the module docstring. ``queue`` holds transaction intents (a durable one survives a
    restart: its intents are sent first); ``persist`` is told when the adapter state that the
    queued intents depend on changed (see :meth:`snapshot`). ``on_frame`` sees every frame,
    ``on_call`` every finished CALL (see :data:`CallObserver`)."""

    def __init__(
        self,
        config: ChargePointConfig,
        *,
        queue: OfflineQueue[TransactionIntent] | None = None,
        id_factory: Callable[[], str] | None = None,
        message_ids: Callable[[], str] | None = None,
        on_frame: Callable[[FrameRecord], None] | None = None,
        on_call: CallObserver | None = None,
        persist: Callable[[], None] | None = None,
        state: dict[str, object] | None = None,
    ) -> None:
        self.config = config
        self.identity = config.identity
        self.station = Station(
            config.evse_count,
            max_power_w=config.powers_w,
            seed=config.seed,
            id_factory=id_factory,
            dc=config.current_type == "DC",
        )
        self.settings = Settings(
            meter_interval_s=config.meter_interval_s, firmware_version=config.firmware_version
        )
        adapter_type = V16Adapter if config.ocpp_version == "1.6" else V201Adapter
        self.adapter: Adapter = adapter_type(self.station, self.settings)
        if state is not None:
            self.adapter.restore(state)
        self.queue: OfflineQueue[TransactionIntent] = (
            queue if queue is not None else MemoryOfflineQueue()
        )
        self.adapter.queued_transactions = lambda: {i.transaction_id for i in self.queue}
        self.session = Session(
            config.identity,
            self.adapter,
            self.settings,
            call_timeout_s=config.call_timeout_s,
            validation=config.validation_mode,
            queue=self.queue,
            message_ids=message_ids,
            on_frame=on_frame,
            on_call=on_call,
            persist=persist,
        )
        self.session.commands = self._answer_implies
        self.session.serve = self._serve
        # one call less on every frame: the session's receive is the protocol's
        self.receive_frame = self.session.receive  # type: ignore[method-assign,assignment]
        self.send_raw = self.session.send_raw  # type: ignore[method-assign]
        self.session.security_lost = self._security_back
        self.session.restore(list(self.queue))
        self.needs_boot = True
        self.boot_reason = "PowerUp"
        self._boot_waiters: list[Op] = []
        self._after_boot: list[Callable[[float], None]] = []
        self._security: list[tuple[str, float, str | None]] = []
        self._returned = 0
        self._armed: dict[str, deque[ArmedAnswer]] = {}
        self._heartbeat_due: float | None = None
        self._heartbeat_queued = False
        self._meters: dict[int, tuple[float, str]] = {}
        self._timers: list[tuple[float, int, Callable[[float], None]]] = []
        self._timer_seq = itertools.count()
        self.commands = Commands(self)

    # -- state -------------------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        return self.session.connected

    @property
    def registered(self) -> bool:
        """BootNotification was Accepted on the current connection."""
        return self.session.registered and self.session.connected

    @property
    def queued(self) -> int:
        """Transaction messages not yet answered."""
        return len(self.queue)

    def snapshot(self) -> dict[str, object]:
        """What queued transaction messages depend on (1.6 ids, 2.0.1 seqNo), for
        ``state`` after a restart."""
        return self.adapter.snapshot()

    # -- the driver's surface ----------------------------------------------------------------

    def connection_made(self, now: float) -> Op:
        """The socket is open: boot when needed (until Accepted), else deliver what waited and
        every current status. The op is done once that is over (start() waits for it)."""
        op = Op()
        self.session.hint = -math.inf
        self.session.connection_made(now)
        if self.needs_boot:
            self.session.registered = False
            op.hold()
            self._boot_waiters.append(op)
            self.send_boot(now)
        else:
            self._resync(now, op)
        op.release()
        return op

    def connection_lost(self, now: float) -> None:
        """The socket is gone (see :mod:`.session` for what happens to queued CALLs)."""
        self._returned = 0
        self.session.connection_lost(now)
        self._heartbeat_queued = False

    def defer_boot(self) -> None:
        """The driver could not reconnect at once after a restart: whoever waits for the boot
        stops waiting (it happens when the connection is back)."""
        waiters, self._boot_waiters = self._boot_waiters, []
        for op in waiters:
            op.release()

    def take_restart(self) -> str | None:
        """The boot reason when a reset or reboot wants the socket closed and opened again
        (once); the driver then calls :meth:`connection_lost` and :meth:`connection_made`."""
        reason = self.session.restart
        if reason is not None:
            self.session.restart = None
        return reason

    def receive_frame(self, data: str | bytes, now: float) -> None:
        """One websocket message from the central system."""
        self.session.receive(data, now)

    def frames_to_send(self) -> list[bytes]:
        """Every frame to write, oldest first (the outbox is empty afterwards)."""
        frames, self.session.outbox = self.session.outbox, []
        return frames

    def take_deadline_hint(self) -> float:
        """The earliest deadline set since the last call (``inf``: none; ``-inf``: anything
        may have changed). A driver whose timer is armed earlier than this need not ask
        :meth:`next_deadline` again: the cheap check after every frame."""
        hint, self.session.hint = self.session.hint, math.inf
        return hint

    def _schedule(self, at: float) -> None:
        if at < self.session.hint:
            self.session.hint = at

    def next_deadline(self) -> float | None:
        """The earliest time :meth:`handle_timers` has something to do, or None. (Called after
        every frame: kept to a few comparisons.)"""
        due = self.session.next_deadline()
        heartbeat = self._heartbeat_due
        if heartbeat is not None and (due is None or heartbeat < due) and self.registered:
            due = heartbeat
        if self._timers and (due is None or self._timers[0][0] < due):
            due = self._timers[0][0]
        if self._meters:
            for meter_due, _tx in self._meters.values():
                if due is None or meter_due < due:
                    due = meter_due
        expiry = self.station.next_expiry()
        if expiry is not None and (due is None or expiry < due):
            due = expiry
        return due

    def handle_timers(self, now: float) -> None:
        """Do what is due at ``now``: call timeouts and retries, timers of command state
        machines, heartbeat, meter samples, reservation expiry."""
        self.session.expire(now)
        while self._timers and self._timers[0][0] <= now:
            _due, _seq, action = heapq.heappop(self._timers)
            action(now)
        if self._heartbeat_due is not None and now >= self._heartbeat_due and self.registered:
            self._heartbeat_due = now + self.settings.heartbeat_interval_s
            self._schedule(self._heartbeat_due)
            if not self._heartbeat_queued:
                self._heartbeat_queued = True
                self.call(self.adapter.heartbeat(), now, None, then=self._heartbeat_done)
        for number, (due, transaction_id) in list(self._meters.items()):
            if now < due:
                continue
            tx = self.station.transaction(number)
            if tx is None or tx.id != transaction_id:
                del self._meters[number]
                continue
            self._meters[number] = (now + self.settings.meter_interval_s, transaction_id)
            self._schedule(self._meters[number][0])
            self.deliver(self.station.update(now), now, None)
            sample = self.station.sample(number, now)
            if sample is not None:
                self.deliver((sample,), now, None)
        expiry = self.station.next_expiry()
        if expiry is not None and expiry <= now:
            self.deliver(self.station.update(now), now, None)

    def act(self, event: ev.Event, now: float) -> Op:
        """Make ``event`` happen; the op is done once every CALL it caused is over. Raises
        :class:`ChargePointError` at once for an event the station refuses."""
        op = Op()
        try:
            self._ACTIONS[type(event)](self, event, now, op)
        finally:
            op.release()
        return op

    def send_raw(self, action: str, payload: Payload, now: float) -> Op:
        """``act(SendRaw(action, payload), now)`` in one step: the load path (the session's
        own method, see ``__init__``)."""
        return self.session.send_raw(action, payload, now)

    def set_configuration(self, name: str, value: str, now: float) -> bool:
        """Change a setting locally by 1.6 key or 2.0.1 ``Component.Variable``; False when
        unknown, read-only or invalid. Takes effect like a ChangeConfiguration."""
        component, _, variable = name.partition(".")
        setting = by_key16(name) or by_variable(component, variable)
        if setting is None or not setting.write(self.settings, value):
            return False
        if "Heartbeat" in name:
            self.reschedule_heartbeat(now)
        return True

    def answer_next(self, armed: ArmedAnswer) -> ArmedAnswer:
        """Arm the answer to the next incoming CALL of its action (checked against the
        official response schema: strict raises :class:`SchemaViolation`, lenient logs)."""
        mode = self.config.validation_mode
        if mode != "off":
            try:
                check_armed(self.config.ocpp_version, armed)
            except SchemaViolation as exc:
                if mode == "strict":
                    raise
                log.warning("%s: %s", self.identity, exc)
        queue = self._armed.setdefault(armed.action, deque())
        queue.append(armed)
        armed._queue = queue
        return armed

    def credentials_refused(self, status: int, now: float) -> None:
        """A connect attempt was refused with HTTP 401/403: a security event waits for the next
        successful connect (2.0.1 A04)."""
        self.record_security_event(
            "FailedToAuthenticateAtCsms", f"HTTP {status} on connect to {self.config.csms_url}", now
        )

    # -- building blocks (used by the commands) ----------------------------------------------

    def deliver(self, intents: Iterable[Intent], now: float, op: Op | None) -> None:
        """Queue the station's intents in order: transaction messages durably (marked
        ``offline`` when there is no connection), statuses only while connected (the current
        ones are sent after a reconnect, 1.6 §4.9 / 2.0.1 G01)."""
        session = self.session
        for intent in intents:
            if isinstance(intent, _TX):
                waiter = op
                if not session.connected:  # queued; the action does not wait for a reconnect
                    intent = dataclasses.replace(intent, offline=True)
                    waiter = None
                self.queue.append(intent)
                session.enqueue(Ticket("tx", None, waiter, intent=intent), now)
                if isinstance(intent, TransactionStarted):
                    due = now + self.settings.meter_interval_s
                    self._meters[intent.evse] = (due, intent.transaction_id)
                    self._schedule(due)
                elif isinstance(intent, TransactionStopped):
                    self._meters.pop(intent.evse, None)
                    self.commands.transaction_ended(intent.evse, now, op)
            elif session.connected:
                calls = self.adapter.translate(intent)
                if calls:
                    session.enqueue(Ticket("status", calls, op), now)

    def call(
        self,
        call: OutgoingCall,
        now: float,
        op: Op | None,
        *,
        then: Callable[[Payload, float], None] | None = None,
        failed: Callable[[BaseException, float], None] | None = None,
    ) -> None:
        """Queue a CALL that is not a transaction message; offline it fails at once."""
        if not self.session.connected:
            error = CsmsUnreachable(f"{self.identity}: not connected, cannot send {call.action}")
            if op is not None:
                op.fail(error)
            if failed is not None:
                failed(error, now)
            return
        self.session.enqueue(Ticket("call", [call], op, then=then, failed=failed), now)

    def after(self, delay_s: float, action: Callable[[float], None], now: float) -> None:
        """Run ``action(at)`` from :meth:`handle_timers` once ``delay_s`` passed."""
        at = now + max(0.0, delay_s)
        heapq.heappush(self._timers, (at, next(self._timer_seq), action))
        self._schedule(at)

    def restart(self, boot_reason: str, now: float, op: Op | None) -> None:
        """Reboot once everything queued before it was sent: the socket closes and opens again
        and the charge point boots with ``boot_reason``; ``op`` waits for that boot."""

        def restarting(_payload: Payload, _now: float) -> None:
            self.needs_boot = True
            self.boot_reason = boot_reason
            if op is not None:
                op.hold()
                self._boot_waiters.append(op)

        if not self.session.connected:
            restarting({}, now)  # powered off and on while offline: boots once connected
            self.defer_boot()
            return
        ticket = Ticket("barrier", None, op, then=restarting)
        ticket.data = boot_reason
        self.session.enqueue(ticket, now)

    def record_security_event(self, event: str, tech_info: str | None, now: float) -> None:
        """Keep ``event`` until it is delivered; repeats of one still waiting merge."""
        if not any(pending[0] == event for pending in self._security):
            self._security.append((event, now, tech_info))

    def flush_security_events(self, now: float, op: Op | None) -> None:
        """Queue the waiting security events while connected and registered (2.0.1 A04)."""
        while self._security and self.registered:
            event, at, tech_info = self._security.pop(0)
            call = self.adapter.security_event_notification(event, at, tech_info)
            ticket = Ticket("security", [call], op, failed=self._security_failed)
            ticket.data = (event, at, tech_info)
            self.session.enqueue(ticket, now)

    def after_boot(self, action: Callable[[float], None]) -> None:
        """Run ``action(at)`` once the next BootNotification was Accepted."""
        self._after_boot.append(action)

    def reschedule_heartbeat(self, now: float) -> None:
        """(Re)arm the heartbeat: 1.6 §4.6 HeartbeatInterval, 2.0.1 G02."""
        self._heartbeat_due = now + self.settings.heartbeat_interval_s
        self._schedule(self._heartbeat_due)

    def send_boot(self, now: float) -> None:
        """BootNotification (1.6 §4.2 / 2.0.1 B01), until Accepted."""
        if not self.needs_boot or not self.session.connected or self.session.boot is not None:
            return  # registered meanwhile (a stale retry), offline, or one is on its way
        call = self.adapter.boot_notification(
            self.config.vendor, self.config.model, reason=self.boot_reason
        )
        ticket = Ticket("boot", [call], None, then=self._boot_answered, failed=self._boot_failed)
        self.session.enqueue(ticket, now)

    # -- internals ---------------------------------------------------------------------------

    def _boot_answered(self, payload: Payload, now: float) -> None:
        result = self.adapter.boot_result(payload)
        if result.status != "Accepted":
            # 1.6 §4.2 / 2.0.1 B02-B03: wait the given interval, then boot again.
            retry_s = result.interval_s if result.interval_s > 0 else _DEFAULT_RETRY_S
            self.after(retry_s, self.send_boot, now)
            return
        if result.interval_s > 0:
            self.settings.heartbeat_interval_s = result.interval_s
        self.needs_boot = False
        self.session.registered = True
        self.adapter.forget_sent_statuses()
        waiters, self._boot_waiters = self._boot_waiters, []
        op = waiters[0] if waiters else None
        self.deliver(self.station.boot(now), now, op)
        self.reschedule_heartbeat(now)
        self.flush_security_events(now, op)
        after, self._after_boot = self._after_boot, []
        for action in after:
            action(now)
        for waiter in waiters:
            waiter.release()

    def _boot_failed(self, error: BaseException, now: float) -> None:
        waiters, self._boot_waiters = self._boot_waiters, []
        for op in waiters:
            op.fail(error)
            op.release()
        if not isinstance(error, CsmsUnreachable):
            self.after(_DEFAULT_RETRY_S, self.send_boot, now)

    def _resync(self, now: float, op: Op) -> None:
        """After a reconnect without a boot: what waited goes first (it is queued), then every
        current status and the security events that waited."""
        self.session.registered = True
        self.adapter.forget_sent_statuses()
        self.deliver(self.station.current_statuses(now), now, op)
        self.flush_security_events(now, op)

    def _heartbeat_done(self, _payload: Payload, _now: float) -> None:
        self._heartbeat_queued = False

    def _security_failed(self, error: BaseException, _now: float) -> None:
        if not isinstance(error, CsmsUnreachable):
            log.info("%s: security event not delivered: %s", self.identity, error)

    def _security_back(self, ticket: Ticket) -> None:
        """A lost connection hands back a queued security event: it waits again."""
        self._security.insert(self._returned, ticket.data)
        self._returned += 1

    def _answer_implies(self, commands: list[Command], now: float, op: Op | None) -> None:
        self.commands.run(commands, now, op)

    def _serve(self, message: Call | CallResult | CallError, now: float) -> None:
        """Answer the central system's CALL, then carry out what it asked for: OCPP-J wants the
        answer first (e.g. 1.6 §5.11 RemoteStartTransaction before StartTransaction)."""
        assert isinstance(message, Call)
        unique_id, action, payload = message
        self.session.hint = -math.inf  # a reservation, a changed interval, …
        strict = self.config.validation_mode
        reply: Payload | None = None
        result = None
        answer: list[Any]
        try:
            if strict != "off":
                self._check(action, "request", payload)
            queue = self._armed.get(action)
            armed = queue.popleft() if queue else None
            if armed is not None and armed.refusal:
                reply = armed.compose(None)  # refused: the request has no effect
            else:
                try:
                    result = self.adapter.handle(action, payload, now)
                except CallErrorReply:
                    if armed is None:
                        raise
                    reply = armed.compose(None)  # answered for a simulator that cannot
                else:
                    reply = result.payload if armed is None else armed.compose(result.payload)
            if strict != "off":
                self._check(action, "response", reply)
            answer = [3, unique_id, reply]
        except SchemaViolation as exc:
            result = None
            code = exc.code if exc.kind == "request" else "InternalError"
            answer = CallError(unique_id, code, str(exc)[:255]).to_array()
        except CallErrorReply as exc:
            result = None
            answer = CallError(unique_id, exc.code, exc.description, exc.details).to_array()
        except ChargePointError as exc:
            log.warning("%s: %s refused: %s", self.identity, action, exc)
            result = None
            answer = CallError(unique_id, "InternalError", str(exc)[:255]).to_array()
        self.session.send_answer(answer, now)
        if self.session.on_call is not None:
            refused = answer[2] if answer[0] == 4 else None
            self.session.on_call("in", action, 0.0, refused)
        if result is not None:
            try:
                self.deliver(result.intents, now, None)
                self.commands.run(result.commands, now, None)
            except ChargePointError as exc:
                log.warning("%s: after %s: %s", self.identity, action, exc)

    def _check(self, action: str, kind: Any, payload: Payload) -> None:
        violation = self.session.violation(action, kind, payload)
        if violation is not None:
            raise violation

    # -- actions -----------------------------------------------------------------------------

    def _plug_in(self, event: ev.PlugIn, now: float, op: Op) -> None:
        self.deliver(self.station.plug_in(event.evse, now, ev=event.ev), now, op)

    def _unplug(self, event: ev.Unplug, now: float, op: Op) -> None:
        self.deliver(self.station.unplug(event.evse, now), now, op)

    def _authorize_event(self, event: ev.Authorize, now: float, op: Op) -> None:
        self.commands.authorize(event.evse, event.id_token, now, op, None)

    def _start_charging(self, event: ev.StartCharging, now: float, op: Op) -> None:
        evse, token = event.evse, event.id_token
        if not self.station.evse(evse).plugged:
            self.deliver(self.station.plug_in(evse, now), now, op)

        def authorized(status: str, at: float) -> None:
            if status != "Accepted":
                op.fail(
                    ChargePointError(f"{self.identity}: id token {token!r} not accepted: {status}")
                )
                return
            self.deliver(self.station.start_transaction(evse, token, at), at, op)

        self.commands.authorize(evse, token, now, op, authorized)

    def _stop_charging(self, event: ev.StopCharging, now: float, op: Op) -> None:
        try:
            reason = StopReason(event.reason)
        except ValueError:
            raise ChargePointError(f"unknown stop reason {event.reason!r}") from None
        self.deliver(self.station.stop_transaction(event.evse, reason, now), now, op)

    def _set_ev_demand(self, event: ev.SetEvDemand, now: float, op: Op) -> None:
        self.deliver(self.station.set_ev_demand(event.evse, event.wants_energy, now), now, op)

    def _set_power_limit(self, event: ev.SetPowerLimit, now: float, op: Op) -> None:
        self.deliver(self.station.set_power_limit(event.evse, event.limit_w, now), now, op)

    def _set_fault(self, event: ev.SetFault, now: float, op: Op) -> None:
        intents = self.station.set_fault(event.evse, event.faulted, now, event.error_code)
        self.deliver(intents, now, op)

    def _set_ev_power(self, event: ev.SetEvPower, now: float, op: Op) -> None:
        intents = self.station.set_ev(event.evse, now, max_power_w=event.power_w)
        self.deliver(intents, now, op)

    def _set_soc(self, event: ev.SetSoc, now: float, op: Op) -> None:
        self.deliver(self.station.set_ev(event.evse, now, soc_pct=event.soc_pct), now, op)

    def _set_energy(self, event: ev.SetEnergy, now: float, op: Op) -> None:
        self.deliver(self.station.set_energy(event.evse, event.energy_wh, now), now, op)

    def _trigger_event(self, event: ev.Trigger, now: float, op: Op) -> None:
        message = self.adapter.triggerable.get(event.message)
        if message is None:
            names = ", ".join(sorted(self.adapter.triggerable))
            raise ChargePointError(
                f"{self.identity}: OCPP {self.adapter.version} cannot trigger "
                f"{event.message!r}; one of: {names}"
            )
        if event.evse not in (None, 0):
            self.station.evse(event.evse)  # an unknown EVSE is refused here
        if not self.registered:
            raise CsmsUnreachable(f"{self.identity}: not connected and booted")
        self.commands.run([TriggerRequested(message, event.evse)], now, op)  # type: ignore[arg-type]

    def _reset_event(self, event: ev.Reset, now: float, op: Op) -> None:
        kinds = ("Soft", "Hard") if self.adapter.version == "1.6" else ("Immediate", "OnIdle")
        if event.kind not in kinds:
            raise ChargePointError(
                f"{self.identity}: OCPP {self.adapter.version} reset type is "
                f"{' or '.join(kinds)}, not {event.kind!r}"
            )
        if event.evse is not None:
            if self.adapter.version == "1.6":
                raise ChargePointError(f"{self.identity}: OCPP 1.6 resets the whole station")
            self.station.evse(event.evse)
        command = ResetRequested(
            immediate=event.kind != "OnIdle", hard=event.kind == "Hard", evse=event.evse
        )
        self.commands.reset(command, now, op, local=True)

    def _data_transfer(self, event: ev.DataTransfer, now: float, op: Op) -> None:
        self.call(
            self.adapter.data_transfer(event.vendor_id, event.message_id, event.data), now, op
        )

    def _send_raw_call(self, event: ev.SendRaw, now: float, op: Op) -> None:
        if self.session.connected:  # call(), inline: the load path
            self.session.enqueue(
                Ticket("call", [OutgoingCall(event.action, event.payload)], op), now
            )
        else:
            self.call(OutgoingCall(event.action, event.payload), now, op)

    def _reboot(self, event: ev.Reboot, now: float, op: Op) -> None:
        self.commands.stop_all(StopReason.POWER_LOSS, now, op)
        tech_info = f"Power cycle (boot reason {event.reason})"
        self.record_security_event("ResetOrReboot", tech_info, now)
        self.restart(event.reason, now, op)

    _ACTIONS: dict[type, Callable[[ChargePointProtocol, Any, float, Op], None]] = {
        ev.PlugIn: _plug_in,
        ev.Unplug: _unplug,
        ev.Authorize: _authorize_event,
        ev.StartCharging: _start_charging,
        ev.StopCharging: _stop_charging,
        ev.SetEvDemand: _set_ev_demand,
        ev.SetPowerLimit: _set_power_limit,
        ev.SetFault: _set_fault,
        ev.SetEvPower: _set_ev_power,
        ev.SetSoc: _set_soc,
        ev.SetEnergy: _set_energy,
        ev.Trigger: _trigger_event,
        ev.Reset: _reset_event,
        ev.DataTransfer: _data_transfer,
        ev.SendRaw: _send_raw_call,
        ev.Reboot: _reboot,
    }
