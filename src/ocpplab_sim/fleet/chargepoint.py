"""The composed simulated charge point: station model + version adapter + websocket connection.

Action methods (:meth:`SimulatedChargePoint.plug_in`, …) feed an event to the sans-I/O station
and deliver the intents it returns, returning once the central system answered every CALL they
caused. Transaction-related intents go through an offline queue (durable with a state
directory) and are sent strictly in order; while disconnected they stay queued (the method
returns right away) and are delivered after the reconnect, followed by a StatusNotification for
every EVSE. The parts behind the public API live in :mod:`.delivery`, :mod:`.lifecycle`,
:mod:`.operations` and :mod:`.security` (see :mod:`.base`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import ssl
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from ocpplab_sim.connection import (
    BasicAuth,
    CallObserver,
    FileOfflineQueue,
    MemoryOfflineQueue,
    OcppConnection,
    OfflineQueue,
    ReconnectPolicy,
)
from ocpplab_sim.errors import ChargePointError
from ocpplab_sim.fleet.base import Payload
from ocpplab_sim.fleet.config import ChargePointConfig, FrameRecord
from ocpplab_sim.fleet.delivery import ArmedAnswer, Delivery
from ocpplab_sim.fleet.lifecycle import Lifecycle
from ocpplab_sim.fleet.operations import Operations
from ocpplab_sim.fleet.security import SecurityEvents
from ocpplab_sim.protocol import Adapter, OutgoingCall, Settings, V16Adapter, V201Adapter
from ocpplab_sim.protocol.settings import by_key16, by_variable
from ocpplab_sim.station import (
    Ev,
    Station,
    StopReason,
    TransactionIntent,
    decode_intent,
    encode_intent,
)

__all__ = ["SimulatedChargePoint", "ssl_context_for"]


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


class SimulatedChargePoint(Operations, Lifecycle, Delivery, SecurityEvents):
    """One simulated OCPP 1.6J or 2.0.1 charge point.

    ``clock`` (epoch seconds) stamps messages and drives the meter; ``reconnect`` sets the
    backoff after an unrequested close; ``queue`` holds transaction intents while offline
    (default: a journal under ``config.state_dir``, else memory); ``auth`` / ``ssl_context``
    override what the config's security settings give. ``on_frame`` sees every frame (traces),
    ``on_call`` every finished CALL with its latency (cheaper; load runs).
    """

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
            reconnect=reconnect or ReconnectPolicy(seed=config.seed),
            strict_version=None if mode == "off" else config.ocpp_version,
            lenient=mode == "lenient",
            auth=auth,
            ssl_context=ssl_context or ssl_context_for(config),
            source_address=config.source_address,
            transport=config.transport,
            on_refused=self._credentials_refused,
            on_call=on_call,
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
        self._evse_resets: set[int] = set()
        self._security_pending: list[tuple[str, float, str | None]] = []
        self._needs_boot = False
        self._armed = {}
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
        again, the charge point boots (2.0.1 boot reason ``reason``) and reports the security
        event ResetOrReboot (2.0.1 A04)."""
        self._require_started()
        await self._stop_all(StopReason.POWER_LOSS)
        await self._restart(reason, f"Power cycle (boot reason {reason})")

    def answer_next(
        self, action: str, payload: Payload | None = None, *, status: str | None = None
    ) -> ArmedAnswer:
        """Arm the answer to the next incoming CALL of ``action`` (answers armed for the same
        action are used in order): ``payload`` replaces the simulator's answer, ``status`` fills
        its status field. A refusal (e.g. ``Rejected``) skips what the request would have done.

        The answer is checked against the official response schema now and, like every frame,
        when it is sent: strict mode raises :class:`SchemaViolation`, lenient mode logs it.
        ``cancel()`` on the result disarms it.
        """
        if payload is None and status is None:
            raise ChargePointError(
                f"{self.identity}: answer_next({action!r}) needs a payload or a status"
            )
        return self._arm(ArmedAnswer(action, payload, status))

    def status(self, evse: int) -> str:
        """The version-neutral status (1.6 ChargePointStatus vocabulary)."""
        return self._station.status(evse).value

    def energy_wh(self, evse: int) -> float:
        """The EVSE's Energy.Active.Import.Register in Wh, integrated up to now."""
        return self._station.energy_wh(evse, self._clock())
