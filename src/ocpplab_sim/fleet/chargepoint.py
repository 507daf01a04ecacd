"""The composed simulated charge point: station model + version adapter + websocket connection.

Action methods (:meth:`SimulatedChargePoint.plug_in`, …) feed an event to the sans-I/O station
and deliver the intents it returns, returning once the central system answered every CALL they
caused. Transaction-related intents go through an offline queue (durable with a state
directory) and are sent strictly in order; while disconnected they stay queued (the method
returns right away) and are delivered after the reconnect, followed by a StatusNotification for
every EVSE. Timers (heartbeat, reservation expiry) are event-loop timer handles, not tasks, so
an idle charge point costs no coroutine.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import ssl
import time
from collections.abc import Callable, Coroutine, Iterable
from pathlib import Path
from typing import Any, Literal

from ocpplab_sim.connection import (
    BasicAuth,
    FileOfflineQueue,
    MemoryOfflineQueue,
    OcppConnection,
    OfflineQueue,
    ReconnectPolicy,
    Reply,
)
from ocpplab_sim.errors import ChargePointError, ConnectivityError, CsmsUnreachable, OcppCallError
from ocpplab_sim.fleet.config import ChargePointConfig, FrameRecord
from ocpplab_sim.fleet.operations import Operations
from ocpplab_sim.protocol import Adapter, OutgoingCall, Settings, V16Adapter, V201Adapter
from ocpplab_sim.protocol.settings import by_key16, by_variable
from ocpplab_sim.station import (
    Ev,
    Intent,
    Station,
    StopReason,
    TransactionIntent,
    TransactionStarted,
    TransactionStopped,
    decode_intent,
    encode_intent,
)

__all__ = ["SimulatedChargePoint", "ssl_context_for"]

log = logging.getLogger(__name__)

Payload = dict[str, Any]
_DEFAULT_RETRY_S = 10.0


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


class SimulatedChargePoint(Operations):
    """One simulated OCPP 1.6J or 2.0.1 charge point.

    ``clock`` (epoch seconds) stamps messages and drives the meter; ``reconnect`` sets the
    backoff after an unrequested close; ``queue`` holds transaction intents while offline
    (default: a journal under ``config.state_dir``, else memory); ``auth`` / ``ssl_context``
    override what the config's security settings give.
    """

    def __init__(
        self,
        config: ChargePointConfig,
        *,
        on_frame: Callable[[FrameRecord], None] | None = None,
        clock: Callable[[], float] = time.time,
        reconnect: ReconnectPolicy | None = None,
        queue: OfflineQueue[TransactionIntent] | None = None,
        auth: BasicAuth | None = None,
        ssl_context: ssl.SSLContext | None = None,
        id_factory: Callable[[], str] | None = None,
    ) -> None:
        self.config = config
        self.identity = config.identity
        self._on_frame = on_frame
        self._clock = clock
        self._station = Station(
            config.evse_count,
            max_power_w=config.powers_w,
            seed=config.seed,
            id_factory=id_factory,
            dc=config.current_type == "DC",
        )
        self._settings = Settings(
            meter_interval_s=config.meter_interval_s, firmware_version=config.firmware_version
        )
        adapter_type = V16Adapter if config.ocpp_version == "1.6" else V201Adapter
        self._adapter: Adapter = adapter_type(self._station, self._settings)
        if auth is None and config.password is not None:
            auth = BasicAuth(config.identity, config.password)
        mode = config.validation_mode
        self._conn = OcppConnection(
            config.url,
            self._adapter.subprotocol,
            self._handle,
            on_frame=self._record if on_frame is not None else None,
            on_connected=self._on_reconnected,
            reconnect=reconnect or ReconnectPolicy(rng=random.Random(config.seed)),
            strict_version=None if mode == "off" else config.ocpp_version,
            lenient=mode == "lenient",
            auth=auth,
            ssl_context=ssl_context or ssl_context_for(config),
        )
        self._state_file: Path | None = None
        if queue is None and config.state_dir is not None:
            base = Path(config.state_dir)
            queue = FileOfflineQueue(
                base / f"{config.identity}.queue.jsonl", encode_intent, decode_intent
            )
            self._state_file = base / f"{config.identity}.state.json"
            if self._state_file.exists():
                self._adapter.restore(json.loads(self._state_file.read_text(encoding="utf-8")))
        self._queue: OfflineQueue[TransactionIntent] = (
            queue if queue is not None else MemoryOfflineQueue()
        )
        self._adapter.queued_transactions = lambda: {i.transaction_id for i in self._queue}
        self._head: tuple[TransactionIntent, list[OutgoingCall]] | None = None
        self._drain_lock = asyncio.Lock()
        self._drain_owner: asyncio.Task[Any] | None = None
        self._heartbeat: asyncio.TimerHandle | None = None
        self._update_timer: asyncio.TimerHandle | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._meters: dict[int, asyncio.Task[None]] = {}
        self._reset_when_idle = False
        self._needs_boot = False
        self._state: Literal["new", "started", "stopped"] = "new"

    # -- public API ------------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        return self._conn.connected

    @property
    def reconnects(self) -> int:
        """How many times the connection came back after a close the harness did not ask for."""
        return self._conn.reconnects

    @property
    def station(self) -> Station:
        """The underlying model, for inspection (change it only through the action methods)."""
        return self._station

    @property
    def settings(self) -> Settings:
        """The configuration / device model (read it; change it with set_configuration)."""
        return self._settings

    @property
    def queued(self) -> int:
        """Transaction messages waiting for delivery."""
        return len(self._queue)

    async def start(self) -> None:
        """Connect, boot (1.6 §4.2 / 2.0.1 B01), report every status, deliver any queued
        transaction messages (e.g. from before a restart), start heartbeats.

        BootNotification Pending or Rejected is retried after the interval the central system
        gave. Raises :class:`CsmsUnreachable` if the websocket cannot be opened; any other
        failure closes the connection again and propagates.
        """
        if self._state != "new":
            raise ChargePointError(f"{self.identity}: start() may be called once")
        self._state = "started"
        try:
            await self._conn.open()
            await self._boot("PowerUp")
            await self._drain()
        except BaseException:
            await self.stop()
            raise

    async def stop(self) -> None:
        """Stop timers and loops and close the websocket with code 1000. Idempotent; never
        raises. Running transactions are left as they are (the process "loses power");
        undelivered messages stay in a durable queue."""
        if self._state == "stopped":
            return
        self._state = "stopped"
        for handle in (self._heartbeat, self._update_timer):
            if handle is not None:
                handle.cancel()
        # The connection goes first: it cancels the answer-then-act tasks that could otherwise
        # start new loops after these were collected.
        with contextlib.suppress(Exception):
            await self._conn.close()
        tasks = [*self._tasks, *self._meters.values()]
        current = asyncio.current_task()
        for task in tasks:
            if task is not current:
                task.cancel()
        for task in tasks:
            if task is not current:
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
        self._require_started()
        ev = Ev(max_power_w=ev_max_power_w, battery_wh=battery_wh, soc_pct=soc_pct)
        await self._deliver(self._station.plug_in(evse, self._clock(), ev=ev))

    async def unplug(self, evse: int) -> None:
        """The cable is removed; a running transaction ends first (EVDisconnected)."""
        self._require_started()
        await self._deliver(self._station.unplug(evse, self._clock()))

    async def authorize(self, evse: int, id_token: str) -> str:
        """Authorize (1.6 §4.1, §3.5; 2.0.1 C01, C12-C14); returns the status.

        The local list, then the cache, answer without a CALL when LocalPreAuthorize is on or
        the charge point is offline and LocalAuthorizeOffline is on; otherwise the central
        system is asked and its answer cached (AuthorizationCacheEnabled).
        """
        self._require_started()
        s = self._settings
        now = self._clock()
        local = self._station.auth.lookup(
            id_token, now, use_list=s.local_auth_list_enabled, use_cache=s.auth_cache_enabled
        )
        offline = not self._conn.connected
        if local == "Accepted" and (
            s.local_pre_authorize or (offline and s.local_authorize_offline)
        ):
            status = local
        else:
            response = await self._call(self._adapter.authorize(id_token))
            status = self._adapter.authorize_status(response)
            if s.auth_cache_enabled:
                self._station.auth.remember(id_token, status)
        await self._deliver(self._station.authorize(evse, id_token, status == "Accepted", now))
        return status

    async def start_charging(self, evse: int, id_token: str) -> None:
        """Plug in if needed, authorize, start the transaction (1.6 StartTransaction; 2.0.1
        TransactionEvent Started then Updated) and begin periodic meter values.

        Raises :class:`ChargePointError` if the token is not accepted.
        """
        self._require_started()
        if not self._station.evse(evse).plugged:
            await self.plug_in(evse)
        status = await self.authorize(evse, id_token)
        if status != "Accepted":
            raise ChargePointError(f"{self.identity}: id token {id_token!r} not accepted: {status}")
        await self._deliver(self._station.start_transaction(evse, id_token, self._clock()))

    async def stop_charging(self, evse: int, reason: str = "Local") -> None:
        """End the transaction (1.6 StopTransaction + Finishing; 2.0.1 TransactionEvent Ended);
        the cable stays in. ``reason`` is a 1.6 Reason or 2.0.1 ReasonEnumType value."""
        self._require_started()
        try:
            stop_reason = StopReason(reason)
        except ValueError:
            raise ChargePointError(f"unknown stop reason {reason!r}") from None
        await self._deliver(self._station.stop_transaction(evse, stop_reason, self._clock()))

    async def set_ev_demand(self, evse: int, wants_energy: bool) -> None:
        """The EV requests (Charging) or stops (SuspendedEV) drawing energy."""
        self._require_started()
        await self._deliver(self._station.set_ev_demand(evse, wants_energy, self._clock()))

    async def set_power_limit(self, evse: int, limit_w: float | None) -> None:
        """Cap the power offered to the EV locally (0: SuspendedEVSE; None: no cap); the
        charging profiles of the central system apply on top."""
        self._require_started()
        await self._deliver(self._station.set_power_limit(evse, limit_w, self._clock()))

    async def set_fault(self, evse: int, faulted: bool, error_code: str = "OtherError") -> None:
        """Inject (Faulted, ends a running transaction) or clear a fault. ``error_code`` is a
        1.6 ChargePointErrorCode or a vendor code (2.0.1: NotifyEvent techCode)."""
        self._require_started()
        await self._deliver(self._station.set_fault(evse, faulted, self._clock(), error_code))

    async def set_configuration(self, name: str, value: str) -> bool:
        """Change a setting locally by 1.6 key or 2.0.1 ``Component.Variable``; False when
        unknown, read-only or invalid. Takes effect like a ChangeConfiguration."""
        component, _, variable = name.partition(".")
        setting = by_key16(name) or by_variable(component, variable)
        if setting is None or not setting.write(self._settings, value):
            return False
        if "Heartbeat" in name:
            self._schedule_heartbeat()
        return True

    async def data_transfer(
        self, vendor_id: str, message_id: str | None = None, data: str | None = None
    ) -> Payload:
        """DataTransfer to the central system (1.6 §4.3, 2.0.1 P02); returns its answer."""
        self._require_started()
        return await self._call(self._adapter.data_transfer(vendor_id, message_id, data))

    async def send_raw(self, action: str, payload: Payload) -> Payload:
        """Send any CALL (still schema-checked in strict mode) and return the answer."""
        self._require_started()
        return await self._call(OutgoingCall(action, payload))

    async def disconnect(self) -> None:
        """Go offline (network loss) until :meth:`reconnect`; actions keep working and
        transaction messages queue up."""
        self._require_started()
        await self._conn.hold()

    async def reconnect(self) -> None:
        """Come back online: deliver the queue, then every status (no new boot)."""
        self._require_started()
        await self._conn.release()
        if self._conn.connected:
            await self._on_reconnected()

    async def reboot(self, reason: str = "PowerUp") -> None:
        """Power-cycle: running transactions end (PowerLoss), the connection closes and opens
        again, and the charge point boots (2.0.1 boot reason ``reason``)."""
        self._require_started()
        await self._stop_all(StopReason.POWER_LOSS)
        await self._reboot(reason)

    def status(self, evse: int) -> str:
        """The version-neutral status (1.6 ChargePointStatus vocabulary)."""
        return self._station.status(evse).value

    def energy_wh(self, evse: int) -> float:
        """The EVSE's Energy.Active.Import.Register in Wh, integrated up to now."""
        return self._station.energy_wh(evse, self._clock())

    # -- delivery --------------------------------------------------------------------------

    def _require_started(self) -> None:
        if self._state != "started":
            raise ChargePointError(f"{self.identity}: charge point is {self._state}, not started")

    async def _call(self, call: OutgoingCall) -> Payload:
        response = await self._conn.call(
            call.action, call.payload, timeout_s=self.config.call_timeout_s
        )
        commands = self._adapter.on_result(call, response)
        if commands:
            await self._run_commands(commands)
        return response

    async def _deliver(self, intents: Iterable[Intent]) -> None:
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
            if isinstance(intent, TransactionStopped) and self._reset_when_idle:
                await self._reset_if_idle()
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

    # -- boot, timers, loops ---------------------------------------------------------------

    async def _boot(self, reason: str) -> None:
        self._needs_boot = True
        while True:
            response = await self._call(
                self._adapter.boot_notification(
                    self.config.vendor, self.config.model, reason=reason
                )
            )
            result = self._adapter.boot_result(response)
            if result.status == "Accepted":
                if result.interval_s > 0:
                    self._settings.heartbeat_interval_s = result.interval_s
                break
            # 1.6 §4.2 / 2.0.1 B02-B03: wait the given interval, then boot again.
            await asyncio.sleep(result.interval_s if result.interval_s > 0 else _DEFAULT_RETRY_S)
        self._needs_boot = False
        self._adapter.forget_sent_statuses()
        await self._deliver(self._station.boot(self._clock()))
        self._schedule_heartbeat()

    async def _reboot(self, reason: str) -> None:
        """Close the socket, connect again and boot; when the central system is away the
        reconnect loop boots once it is back."""
        self._needs_boot = True
        try:
            await self._conn.restart()
        except CsmsUnreachable as exc:
            log.info("%s: offline after reboot: %s", self.identity, exc)
            return
        await self._boot(reason)
        await self._drain()

    def _schedule_heartbeat(self) -> None:
        """(Re)arm the heartbeat timer: 1.6 §4.6 HeartbeatInterval, 2.0.1 G02."""
        if self._heartbeat is not None:
            self._heartbeat.cancel()
            self._heartbeat = None
        if self._state != "started":
            return
        loop = asyncio.get_running_loop()
        self._heartbeat = loop.call_later(
            self._settings.heartbeat_interval_s, self._spawn, self._heartbeat_once
        )

    async def _heartbeat_once(self) -> None:
        try:
            if self._conn.connected and not self._needs_boot:
                await self._call(self._adapter.heartbeat())
        except (ChargePointError, ConnectivityError) as exc:
            log.info("%s: heartbeat failed: %s", self.identity, exc)
        finally:
            self._schedule_heartbeat()

    def _spawn(self, factory: Callable[[], Coroutine[Any, Any, None]]) -> None:
        """Run ``factory()`` as a task (from a timer callback); tasks die with :meth:`stop`."""
        if self._state != "started":
            return
        task = asyncio.get_running_loop().create_task(factory())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _schedule_update(self) -> None:
        """Arm a timer for the next reservation expiry (the meter loop covers the rest)."""
        if self._update_timer is not None:
            self._update_timer.cancel()
            self._update_timer = None
        if self._state != "started":
            return
        expiries = [
            r.expires_at
            for n in self._station.evse_numbers
            if (r := self._station.reservation(n)) is not None
        ]
        if expiries:
            delay = max(0.0, min(expiries) - self._clock())
            self._update_timer = asyncio.get_running_loop().call_later(
                delay, self._spawn, self._update_now
            )

    async def _update_now(self) -> None:
        self._update_timer = None
        try:
            await self._deliver(self._station.update(self._clock()))
        except (ChargePointError, ConnectivityError) as exc:
            log.info("%s: update failed: %s", self.identity, exc)

    def _start_meter(self, evse: int, transaction_id: str) -> None:
        if self._state != "started":
            return
        self._meters[evse] = asyncio.create_task(
            self._meter_loop(evse, transaction_id), name=f"meter {self.identity}/{evse}"
        )

    async def _meter_loop(self, evse: int, transaction_id: str) -> None:
        """Periodic samples while this transaction runs (1.6 §4.7 MeterValueSampleInterval,
        2.0.1 J02 TxUpdatedInterval), after the time-driven changes (profile steps, full
        battery). The loop ends by itself when the transaction ends, so it is never cancelled
        in the middle of a delivery."""
        while True:
            await asyncio.sleep(self._settings.meter_interval_s)
            tx = self._station.transaction(evse)
            if tx is None or tx.id != transaction_id:
                return
            try:
                now = self._clock()
                await self._deliver(self._station.update(now))
                sample = self._station.sample(evse, now)
                if sample is None:
                    return
                await self._submit(sample)
            except (ChargePointError, ConnectivityError) as exc:
                log.info("%s: meter values failed: %s", self.identity, exc)

    async def _on_reconnected(self) -> None:
        """After a reconnect: boot if a reboot is pending, else deliver the offline backlog,
        then every current status."""
        try:
            if self._needs_boot:
                await self._boot("PowerUp")
            await self._drain()
            self._adapter.forget_sent_statuses()
            await self._deliver(self._station.current_statuses(self._clock()))
        except (ChargePointError, ConnectivityError) as exc:
            log.warning("%s: resync after reconnect failed: %s", self.identity, exc)

    # -- central system → charge point ----------------------------------------------------

    async def _handle(self, action: str, payload: Payload) -> Reply:
        result = self._adapter.handle(action, payload, self._clock())
        commands, intents = result.commands, result.intents
        if not commands and not intents:
            return Reply(result.payload)

        async def then() -> None:
            await self._deliver(intents)
            await self._run_commands(commands)

        return Reply(result.payload, then)

    def _record(self, direction: Literal["out", "in"], message: list[Any]) -> None:
        if self._on_frame is None:
            return
        try:
            self._on_frame(FrameRecord(time.time(), direction, self.identity, message))
        except Exception:
            # An observer must not be able to break the receive loop.
            log.exception("%s: on_frame callback failed", self.identity)
