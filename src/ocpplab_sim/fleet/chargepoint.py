"""A simulated charge point on a real socket: the thin asyncio driver of one sans-I/O
:class:`~ocpplab_sim.chargepoint.ChargePointProtocol`.

The driver feeds the protocol what happens (socket opened or lost, a message, an action, a
deadline reached, always with the time from ``clock``) and writes the frames it hands back, in
order. It decides nothing itself: every behaviour lives in the protocol object. Action methods
(:meth:`SimulatedChargePoint.plug_in`, …) return once the central system answered every CALL
they caused; a transaction message queued while offline does not hold them up.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import ssl
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from ocpplab_sim.chargepoint import (
    ArmedAnswer,
    CallObserver,
    ChargePointConfig,
    ChargePointProtocol,
    FileOfflineQueue,
    FrameRecord,
    OfflineQueue,
    Op,
)
from ocpplab_sim.chargepoint import events as ev
from ocpplab_sim.connection import BasicAuth, LinkKeeper, ReconnectPolicy
from ocpplab_sim.errors import ChargePointError
from ocpplab_sim.protocol import Settings
from ocpplab_sim.station import Ev, Station, TransactionIntent, decode_intent, encode_intent

__all__ = ["SimulatedChargePoint", "ssl_context_for"]

log = logging.getLogger("ocpplab_sim.fleet.chargepoint")

Payload = dict[str, Any]


def _uuid4() -> str:
    return str(uuid.uuid4())


def ssl_context_for(config: ChargePointConfig) -> ssl.SSLContext | None:
    """The TLS context of security profiles 2 and 3: the CA bundle that verifies the central
    system and, for profile 3, the client certificate. None for ws:// URLs."""
    if not config.csms_url.startswith("wss://"):
        return None
    context = ssl.create_default_context(cafile=config.ca_file)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if config.cert_file is not None:
        context.load_cert_chain(config.cert_file, config.key_file)
    return context


