"""OCPP 1.6J operations beyond Core: reservation, smart charging, local list, firmware and
diagnostics, unlock (section numbers of the 1.6 edition 2 spec). Mixed into ``V16Adapter``."""

from __future__ import annotations

from typing import Any

from ocpplab_sim.protocol.adapter import (
    FirmwareUpdate,
    IncomingResult,
    LogUpload,
    OutgoingCall,
    iso,
)
from ocpplab_sim.protocol.settings import Settings
from ocpplab_sim.protocol.smart import composite_payload, parse_profile, parse_time
from ocpplab_sim.station import AuthEntry, Reservation, Station, StationError

__all__ = ["V16Operations"]

Payload = dict[str, Any]


class V16Operations:
    """Handlers that change the reservation, profile, authorization and firmware state."""

    station: Station
    settings: Settings
    _now: float
    _ocpp_ids: dict[str, int]
    firmware_status: str
    upload_status: str

    # -- charge point → central system -----------------------------------------------------

    def firmware_status_notification(self, status: str) -> OutgoingCall:
        """FirmwareStatusNotification §4.5."""
        self.firmware_status = status
        return OutgoingCall("FirmwareStatusNotification", {"status": status})

    def upload_status_notification(self, status: str) -> OutgoingCall:
        """DiagnosticsStatusNotification §4.4."""
        self.upload_status = status
        return OutgoingCall("DiagnosticsStatusNotification", {"status": status})

    # -- central system → charge point -----------------------------------------------------

    def on_UnlockConnector(self, payload: Payload) -> IncomingResult:
        """§5.18: a running transaction is stopped first (reason UnlockCommand)."""
        connector = int(payload["connectorId"])
        if connector not in self.station.evse_numbers:
            return IncomingResult({"status": "NotSupported"})
        intents = self.station.unlock(connector, self._now)
        return IncomingResult({"status": "Unlocked"}, intents=tuple(intents))

    def on_ReserveNow(self, payload: Payload) -> IncomingResult:
        """§5.13: connector 0 reserves any connector; Reserved until expiryDate."""
        connector = int(payload["connectorId"])
        if connector != 0 and connector not in self.station.evse_numbers:
            return IncomingResult({"status": "Rejected"})
        reservation = Reservation(
            id=int(payload["reservationId"]),
            id_token=str(payload["idTag"]),
            expires_at=parse_time(str(payload["expiryDate"])),
            parent_id_token=payload.get("parentIdTag"),
        )
        status, intents = self.station.reserve(connector, reservation, self._now)
        return IncomingResult({"status": status}, intents=tuple(intents))

    def on_SetChargingProfile(self, payload: Payload) -> IncomingResult:
        """§5.16: a TxProfile needs a running transaction on the connector (§3.13.2)."""
        connector = int(payload["connectorId"])
        raw = payload["csChargingProfiles"]
        if connector != 0 and connector not in self.station.evse_numbers:
            return IncomingResult({"status": "Rejected"})
        tx_id = None
        if raw["chargingProfilePurpose"] == "TxProfile":
            tx = self.station.transaction(connector) if connector else None
            wanted = raw.get("transactionId")
            if tx is None or (wanted is not None and self._ocpp_ids.get(tx.id) != wanted):
                return IncomingResult({"status": "Rejected"})
            tx_id = tx.id
        if raw["chargingProfilePurpose"] == "ChargePointMaxProfile" and connector != 0:
            return IncomingResult({"status": "Rejected"})
        try:
            profile = parse_profile(raw, connector, version="1.6", transaction_id=tx_id)
            intents = self.station.set_charging_profile(profile, self._now)
        except (ValueError, StationError):
            return IncomingResult({"status": "Rejected"})
        return IncomingResult({"status": "Accepted"}, intents=tuple(intents))

    def on_ClearChargingProfile(self, payload: Payload) -> IncomingResult:
        """§5.5: Unknown when nothing matched."""
        removed = self.station.clear_charging_profiles(
            self._now,
            profile_id=payload.get("id"),
            evse=payload.get("connectorId"),
            purpose=payload.get("chargingProfilePurpose"),
            stack_level=payload.get("stackLevel"),
        )
        return IncomingResult({"status": "Accepted" if removed else "Unknown"})

    def on_GetCompositeSchedule(self, payload: Payload) -> IncomingResult:
        """§5.7: the limits of the installed profiles combined, from now for ``duration``."""
        connector = int(payload["connectorId"])
        if connector != 0 and connector not in self.station.evse_numbers:
            return IncomingResult({"status": "Rejected"})
        duration = int(payload["duration"])
        unit = payload.get("chargingRateUnit", "W")
        periods = self.station.composite_schedule(connector, self._now, duration)
        schedule = composite_payload(
            periods,
            unit=unit,
            watts_per_amp=self.station.voltage_v * self.station.phases,
            duration_s=duration,
        )
        schedule["startSchedule"] = iso(self._now)
        return IncomingResult(
            {
                "status": "Accepted",
                "connectorId": connector,
                "scheduleStart": iso(self._now),
                "chargingSchedule": schedule,
            }
        )

    def on_SendLocalList(self, payload: Payload) -> IncomingResult:
        """§5.15: Full replaces the list, Differential updates it (entries without idTagInfo
        are removed)."""
        if not self.settings.local_auth_list_enabled:
            return IncomingResult({"status": "NotSupported"})
        entries: list[tuple[str, AuthEntry | None]] = []
        for item in payload.get("localAuthorizationList", []):
            info = item.get("idTagInfo")
            entry = None
            if info is not None:
                expiry = info.get("expiryDate")
                entry = AuthEntry(info["status"], None if expiry is None else parse_time(expiry))
            entries.append((str(item["idTag"]), entry))
        status = self.station.auth.send_local_list(
            int(payload["listVersion"]), payload["updateType"], entries
        )
        return IncomingResult({"status": status})

    def on_GetLocalListVersion(self, payload: Payload) -> IncomingResult:
        """§5.10: -1 when local lists are disabled."""
        if not self.settings.local_auth_list_enabled:
            return IncomingResult({"listVersion": -1})
        return IncomingResult({"listVersion": self.station.auth.list_version})

    def on_UpdateFirmware(self, payload: Payload) -> IncomingResult:
        """§5.19: download at retrieveDate, report each step, install, reboot."""
        command = FirmwareUpdate(str(payload["location"]), parse_time(payload["retrieveDate"]))
        return IncomingResult({}, (command,))

    def on_GetDiagnostics(self, payload: Payload) -> IncomingResult:
        """§5.9: answer the file name, then report Uploading and Uploaded."""
        name = f"diagnostics-{int(self._now)}.log"
        return IncomingResult({"fileName": name}, (LogUpload(str(payload["location"]), name),))
