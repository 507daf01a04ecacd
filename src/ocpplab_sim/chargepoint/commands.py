"""What a charge point does once it answered a central-system CALL, as state machines of the
sans-I/O :class:`~ocpplab_sim.chargepoint.protocol.ChargePointProtocol`: remote start and stop,
authorization, reset (of the station or of one EVSE) and reboot, availability, trigger message,
firmware update, diagnostics/log upload and reports. Waits are timers of the protocol
(``after``), never sleeps; a restart is a barrier in the charge point's one queue, so the
messages caused before it (StopTransaction of a reset, say) leave first.
"""

from __future__ import annotations

import logging
import posixpath
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from ocpplab_sim.chargepoint.session import Op
from ocpplab_sim.errors import ChargePointError, CsmsUnreachable
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

if TYPE_CHECKING:
    from ocpplab_sim.chargepoint.protocol import ChargePointProtocol

__all__ = ["Commands"]

log = logging.getLogger("ocpplab_sim.chargepoint")

Payload = dict[str, Any]


class Commands:
    """The command state machines of one charge point (see the module docstring)."""

    def __init__(self, cp: ChargePointProtocol) -> None:
        self.cp = cp
        self.reset_when_idle = False
        self.reset_origin = "RemoteReset"  # the boot reason of the reset under way
        self.evse_resets: set[int] = set()

    def run(self, commands: Iterable[Command], now: float, op: Op | None) -> None:
        for command in commands:
            try:
                self._run(command, now, op)
            except ChargePointError as exc:
                log.warning("%s: %s failed: %s", self.cp.identity, type(command).__name__, exc)
                if op is not None:
                    op.fail(exc)

    def _run(self, command: Command, now: float, op: Op | None) -> None:
        cp, station = self.cp, self.cp.station
        if isinstance(command, RemoteStart):
            self._remote_start(command, now, op)
        elif isinstance(command, RemoteStop):
            if station.transaction(command.evse) is not None:
                cp.deliver(station.stop_transaction(command.evse, StopReason.REMOTE, now), now, op)
        elif isinstance(command, Deauthorize):
            tx = station.transaction(command.evse)
            stop = cp.settings.stop_tx_on_invalid_id
            if stop and tx is not None and tx.id == command.transaction_id:
                intents = station.stop_transaction(command.evse, StopReason.DEAUTHORIZED, now)
                cp.deliver(intents, now, op)
        elif isinstance(command, AvailabilityChange):
            _status, intents = station.set_availability(command.evse, command.operative, now)
            cp.deliver(intents, now, op)
        elif isinstance(command, SettingsChanged):
            if any("Heartbeat" in name for name in command.names):
                cp.reschedule_heartbeat(now)
        elif isinstance(command, ResetRequested):
            self._reset(command, now, op)
        elif isinstance(command, TriggerRequested):
            self._trigger(command, now, op)
        elif isinstance(command, FirmwareUpdate):
            self._update_firmware(command, now)
        elif isinstance(command, LogUpload):
            self._upload(now)
        elif isinstance(command, ReportRequested) and isinstance(cp.adapter, V201Adapter):
            for call in cp.adapter.notify_report(command.request_id, command.report_base, now):
                cp.call(call, now, op)

    # -- authorization and remote start ------------------------------------------------------

    def authorize(
        self,
        evse: int,
        id_token: str,
        now: float,
        op: Op | None,
        then: Callable[[str, float], None] | None,
    ) -> None:
        """Authorize (1.6 §4.1, §3.5; 2.0.1 C01, C12-C14): the local list, then the cache,
        answer without a CALL when LocalPreAuthorize is on or the charge point is offline and
        LocalAuthorizeOffline is on; otherwise the central system is asked and its answer
        cached (AuthorizationCacheEnabled). ``op.result`` is the status; ``then(status, at)``
        runs once it is known."""
        cp, s = self.cp, self.cp.settings
        local = cp.station.auth.lookup(
            id_token, now, use_list=s.local_auth_list_enabled, use_cache=s.auth_cache_enabled
        )
        offline = not cp.connected

        def decided(status: str, at: float) -> None:
            if op is not None:
                op.result = status
            cp.deliver(cp.station.authorize(evse, id_token, status == "Accepted", at), at, op)
            if then is not None:
                then(status, at)

        if local == "Accepted" and (
            s.local_pre_authorize or (offline and s.local_authorize_offline)
        ):
            decided(local, now)
            return

        def answered(payload: Payload, at: float) -> None:
            status = cp.adapter.authorize_status(payload)
            if s.auth_cache_enabled:
                cp.station.auth.remember(id_token, status)
            decided(status, at)

        cp.call(cp.adapter.authorize(id_token), now, op, then=answered)

    def _remote_start(self, command: RemoteStart, now: float, op: Op | None) -> None:
        """1.6 §5.11 / 2.0.1 F01: plug the (simulated) EV in if needed and start; authorize
        first only when AuthorizeRemoteTxRequests / AuthorizeRemoteStart is true."""
        cp, evse = self.cp, command.evse

        def start(status: str, at: float) -> None:
            if status != "Accepted":
                return
            if not cp.station.evse(evse).plugged:
                cp.deliver(cp.station.plug_in(evse, at), at, op)
            intents = cp.station.start_transaction(
                evse,
                command.id_token,
                at,
                remote_start_id=command.remote_start_id,
                id_token_type=command.id_token_type,
            )
            cp.deliver(intents, at, op)

        if cp.settings.authorize_remote_start:
            self.authorize(evse, command.id_token, now, op, start)
        else:
            start("Accepted", now)

    # -- reset and reboot --------------------------------------------------------------------

    def _reset(self, command: ResetRequested, now: float, op: Op | None) -> None:
        self.reset(command, now, op, local=False)

    def reset(self, command: ResetRequested, now: float, op: Op | None, *, local: bool) -> None:
        """1.6 §5.14 / 2.0.1 B11-B12: end transactions (their messages leave first), close the
        connection, connect again and boot (RemoteReset; ``local``: LocalReset, a reset on
        the spot), then report ResetOrReboot (2.0.1 A04). With an EVSE (2.0.1 only) just that
        EVSE resets."""
        cp = self.cp
        self.reset_origin = "LocalReset" if local else "RemoteReset"
        by = "on the spot" if local else "by the central system"
        if command.evse is not None:
            if command.immediate or cp.station.transaction(command.evse) is None:
                self.reset_evse(command.evse, now, op)
            else:
                self.evse_resets.add(command.evse)  # B12: after its transaction ends
            return
        if not command.immediate:
            self.reset_when_idle = True
            self._reset_if_idle(now, op)
            return
        if cp.config.ocpp_version == "1.6":
            reason = StopReason.HARD_RESET if command.hard else StopReason.SOFT_RESET
        else:
            reason = StopReason.IMMEDIATE_RESET
        self.stop_all(reason, now, op)
        tech_info = f"{reason.value} requested {by}"
        cp.record_security_event("ResetOrReboot", tech_info, now)
        cp.restart(self.reset_origin, now, op)

    def reset_evse(self, evse: int, now: float, op: Op | None) -> None:
        """2.0.1 B11/B12 with ``evseId``: a running transaction on the EVSE ends
        (ImmediateReset, triggerReason ResetCommand), the EVSE is Unavailable while it
        restarts and then back; the connection and the other EVSEs are untouched."""
        cp = self.cp
        self.evse_resets.discard(evse)
        cp.deliver(cp.station.reset_evse(evse, StopReason.IMMEDIATE_RESET, now), now, op)
        cp.deliver(cp.station.complete_evse_reset(evse, now), now, op)
        cp.record_security_event("ResetOrReboot", f"EVSE {evse} reset", now)
        cp.flush_security_events(now, op)

    def transaction_ended(self, evse: int, now: float, op: Op | None) -> None:
        """Run a reset that waited for this transaction (OnIdle, 2.0.1 B12)."""
        if evse in self.evse_resets:
            self.reset_evse(evse, now, op)
        if self.reset_when_idle:
            self._reset_if_idle(now, op)

    def stop_all(self, reason: StopReason, now: float, op: Op | None) -> None:
        station = self.cp.station
        for evse in station.evse_numbers:
            if station.transaction(evse) is not None:
                self.cp.deliver(station.stop_transaction(evse, reason, now), now, op)

    def _reset_if_idle(self, now: float, op: Op | None) -> None:
        station = self.cp.station
        numbers = station.evse_numbers
        if self.reset_when_idle and all(station.transaction(n) is None for n in numbers):
            self.reset_when_idle = False
            by = "on the spot" if self.reset_origin == "LocalReset" else "by the central system"
            tech_info = f"OnIdle reset requested {by}"
            self.cp.record_security_event("ResetOrReboot", tech_info, now)
            self.cp.restart(self.reset_origin, now, op)

    # -- trigger, firmware, upload -----------------------------------------------------------

    def _trigger(self, command: TriggerRequested, now: float, op: Op | None) -> None:
        """1.6 §5.17 / 2.0.1 F06: send the requested message now."""
        cp, station, adapter = self.cp, self.cp.station, self.cp.adapter
        evses = station.evse_numbers if command.evse in (None, 0) else [command.evse]
        message = command.message
        if message == "BootNotification":
            call = adapter.boot_notification(cp.config.vendor, cp.config.model, reason="Triggered")
            cp.call(call, now, op)
        elif message == "Heartbeat":
            cp.call(adapter.heartbeat(), now, op)
        elif message == "StatusNotification":
            adapter.forget_sent_statuses()
            wanted = set(evses) | ({0} if command.evse in (None, 0) else set())
            statuses = [s for s in station.current_statuses(now) if s.evse in wanted]
            cp.deliver(statuses, now, op)
        elif message == "FirmwareStatusNotification":
            cp.call(adapter.firmware_status_notification(adapter.firmware_status), now, op)
        elif message == "UploadStatusNotification":
            cp.call(adapter.upload_status_notification(adapter.upload_status), now, op)
        elif message == "MeterValues201" and isinstance(adapter, V201Adapter):
            for evse in evses:
                cp.call(adapter.meter_values(self._reading(evse, now)), now, op)
        else:
            for evse in evses:
                sample = station.sample(evse, now, context="Trigger")
                if sample is not None:
                    cp.deliver((sample,), now, op)

    def _reading(self, evse: int, now: float) -> MeterSample:
        """A Trigger sample whether or not a transaction runs (2.0.1 MeterValuesRequest)."""
        station = self.cp.station
        station.energy_wh(evse, now)
        reading = station.reading(evse)
        tx = station.transaction(evse)
        return MeterSample(
            evse=evse,
            transaction_id=tx.id if tx else "",
            timestamp=now,
            energy_wh=reading.energy_wh,
            power_w=reading.power_w,
            current_a=reading.current_a,
            voltage_v=reading.voltage_v,
            context="Trigger",
            soc_pct=station.soc_pct(evse),
            offered_w=station.limit_w(evse, now),
        )

    def _status_call(self, kind: str, status: str, now: float) -> None:
        """A FirmwareStatusNotification or upload status; a lost one is not sent again."""
        adapter = self.cp.adapter
        if kind == "firmware":
            call = adapter.firmware_status_notification(status)
        else:
            call = adapter.upload_status_notification(status)
        self.cp.call(call, now, None, failed=self._status_failed)

    def _status_failed(self, error: BaseException, _now: float) -> None:
        if not isinstance(error, CsmsUnreachable):
            log.warning("%s: status notification failed: %s", self.cp.identity, error)

    def _update_firmware(self, command: FirmwareUpdate, now: float) -> None:
        """1.6 §5.19 / 2.0.1 L01: Downloading, Downloaded, Installing, then a reboot with the
        new version (2.0.1: InstallRebooting first, boot reason FirmwareUpdate), Installed,
        and the security events ResetOrReboot and FirmwareUpdated (2.0.1 A04; 1.6 Security
        Whitepaper §8). Running transactions end first (1.6 Reboot reason; 2.0.1 L01.FR.06
        would wait). Each step is ``firmware_step_s`` after the one before."""
        cp, step = self.cp, self.cp.config.firmware_step_s
        name = (posixpath.basename(command.location.rstrip("/")) or "firmware")[:50]
        statuses = ["Downloading", "Downloaded", "Installing"]

        def next_step(at: float) -> None:
            if statuses:
                self._status_call("firmware", statuses.pop(0), at)
                cp.after(step, next_step, at)
                return
            cp.settings.firmware_version = name
            if cp.config.ocpp_version == "2.0.1":
                self._status_call("firmware", "InstallRebooting", at)
            self.stop_all(StopReason.REBOOT, at, None)
            cp.record_security_event("ResetOrReboot", f"Reboot to install firmware {name}", at)
            cp.after_boot(installed)
            cp.restart("FirmwareUpdate", at, None)

        def installed(at: float) -> None:
            self._status_call("firmware", "Installed", at)
            cp.record_security_event("FirmwareUpdated", f"Firmware {name} installed", at)
            cp.flush_security_events(at, None)

        cp.after(command.retrieve_at - now, next_step, now)

    def _upload(self, now: float) -> None:
        """1.6 §5.9 / 2.0.1 N01: Uploading, then Uploaded (nothing is really sent)."""
        self._status_call("upload", "Uploading", now)
        self.cp.after(
            self.cp.config.firmware_step_s,
            lambda at: self._status_call("upload", "Uploaded", at),
            now,
        )