class SimulatedChargePoint:
    """One simulated OCPP 1.6J or 2.0.1 charge point.

    ``clock`` (epoch seconds) is the only time the protocol sees: it stamps messages, drives the
    meter and every deadline. The driver turns a deadline into an event-loop timer of ``deadline
    - clock()`` seconds, so an injected clock must run at real speed (an offset is fine);
    virtual time is for the protocol object itself, driven without this driver. ``reconnect``
    sets the backoff after an unrequested close; ``queue`` holds transaction intents while
    offline (default: a journal under ``config.state_dir``, else memory); ``auth`` /
    ``ssl_context`` override what the config's security settings give. ``on_frame`` sees every
    frame (traces), ``on_call`` every finished CALL with its latency (cheaper; load runs).
    ``id_factory`` makes transaction ids (random UUIDs by default, unique across runs against
    the same central system).
    """

    _loop: asyncio.AbstractEventLoop  # the loop start() runs on

    def __init__(
        self,
        config: ChargePointConfig,
        *,
        on_frame: Callable[[FrameRecord], None] | None = None,
        on_call: CallObserver | None = None,
        clock: Callable[[], float] = time.time,
        reconnect: ReconnectPolicy | None = None,
        queue: OfflineQueue[TransactionIntent] | None = None,
        auth: BasicAuth | None = None,
        ssl_context: ssl.SSLContext | None = None,
        id_factory: Callable[[], str] | None = None,
    ) -> None:
        self.config = config
        self.identity = config.identity
        self._clock = clock
        self._on_frame = on_frame
        self._state_file: Path | None = None
        state: dict[str, object] | None = None
        if queue is None and config.state_dir is not None:
            base = Path(config.state_dir)
            queue = FileOfflineQueue(
                base / f"{config.identity}.queue.jsonl", encode_intent, decode_intent
            )
            self._state_file = base / f"{config.identity}.state.json"
            if self._state_file.exists():
                state = json.loads(self._state_file.read_text(encoding="utf-8"))
        self._proto = ChargePointProtocol(
            config,
            queue=queue,
            id_factory=id_factory or _uuid4,
            on_frame=self._record if on_frame is not None else None,
            on_call=on_call,
            persist=self._save_state if self._state_file is not None else None,
            state=state,
        )
        if auth is None and config.password is not None:
            auth = BasicAuth(config.identity, config.password)
        self._link = LinkKeeper(
            config.url,
            self._proto.adapter.subprotocol,
            on_open=self._opened,
            on_message=self._received,
            on_lost=self._lost,
            reconnect=reconnect or ReconnectPolicy(seed=config.seed),
            auth=auth,
            ssl_context=ssl_context or ssl_context_for(config),
            source_address=config.source_address,
            transport=config.transport,
            on_refused=self._refused,
        )
        self._opened_op: Op | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._timer_due = 0.0
        self._tasks: set[asyncio.Task[None]] = set()
        self._state: Literal["new", "started", "stopped"] = "new"

    # -- public API ------------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        return self._link.connected

    @property
    def reconnects(self) -> int:
        """How many times the connection came back after a close the harness did not ask for."""
        return self._link.reconnects

    @property
    def calls_answered(self) -> int:
        """How many of its CALLs the central system answered with a CALLRESULT."""
        return self._proto.session.calls_answered

    @property
    def protocol(self) -> ChargePointProtocol:
        """The sans-I/O charge point this driver runs (inspect it; act through the driver)."""
        return self._proto

    @property
    def station(self) -> Station:
        """The underlying model, for inspection (change it only through the action methods)."""
        return self._proto.station

    @property
    def settings(self) -> Settings:
        """The configuration / device model (read it; change it with set_configuration)."""
        return self._proto.settings

    @property
    def queued(self) -> int:
        """Transaction messages waiting for delivery."""
        return self._proto.queued

    async def start(self) -> None:
        """Connect, boot (1.6 §4.2 / 2.0.1 B01; Pending or Rejected is retried after the
        interval given), deliver any queued transaction messages (e.g. from before a restart),
        report every status, start heartbeats. Raises :class:`CsmsUnreachable` if the websocket
        cannot be opened; any other failure closes the connection again and propagates."""
        if self._state != "new":
            raise ChargePointError(f"{self.identity}: start() may be called once")
        self._state = "started"
        self._loop = asyncio.get_running_loop()
        try:
            await self._link.open()
            assert self._opened_op is not None
            await self._wait(self._opened_op)
        except BaseException:
            await self.stop()
            raise

    async def stop(self) -> None:
        """Stop timers and close the websocket with code 1000. Idempotent; never raises.
        Running transactions are left as they are (the process "loses power"); undelivered
        messages stay in a durable queue."""
        if self._state == "stopped":
            return
        self._state = "stopped"
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        with contextlib.suppress(Exception):
            await self._link.close()
        current = asyncio.current_task()
        tasks = [task for task in self._tasks if task is not current]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(BaseException):
                await task

    async def plug_in(
        self,
        evse: int,
        *,
        ev_max_power_w: float | None = None,
        battery_wh: float | None = None,
        soc_pct: float = 20.0,
    ) -> None:
        """A cable is plugged in: 1.6 Preparing, 2.0.1 Occupied (G01). The EV may be
        described: its maximum power, battery size and state of charge (SoC is then
        metered and a full battery ends its demand: SuspendedEV)."""
        car = Ev(max_power_w=ev_max_power_w, battery_wh=battery_wh, soc_pct=soc_pct)
        await self._act(ev.PlugIn(evse, car))

    async def unplug(self, evse: int) -> None:
        """The cable is removed; a running transaction ends first (EVDisconnected)."""
        await self._act(ev.Unplug(evse))

    async def authorize(self, evse: int, id_token: str) -> str:
        """Authorize (1.6 §4.1, §3.5; 2.0.1 C01, C12-C14); returns the status (see
        :meth:`~ocpplab_sim.chargepoint.commands.Commands.authorize`)."""
        return str(await self._act(ev.Authorize(evse, id_token)))

    async def start_charging(self, evse: int, id_token: str) -> None:
        """Plug in if needed, authorize, start the transaction (1.6 StartTransaction; 2.0.1
        TransactionEvent Started) and begin periodic meter values. Raises
        :class:`ChargePointError` if the token is not accepted."""
        await self._act(ev.StartCharging(evse, id_token))

    async def stop_charging(self, evse: int, reason: str = "Local") -> None:
        """End the transaction (1.6 StopTransaction + Finishing; 2.0.1 TransactionEvent Ended);
        the cable stays in. ``reason`` is a 1.6 Reason or 2.0.1 ReasonEnumType value."""
        await self._act(ev.StopCharging(evse, reason))

    async def set_ev_demand(self, evse: int, wants_energy: bool) -> None:
        """The EV requests (Charging) or stops (SuspendedEV) drawing energy."""
        await self._act(ev.SetEvDemand(evse, wants_energy))

    async def set_power_limit(self, evse: int, limit_w: float | None) -> None:
        """Cap the power offered to the EV locally (0: SuspendedEVSE; None: no cap); the
        charging profiles of the central system apply on top."""
        await self._act(ev.SetPowerLimit(evse, limit_w))

    async def set_fault(self, evse: int, faulted: bool, error_code: str = "OtherError") -> None:
        """Inject (Faulted, ends a running transaction) or clear a fault. ``error_code`` is a
        1.6 ChargePointErrorCode or a vendor code (2.0.1: NotifyEvent techCode)."""
        await self._act(ev.SetFault(evse, faulted, error_code))

    async def set_ev_power(self, evse: int, power_w: float) -> None:
        """The plugged EV draws at most ``power_w`` from now on."""
        await self._act(ev.SetEvPower(evse, power_w))

    async def set_soc(self, evse: int, soc_pct: float) -> None:
        """The plugged EV's state of charge is ``soc_pct`` from now on (metered from here; a
        battery of unknown size is taken as 60 kWh)."""
        await self._act(ev.SetSoc(evse, soc_pct))

    async def set_energy(self, evse: int, energy_wh: float) -> None:
        """Set the energy register of the running transaction (never lower) and send a meter
        sample at once (1.6 MeterValues, 2.0.1 TransactionEvent Updated)."""
        await self._act(ev.SetEnergy(evse, energy_wh))

    async def trigger(self, message: str, evse: int | None = None) -> None:
        """Send ``message`` now, as a TriggerMessage of the central system would (a
        TriggerMessage name of the charger's version, e.g. ``StatusNotification``)."""
        await self._act(ev.Trigger(message, evse))

    async def reset(self, kind: str, evse: int | None = None) -> None:
        """Reset on the spot (boot reason LocalReset): 1.6 ``Soft``/``Hard``, 2.0.1
        ``Immediate``/``OnIdle`` (2.0.1 may name one EVSE). Returns once the charger booted
        again (OnIdle: once the reset is scheduled, if a transaction runs)."""
        await self._act(ev.Reset(kind, evse))

    async def set_configuration(self, name: str, value: str) -> bool:
        """Change a setting locally by 1.6 key or 2.0.1 ``Component.Variable``; False when
        unknown, read-only or invalid. Takes effect like a ChangeConfiguration."""
        changed = self._proto.set_configuration(name, value, self._clock())
        self._flush()
        return changed

    async def data_transfer(
        self, vendor_id: str, message_id: str | None = None, data: str | None = None
    ) -> Payload:
        """DataTransfer to the central system (1.6 §4.3, 2.0.1 P02); returns its answer."""
        answer: Payload = await self._act(ev.DataTransfer(vendor_id, message_id, data))
        return answer

    async def send_raw(self, action: str, payload: Payload) -> Payload:
        """Send any CALL (still schema-checked in strict mode) and return the answer."""
        # _act(ev.SendRaw(action, payload)), inline: every call of a load run comes through here
        if self._state != "started":
            self._require_started()
        try:
            op = self._proto.send_raw(action, payload, self._clock())
        finally:
            self._flush()
        if not op.done:
            op.waker = future = self._loop.create_future()
            await future
        if op.error is not None:
            raise op.error
        answer: Payload = op.result
        return answer

    async def disconnect(self) -> None:
        """Go offline (network loss) until :meth:`reconnect`; actions keep working and
        transaction messages queue up."""
        self._require_started()
        await self._link.hold()

    async def reconnect(self) -> None:
        """Come back online: deliver the queue, then every status (no new boot)."""
        self._require_started()
        self._opened_op = None
        await self._link.release()
        opened = self._take_opened()  # set by _opened() when the link came back
        if opened is not None:
            await self._wait(opened)

    async def reboot(self, reason: str = "PowerUp") -> None:
        """Power-cycle: running transactions end (PowerLoss), the connection closes and opens
        again, the charge point boots (2.0.1 boot reason ``reason``) and reports the security
        event ResetOrReboot (2.0.1 A04)."""
        await self._act(ev.Reboot(reason))

    def answer_next(
        self, action: str, payload: Payload | None = None, *, status: str | None = None
    ) -> ArmedAnswer:
        """Arm the answer to the next incoming CALL of ``action`` (answers armed for the same
        action are used in order): ``payload`` replaces the simulator's answer, ``status`` fills
        its status field. A refusal (e.g. ``Rejected``) skips what the request would have done.
        Checked against the official response schema now and when sent: strict mode raises
        :class:`SchemaViolation`, lenient mode logs it. ``cancel()`` on the result disarms it.
        """
        if payload is None and status is None:
            raise ChargePointError(
                f"{self.identity}: answer_next({action!r}) needs a payload or a status"
            )
        return self._proto.answer_next(ArmedAnswer(action, payload, status))

    def status(self, evse: int) -> str:
        """The version-neutral status (1.6 ChargePointStatus vocabulary)."""
        return self._proto.station.status(evse).value

    def transaction_id(self, evse: int) -> str | int | None:
        """The id the central system knows the transaction running on ``evse`` by (1.6: the
        integer of its StartTransaction answer, None until it came; 2.0.1: the charger's own),
        or None when none runs."""
        tx = self._proto.station.transaction(evse)
        return None if tx is None else self._proto.adapter.transaction_id_on_wire(tx.id)

    def energy_wh(self, evse: int) -> float:
        """The EVSE's Energy.Active.Import.Register in Wh, integrated up to now."""
        return self._proto.station.energy_wh(evse, self._clock())

    # -- driving the protocol ----------------------------------------------------------------

    def _require_started(self) -> None:
        if self._state != "started":
            raise ChargePointError(f"{self.identity}: charge point is {self._state}, not started")

    async def _act(self, event: ev.Event) -> Any:
        """Hand ``event`` to the protocol, write what it queued, wait until the op is done.
        (Every action of a load run comes through here: kept to attribute reads.)"""
        if self._state != "started":
            self._require_started()
        try:
            op = self._proto.act(event, self._clock())
        finally:
            self._flush()
        if not op.done:
            op.waker = future = self._loop.create_future()
            await future
        if op.error is not None:
            raise op.error
        return op.result

    async def _wait(self, op: Op) -> None:
        if not op.done:
            op.waker = future = asyncio.get_running_loop().create_future()
            await future
        if op.error is not None:
            raise op.error

    def _opened(self) -> None:
        self._opened_op = self._proto.connection_made(self._clock())
        self._flush()

    def _take_opened(self) -> Op | None:
        opened, self._opened_op = self._opened_op, None
        return opened

    def _received(self, raw: str | bytes) -> None:
        proto = self._proto
        proto.receive_frame(raw, self._clock())
        session = proto.session
        if (
            session.outbox
            or session.restart is not None
            or self._timer is None
            or session.hint < self._timer_due
        ):
            self._flush()  # (most answers leave nothing to write and no deadline to move)

    def _lost(self) -> None:
        self._proto.connection_lost(self._clock())
        self._flush()

    def _refused(self, status: int) -> None:
        self._proto.credentials_refused(status, self._clock())

    def _flush(self) -> None:
        """Write what the protocol queued, carry out a restart it asked for, re-arm the
        timer for its next deadline. (After every frame and action: attribute reads first.)"""
        proto = self._proto
        session = proto.session
        outbox = session.outbox
        if outbox:
            try:
                self._link.send(outbox)  # (the link keeps no reference to the list)
            finally:
                outbox.clear()
        if session.restart is not None:
            proto.take_restart()
            if self._state == "started":
                self._spawn(self._restart())
        timer = self._timer
        if timer is not None and session.hint >= self._timer_due:
            return  # nothing new comes before the armed timer
        proto.take_deadline_hint()
        due = proto.next_deadline()
        if due is None or self._state != "started":
            return
        if timer is not None:
            if self._timer_due <= due:
                return  # it fires first; the protocol tells the next deadline then
            timer.cancel()
        self._timer_due = due
        # a millisecond late rather than early: an early wake-up finds nothing due
        delay = max(0.0, due - self._clock()) + 0.001
        self._timer = asyncio.get_running_loop().call_later(delay, self._fire)

    def _fire(self) -> None:
        self._timer = None
        if self._state != "started":
            return
        self._proto.handle_timers(self._clock())
        self._flush()

    async def _restart(self) -> None:
        """A reset or reboot: close the socket and connect again; the protocol boots."""
        if not await self._link.restart():
            log.info(
                "%s: offline after reboot; it boots once the connection is back", self.identity
            )
            self._proto.defer_boot()
            self._flush()

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _save_state(self) -> None:
        """Persist the adapter state that queued messages depend on (after each delivery, so
        a restart re-translates the head exactly as before)."""
        if self._state_file is not None:
            self._state_file.write_text(json.dumps(self._proto.snapshot()), encoding="utf-8")

    def _record(self, record: FrameRecord) -> None:
        if self._on_frame is None:
            return
        try:
            self._on_frame(record)
        except Exception:
            # An observer must not be able to break the charge point.
            log.exception("%s: on_frame callback failed", self.identity)
