"""The life of a simulated charge point on the wire: boot, reboot, timers and the resync after a
reconnect.

BootNotification Pending / Rejected is retried after the interval given (1.6 §4.2; 2.0.1 Part 2,
B02/B03) and nothing else is sent before Accepted. Timers (heartbeat, reservation expiry) are
event-loop timer handles, not tasks, so an idle charge point costs no coroutine; the meter loop
is one task per running transaction. Mixed into
:class:`~ocpplab_sim.fleet.chargepoint.SimulatedChargePoint`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any

from ocpplab_sim.errors import ChargePointError, ConnectivityError, CsmsUnreachable
from ocpplab_sim.fleet.base import ChargePointBase

__all__ = ["Lifecycle"]

log = logging.getLogger("ocpplab_sim.fleet.chargepoint")

_DEFAULT_RETRY_S = 10.0


class Lifecycle(ChargePointBase):
    """Boot, reboot, heartbeat and update timers, meter loops, resync after a reconnect."""

    async def _boot(self, reason: str) -> None:
        """BootNotification until Accepted, then every status, the heartbeat timer and any
        security event that waited for a registered connection (2.0.1 A04)."""
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
        await self._flush_security_events()

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
        """Run ``factory()`` as a task (from a timer callback); tasks die with ``stop()``."""
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
        then every current status and the security events that waited (2.0.1 A04)."""
        try:
            if self._needs_boot:
                await self._boot("PowerUp")
            await self._drain()
            self._adapter.forget_sent_statuses()
            await self._deliver(self._station.current_statuses(self._clock()))
            await self._flush_security_events()
        except (ChargePointError, ConnectivityError) as exc:
            log.warning("%s: resync after reconnect failed: %s", self.identity, exc)
