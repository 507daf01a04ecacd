"""The composed simulated charge point: station model + version adapter + websocket connection.

Action methods (:meth:`SimulatedChargePoint.plug_in`, …) feed an event to the sans-I/O station
and deliver the intents it returns, returning once the central system answered every CALL they
caused. Transaction-related intents go through an offline queue and are sent strictly in order;
while disconnected they stay queued (the method returns right away) and are delivered after the
reconnect, followed by a StatusNotification for every EVSE.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import ssl
import time
from collections.abc import Callable, Iterable
from typing import Any, Literal

from ocpplab_sim.connection import (
    BasicAuth,
    MemoryOfflineQueue,
    OcppConnection,
    OfflineQueue,
    ReconnectPolicy,
    Reply,
)
from ocpplab_sim.errors import ChargePointError, ConnectivityError, CsmsUnreachable, OcppCallError
from ocpplab_sim.fleet.config import ChargePointConfig, FrameRecord
from ocpplab_sim.protocol import (
    Adapter,
    AvailabilityChange,
    Command,
    Deauthorize,
    OutgoingCall,
    RemoteStart,
    RemoteStop,
    ResetRequested,
    Settings,
    SettingsChanged,
    TriggerRequested,
    V16Adapter,
    V201Adapter,
)
from ocpplab_sim.station import (
    Intent,
    Station,
    StatusChanged,
    StopReason,
    TransactionIntent,
    TransactionStarted,
    TransactionStopped,
)

__all__ = ["SimulatedChargePoint"]

log = logging.getLogger(__name__)

Payload = dict[str, Any]
_DEFAULT_RETRY_S = 10.0


class SimulatedChargePoint:
    """One simulated OCPP 1.6J or 2.0.1 charge point.

    ``clock`` (epoch seconds) stamps messages and drives the meter; ``reconnect`` sets the
    backoff after an unrequested close; ``queue`` holds transaction intents while offline;
    ``auth`` / ``ssl_context`` are passed to the websocket handshake.
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
            max_power_w=config.max_power_w,
            seed=config.seed,
            id_factory=id_factory,
        )
        self._settings = Settings(meter_interval_s=config.meter_interval_s)
        adapter_type = V16Adapter if config.ocpp_version == "1.6" else V201Adapter
        self._adapter: Adapter = adapter_type(self._station, self._settings)
        self._conn = OcppConnection(
            config.url,
            self._adapter.subprotocol,
            self._handle,
            on_frame=self._record,
            on_connected=self._on_reconnected,
            reconnect=reconnect or ReconnectPolicy(rng=random.Random(config.seed)),
            strict_version=config.ocpp_version if config.strict else None,
            auth=auth,
            ssl_context=ssl_context,
        )
        self._queue: OfflineQueue[TransactionIntent] = queue or MemoryOfflineQueue()
        self._head: tuple[TransactionIntent, list[OutgoingCall]] | None = None
        self._drain_lock = asyncio.Lock()
        self._drain_owner: asyncio.Task[Any] | None = None
        self._heartbeat: asyncio.Task[None] | None = None
        self._meters: dict[int, asyncio.Task[None]] = {}
        self._reset_when_idle = False
        self._state: Literal["new", "started", "stopped"] = "new"

    # -- public API ------------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        return self._conn.connected

    @property
    def station(self) -> Station:
        """The underlying model, for inspection (change it only through the action methods)."""
        return self._station

    async def start(self) -> None:
        """Connect, boot (1.6 §4.2 / 2.0.1 B01), report every status, start heartbeats.

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
        except BaseException:
            await self.stop()
            raise

    async def stop(self) -> None:
        """Stop heartbeat and meter loops and close the websocket with code 1000. Idempotent;
        never raises. Running transactions are left as they are (the process "loses power")."""
        if self._state == "stopped":
            return
        self._state = "stopped"
        # The connection goes first: it cancels the answer-then-act tasks that could otherwise
        # start new loops after these were collected.
        with contextlib.suppress(Exception):
            await self._conn.close()
        tasks = [t for t in (self._heartbeat, *self._meters.values()) if t is not None]
        current = asyncio.current_task()
        for task in tasks:
            if task is not current:
                task.cancel()
        for task in tasks:
            if task is not current:
                with contextlib.suppress(BaseException):
                    await task

    async def plug_in(self, evse: int) -> None:
        """A cable is plugged in: 1.6 Preparing, 2.0.1 Occupied (G01)."""
        self._require_started()
        await self._deliver(self._station.plug_in(evse, self._clock()))

    async def unplug(self, evse: int) -> None:
        """The cable is removed; a running transaction ends first (EVDisconnected)."""
        self._require_started()
        await self._deliver(self._station.unplug(evse, self._clock()))

    async def authorize(self, evse: int, id_token: str) -> str:
        """Authorize (1.6 §4.1, 2.0.1 C01); returns idTagInfo / idTokenInfo status."""
        self._require_started()
        response = await self._call(self._adapter.authorize(id_token))
        status = self._adapter.authorize_status(response)
        await self._deliver(
            self._station.authorize(evse, id_token, status == "Accepted", self._clock())
        )
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
        """The EV starts or stops drawing energy (Charging ⇄ SuspendedEV)."""
        self._require_started()
        await self._deliver(self._station.set_ev_demand(evse, wants_energy, self._clock()))

    async def set_power_limit(self, evse: int, limit_w: float | None) -> None:
        """Cap the power offered to the EV (0: SuspendedEVSE; None: no cap)."""
        self._require_started()
        await self._deliver(self._station.set_power_limit(evse, limit_w, self._clock()))

    async def set_fault(self, evse: int, faulted: bool) -> None:
        """Inject (Faulted, ends a running transaction) or clear a fault."""
        self._require_started()
        await self._deliver(self._station.set_fault(evse, faulted, self._clock()))

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
            if isinstance(intent, StatusChanged):
                for call in self._adapter.translate(intent):
                    if not self._conn.connected:
                        break  # re-sent after the reconnect
                    with contextlib.suppress(CsmsUnreachable):
                        await self._call(call)
                continue
            if isinstance(intent, TransactionStarted):
                self._start_meter(intent.evse, intent.transaction_id)
            await self._submit(intent)
            if isinstance(intent, TransactionStopped) and self._reset_when_idle:
                await self._reset_if_idle()

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
            finally:
                self._drain_owner = None
        if errors:
            raise errors[0]

    # -- loops -----------------------------------------------------------------------------

    async def _boot(self, reason: str) -> None:
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
        self._adapter.forget_sent_statuses()
        await self._deliver(self._station.boot(self._clock()))
        self._restart_heartbeat()

    def _restart_heartbeat(self) -> None:
        if self._state != "started":
            return
        if self._heartbeat is not None and self._heartbeat is not asyncio.current_task():
            self._heartbeat.cancel()
        self._heartbeat = asyncio.create_task(
            self._heartbeat_loop(), name=f"heartbeat {self.identity}"
        )

    async def _heartbeat_loop(self) -> None:
        """Heartbeat at the interval from BootNotification / HeartbeatInterval (1.6 §4.6, G02)."""
        while True:
            await asyncio.sleep(self._settings.heartbeat_interval_s)
            if not self._conn.connected:
                continue
            try:
                await self._call(self._adapter.heartbeat())
            except (ChargePointError, ConnectivityError) as exc:
                log.info("%s: heartbeat failed: %s", self.identity, exc)

    def _start_meter(self, evse: int, transaction_id: str) -> None:
        if self._state != "started":
            return
        self._meters[evse] = asyncio.create_task(
            self._meter_loop(evse, transaction_id), name=f"meter {self.identity}/{evse}"
        )

    async def _meter_loop(self, evse: int, transaction_id: str) -> None:
        """Periodic samples while this transaction runs (1.6 §4.7 MeterValueSampleInterval,
        2.0.1 J02 TxUpdatedInterval). The loop ends by itself when the transaction ends, so it
        is never cancelled in the middle of a delivery."""
        while True:
            await asyncio.sleep(self._settings.meter_interval_s)
            tx = self._station.transaction(evse)
            if tx is None or tx.id != transaction_id:
                return
            sample = self._station.sample(evse, self._clock())
            if sample is None:
                return
            try:
                await self._submit(sample)
            except (ChargePointError, ConnectivityError) as exc:
                log.info("%s: meter values failed: %s", self.identity, exc)

    async def _on_reconnected(self) -> None:
        """After a reconnect: deliver the offline backlog, then every current status."""
        try:
            await self._drain()
            self._adapter.forget_sent_statuses()
            await self._deliver(self._station.current_statuses(self._clock()))
        except (ChargePointError, ConnectivityError) as exc:
            log.warning("%s: resync after reconnect failed: %s", self.identity, exc)

    # -- central system → charge point ----------------------------------------------------

    async def _handle(self, action: str, payload: Payload) -> Reply:
        result = self._adapter.handle(action, payload)
        commands = result.commands
        if not commands:
            return Reply(result.payload)
        return Reply(result.payload, lambda: self._run_commands(commands))

    async def _run_commands(self, commands: Iterable[Command]) -> None:
        for command in commands:
            await self._run_command(command)

    async def _run_command(self, command: Command) -> None:
        now = self._clock()
        if isinstance(command, RemoteStart):
            await self._remote_start(command)
        elif isinstance(command, RemoteStop):
            if self._station.transaction(command.evse) is not None:
                await self._deliver(
                    self._station.stop_transaction(command.evse, StopReason.REMOTE, now)
                )
        elif isinstance(command, Deauthorize):
            tx = self._station.transaction(command.evse)
            if tx is not None and tx.id == command.transaction_id:
                await self._deliver(
                    self._station.stop_transaction(command.evse, StopReason.DEAUTHORIZED, now)
                )
        elif isinstance(command, AvailabilityChange):
            _status, intents = self._station.set_availability(command.evse, command.operative, now)
            await self._deliver(intents)
        elif isinstance(command, SettingsChanged):
            if any("Heartbeat" in name for name in command.names):
                self._restart_heartbeat()
        elif isinstance(command, ResetRequested):
            await self._reset(command)
        elif isinstance(command, TriggerRequested):
            await self._trigger(command)

    async def _remote_start(self, command: RemoteStart) -> None:
        """1.6 §5.11 / 2.0.1 F01: plug the (simulated) EV in if needed and start; authorize
        first only when AuthorizeRemoteTxRequests / AuthorizeRemoteStart is true."""
        evse = command.evse
        authorize = self._settings.authorize_remote_start
        if authorize and await self.authorize(evse, command.id_token) != "Accepted":
            return
        if not self._station.evse(evse).plugged:
            await self._deliver(self._station.plug_in(evse, self._clock()))
        intents = self._station.start_transaction(
            evse,
            command.id_token,
            self._clock(),
            remote_start_id=command.remote_start_id,
            id_token_type=command.id_token_type,
        )
        await self._deliver(intents)

    async def _reset(self, command: ResetRequested) -> None:
        """1.6 §5.14 / 2.0.1 B11-B12: end transactions, then boot again on the same socket."""
        if not command.immediate:
            self._reset_when_idle = True
            await self._reset_if_idle()
            return
        if self.config.ocpp_version == "1.6":
            reason = StopReason.HARD_RESET if command.hard else StopReason.SOFT_RESET
        else:
            reason = StopReason.IMMEDIATE_RESET
        for evse in self._station.evse_numbers:
            if self._station.transaction(evse) is not None:
                await self._deliver(self._station.stop_transaction(evse, reason, self._clock()))
        await self._boot("RemoteReset")

    async def _reset_if_idle(self) -> None:
        numbers = self._station.evse_numbers
        if self._reset_when_idle and all(self._station.transaction(n) is None for n in numbers):
            self._reset_when_idle = False
            await self._boot("RemoteReset")

    async def _trigger(self, command: TriggerRequested) -> None:
        """1.6 §5.17 / 2.0.1 F06: send the requested message now."""
        now = self._clock()
        evses = self._station.evse_numbers if command.evse in (None, 0) else [command.evse]
        if command.message == "BootNotification":
            call = self._adapter.boot_notification(
                self.config.vendor, self.config.model, reason="Triggered"
            )
            await self._call(call)
        elif command.message == "Heartbeat":
            await self._call(self._adapter.heartbeat())
        elif command.message == "StatusNotification":
            self._adapter.forget_sent_statuses()
            wanted = set(evses) | ({0} if command.evse in (None, 0) else set())
            await self._deliver(s for s in self._station.current_statuses(now) if s.evse in wanted)
        else:
            for evse in evses:
                sample = self._station.sample(evse, now, context="Trigger")
                if sample is not None:
                    await self._submit(sample)

    def _record(self, direction: Literal["out", "in"], message: list[Any]) -> None:
        if self._on_frame is None:
            return
        try:
            self._on_frame(FrameRecord(time.time(), direction, self.identity, message))
        except Exception:
            # An observer must not be able to break the receive loop.
            log.exception("%s: on_frame callback failed", self.identity)
