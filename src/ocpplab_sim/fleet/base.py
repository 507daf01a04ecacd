"""The shared state of a simulated charge point, as seen by the parts it is built from.

:class:`~ocpplab_sim.fleet.chargepoint.SimulatedChargePoint` is composed of mixins, each in its
own module: :mod:`.delivery` (CALLs, intents, the offline queue, incoming CALLs),
:mod:`.lifecycle` (boot, heartbeat and meter timers, resync after a reconnect),
:mod:`.operations` (what the central system's commands do) and :mod:`.security` (security
events). :class:`ChargePointBase` declares the attributes the constructor sets and the methods
one part offers another; every stub here is overridden by exactly one part, which comes before
this class in the method resolution order.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, Literal

from ocpplab_sim.connection import OcppConnection, OfflineQueue
from ocpplab_sim.fleet.config import ChargePointConfig, FrameRecord
from ocpplab_sim.protocol import Adapter, Command, OutgoingCall, Settings
from ocpplab_sim.station import Intent, Station, StopReason, TransactionIntent

__all__ = ["ChargePointBase", "Payload"]

Payload = dict[str, Any]


class ChargePointBase:
    """Attributes set by ``SimulatedChargePoint.__init__`` and the cross-part methods."""

    config: ChargePointConfig
    identity: str
    _on_frame: Callable[[FrameRecord], None] | None
    _clock: Callable[[], float]
    _station: Station
    _settings: Settings
    _adapter: Adapter
    _conn: OcppConnection
    _state_file: Path | None
    _queue: OfflineQueue[TransactionIntent]
    _head: tuple[TransactionIntent, list[OutgoingCall]] | None
    _drain_lock: asyncio.Lock
    _drain_owner: asyncio.Task[Any] | None
    _heartbeat: asyncio.TimerHandle | None
    _update_timer: asyncio.TimerHandle | None
    _tasks: set[asyncio.Task[None]]
    _meters: dict[int, asyncio.Task[None]]
    _reset_when_idle: bool
    _evse_resets: set[int]
    _needs_boot: bool
    _security_pending: list[tuple[str, float, str | None]]
    _state: Literal["new", "started", "stopped"]

    # -- provided by .delivery -------------------------------------------------------------

    async def _call(self, call: OutgoingCall) -> Payload:
        raise NotImplementedError

    async def _deliver(self, intents: Iterable[Intent]) -> None:
        raise NotImplementedError

    async def _submit(self, intent: TransactionIntent) -> None:
        raise NotImplementedError

    async def _drain(self) -> None:
        raise NotImplementedError

    # -- provided by .lifecycle ------------------------------------------------------------

    async def _boot(self, reason: str) -> None:
        raise NotImplementedError

    async def _reboot(self, reason: str) -> None:
        raise NotImplementedError

    def _schedule_heartbeat(self) -> None:
        raise NotImplementedError

    def _schedule_update(self) -> None:
        raise NotImplementedError

    def _start_meter(self, evse: int, transaction_id: str) -> None:
        raise NotImplementedError

    # -- provided by .operations -----------------------------------------------------------

    async def _run_commands(self, commands: Iterable[Command]) -> None:
        raise NotImplementedError

    async def _transaction_ended(self, evse: int) -> None:
        raise NotImplementedError

    async def _stop_all(self, reason: StopReason) -> None:
        raise NotImplementedError

    # -- provided by .security -------------------------------------------------------------

    async def _security_event(self, event: str, tech_info: str | None = None) -> None:
        raise NotImplementedError

    async def _flush_security_events(self) -> None:
        raise NotImplementedError

    # -- provided by .chargepoint ----------------------------------------------------------

    async def authorize(self, evse: int, id_token: str) -> str:
        raise NotImplementedError
