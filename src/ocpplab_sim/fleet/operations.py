"""What a simulated charge point does after answering a central-system CALL: remote start and
stop, reset (of the station or of one EVSE) and reboot, availability, trigger message, firmware
update, diagnostics/log upload and reports. Mixed into
:class:`~ocpplab_sim.fleet.chargepoint.SimulatedChargePoint`."""

from __future__ import annotations

import asyncio
import logging
import posixpath
from collections.abc import Iterable

from ocpplab_sim.errors import ChargePointError, ConnectivityError
from ocpplab_sim.fleet.base import ChargePointBase
from ocpplab_sim.protocol import (
    AvailabilityChange,
    Command,
    Deauthorize,
    FirmwareUpdate,
    LogUpload,
    RemoteStart,
    RemoteStop,
    ReportRequested,
    ResetRequested,
    SettingsChanged,
    TriggerRequested,
    V201Adapter,
)
from ocpplab_sim.station import MeterSample, StopReason

__all__ = ["Operations"]

log = logging.getLogger(__name__)


class Operations(ChargePointBase):
    """Command execution; relies on the delivery and lifecycle parts of the charge point."""

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
            stop = self._settings.stop_tx_on_invalid_id
            if stop and tx is not None and tx.id == command.transaction_id:
                await self._deliver(
                    self._station.stop_transaction(command.evse, StopReason.DEAUTHORIZED, now)
                )
        elif isinstance(command, AvailabilityChange):
            _status, intents = self._station.set_availability(command.evse, command.operative, now)
            await self._deliver(intents)
        elif isinstance(command, SettingsChanged):
            if any("Heartbeat" in name for name in command.names):
                self._schedule_heartbeat()
        elif isinstance(command, ResetRequested):
            await self._reset(command)
        elif isinstance(command, TriggerRequested):
            await self._trigger(command)
        elif isinstance(command, FirmwareUpdate):
            await self._update_firmware(command)
        elif isinstance(command, LogUpload):
            await self._upload(command)
        elif isinstance(command, ReportRequested) and isinstance(self._adapter, V201Adapter):
            for call in self._adapter.notify_report(
                command.request_id, command.report_base, self._clock()
            ):
                await self._call(call)

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
        """1.6 §5.14 / 2.0.1 B11-B12: end transactions (their messages are delivered or
        queued), close the connection, connect again and boot (RemoteReset), then report
        ResetOrReboot (2.0.1 A04). With an EVSE (2.0.1 only) just that EVSE resets."""
        if command.evse is not None:
            if command.immediate or self._station.transaction(command.evse) is None:
                await self._reset_evse(command.evse)
            else:
                self._evse_resets.add(command.evse)  # B12: after its transaction ends
            return
        if not command.immediate:
            self._reset_when_idle = True
            await self._reset_if_idle()
            return
        if self.config.ocpp_version == "1.6":
            reason = StopReason.HARD_RESET if command.hard else StopReason.SOFT_RESET
        else:
            reason = StopReason.IMMEDIATE_RESET
        await self._stop_all(reason)
        await self._restart("RemoteReset", f"{reason.value} requested by the central system")

    async def _restart(self, boot_reason: str, tech_info: str) -> None:
        """Reboot the whole station and report ResetOrReboot once it is registered again."""
        self._record_reset(tech_info)
        await self._reboot(boot_reason)
        await self._flush_security_events()

    def _record_reset(self, tech_info: str) -> None:
        self._security_pending.append(("ResetOrReboot", self._clock(), tech_info))

    async def _reset_evse(self, evse: int) -> None:
        """2.0.1 B11/B12 with ``evseId``: a running transaction on the EVSE ends
        (ImmediateReset, triggerReason ResetCommand), the EVSE is Unavailable while it
        restarts and then back; the connection and the other EVSEs are untouched."""
        self._evse_resets.discard(evse)
        now = self._clock()
        await self._deliver(self._station.reset_evse(evse, StopReason.IMMEDIATE_RESET, now))
        await self._deliver(self._station.complete_evse_reset(evse, self._clock()))
        await self._security_event("ResetOrReboot", f"EVSE {evse} reset")

    async def _transaction_ended(self, evse: int) -> None:
        """Run a reset that waited for this transaction (OnIdle, 2.0.1 B12)."""
        if evse in self._evse_resets:
            await self._reset_evse(evse)
        if self._reset_when_idle:
            await self._reset_if_idle()

    async def _stop_all(self, reason: StopReason) -> None:
        for evse in self._station.evse_numbers:
            if self._station.transaction(evse) is not None:
                await self._deliver(self._station.stop_transaction(evse, reason, self._clock()))

    async def _reset_if_idle(self) -> None:
        numbers = self._station.evse_numbers
        if self._reset_when_idle and all(self._station.transaction(n) is None for n in numbers):
            self._reset_when_idle = False
            await self._restart("RemoteReset", "OnIdle reset requested by the central system")

    async def _trigger(self, command: TriggerRequested) -> None:
        """1.6 §5.17 / 2.0.1 F06: send the requested message now."""
        now = self._clock()
        evses = self._station.evse_numbers if command.evse in (None, 0) else [command.evse]
        message = command.message
        if message == "BootNotification":
            call = self._adapter.boot_notification(
                self.config.vendor, self.config.model, reason="Triggered"
            )
            await self._call(call)
        elif message == "Heartbeat":
            await self._call(self._adapter.heartbeat())
        elif message == "StatusNotification":
            self._adapter.forget_sent_statuses()
            wanted = set(evses) | ({0} if command.evse in (None, 0) else set())
            await self._deliver(s for s in self._station.current_statuses(now) if s.evse in wanted)
        elif message == "FirmwareStatusNotification":
            await self._call(
                self._adapter.firmware_status_notification(self._adapter.firmware_status)
            )
        elif message == "UploadStatusNotification":
            await self._call(self._adapter.upload_status_notification(self._adapter.upload_status))
        elif message == "MeterValues201" and isinstance(self._adapter, V201Adapter):
            for evse in evses:
                await self._call(self._adapter.meter_values(self._reading(evse, now)))
        else:
            for evse in evses:
                sample = self._station.sample(evse, now, context="Trigger")
                if sample is not None:
                    await self._submit(sample)

    def _reading(self, evse: int, now: float) -> MeterSample:
        """A Trigger sample whether or not a transaction runs (2.0.1 MeterValuesRequest)."""
        self._station.energy_wh(evse, now)
        reading = self._station.reading(evse)
        tx = self._station.transaction(evse)
        return MeterSample(
            evse=evse,
            transaction_id=tx.id if tx else "",
            timestamp=now,
            energy_wh=reading.energy_wh,
            power_w=reading.power_w,
            current_a=reading.current_a,
            voltage_v=reading.voltage_v,
            context="Trigger",
            soc_pct=self._station.soc_pct(evse),
            offered_w=self._station.limit_w(evse, now),
        )

    async def _update_firmware(self, command: FirmwareUpdate) -> None:
        """1.6 §5.19 / 2.0.1 L01: Downloading, Downloaded, Installing, then a reboot with the
        new version (2.0.1: InstallRebooting first, boot reason FirmwareUpdate), Installed,
        and the security events ResetOrReboot and FirmwareUpdated (2.0.1 A04; 1.6 Security
        Whitepaper §8). Running transactions end first (1.6 Reboot reason; 2.0.1 L01.FR.06
        would wait)."""
        step = self.config.firmware_step_s
        await asyncio.sleep(max(0.0, command.retrieve_at - self._clock()))
        try:
            for status in ("Downloading", "Downloaded", "Installing"):
                await self._call(self._adapter.firmware_status_notification(status))
                await asyncio.sleep(step)
            name = posixpath.basename(command.location.rstrip("/")) or "firmware"
            self._settings.firmware_version = name[:50]
            if self.config.ocpp_version == "2.0.1":
                await self._call(self._adapter.firmware_status_notification("InstallRebooting"))
            await self._stop_all(StopReason.REBOOT)
            self._record_reset(f"Reboot to install firmware {name[:50]}")
            await self._reboot("FirmwareUpdate")
            await self._call(self._adapter.firmware_status_notification("Installed"))
            await self._flush_security_events()
            await self._security_event("FirmwareUpdated", f"Firmware {name[:50]} installed")
        except (ChargePointError, ConnectivityError) as exc:
            log.warning("%s: firmware update interrupted: %s", self.identity, exc)

    async def _upload(self, command: LogUpload) -> None:
        """1.6 §5.9 / 2.0.1 N01: Uploading, then Uploaded (nothing is really sent)."""
        try:
            await self._call(self._adapter.upload_status_notification("Uploading"))
            await asyncio.sleep(self.config.firmware_step_s)
            await self._call(self._adapter.upload_status_notification("Uploaded"))
        except (ChargePointError, ConnectivityError) as exc:
            log.warning("%s: upload interrupted: %s", self.identity, exc)
