"""OCPP 2.0.1 operations beyond transactions: device model, reservation, smart charging, local
list, firmware and logs, unlock, transaction status (use-case ids of 2.0.1 Part 2). Mixed into
``V201Adapter``."""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any

from ocpplab_sim.protocol.adapter import (
    Command,
    FirmwareUpdate,
    IncomingResult,
    LogUpload,
    OutgoingCall,
    ReportRequested,
    SettingsChanged,
    iso,
)
from ocpplab_sim.protocol.settings import SETTINGS, Setting, Settings, by_variable
from ocpplab_sim.protocol.smart import composite_payload, parse_profile, parse_time
from ocpplab_sim.station import AuthEntry, Reservation, Station, StationError

__all__ = ["V201Operations"]

Payload = dict[str, Any]
_REPORTED = [s for s in SETTINGS if s.component is not None and s.variable is not None]


def _report_item(setting: Setting, settings: Settings) -> Payload:
    """ReportDataType (B07) of one variable."""
    return {
        "component": {"name": setting.component},
        "variable": {"name": setting.variable},
        "variableAttribute": [
            {
                "type": "Actual",
                "value": setting.read(settings)[:2500],
                "mutability": "ReadOnly" if setting.readonly else "ReadWrite",
            }
        ],
        "variableCharacteristics": {"dataType": setting.kind, "supportsMonitoring": False},
    }


class V201Operations:
    """Handlers for the device model and the non-transaction functional blocks."""

    station: Station
    settings: Settings
    _now: float
    firmware_status: str
    upload_status: str
    firmware_request_id: int | None
    upload_request_id: int | None
    queued_transactions: Callable[[], Collection[str]]

    # -- charge point → central system -----------------------------------------------------

    def firmware_status_notification(self, status: str) -> OutgoingCall:
        """FirmwareStatusNotification (L01); requestId while an update runs."""
        self.firmware_status = status
        payload: Payload = {"status": status}
        if self.firmware_request_id is not None and status != "Idle":
            payload["requestId"] = self.firmware_request_id
        return OutgoingCall("FirmwareStatusNotification", payload)

    def upload_status_notification(self, status: str) -> OutgoingCall:
        """LogStatusNotification (N01)."""
        self.upload_status = status
        payload: Payload = {"status": status}
        if self.upload_request_id is not None and status != "Idle":
            payload["requestId"] = self.upload_request_id
        return OutgoingCall("LogStatusNotification", payload)

    def notify_report(self, request_id: int, report_base: str, now: float) -> list[OutgoingCall]:
        """NotifyReport (B07): one message with every variable (ConfigurationInventory: only
        the writable ones)."""
        wanted = [s for s in _REPORTED if report_base != "ConfigurationInventory" or not s.readonly]
        payload = {
            "requestId": request_id,
            "generatedAt": iso(now),
            "seqNo": 0,
            "tbc": False,
            "reportData": [_report_item(s, self.settings) for s in wanted],
        }
        return [OutgoingCall("NotifyReport", payload)]

    # -- device model (B05-B07) ------------------------------------------------------------

    def _lookup(self, item: Payload) -> tuple[str, Setting | None]:
        component, variable = item["component"]["name"], item["variable"]["name"]
        if item.get("attributeType", "Actual") != "Actual":
            return "NotSupportedAttributeType", None
        setting = by_variable(component, variable)
        if setting is not None:
            return "Accepted", setting
        known = any(s.component == component for s in _REPORTED)
        return ("UnknownVariable" if known else "UnknownComponent"), None

    def on_GetVariables(self, payload: Payload) -> IncomingResult:
        """B06: one result per requested variable, echoing component and variable."""
        results = []
        for item in payload["getVariableData"]:
            status, setting = self._lookup(item)
            result: Payload = {
                "attributeStatus": status,
                "component": item["component"],
                "variable": item["variable"],
            }
            if setting is not None:
                result["attributeValue"] = setting.read(self.settings)[:2500]
            results.append(result)
        return IncomingResult({"getVariableResult": results})

    def on_SetVariables(self, payload: Payload) -> IncomingResult:
        """B05: writes go to the shared settings and take effect at once."""
        results, changed = [], []
        for item in payload["setVariableData"]:
            status, setting = self._lookup(item)
            if setting is not None:
                ok = setting.write(self.settings, str(item["attributeValue"]))
                status = "Accepted" if ok else "Rejected"
                if ok:
                    changed.append(item["variable"]["name"])
            results.append(
                {
                    "attributeStatus": status,
                    "component": item["component"],
                    "variable": item["variable"],
                }
            )
        commands: tuple[Command, ...] = (SettingsChanged(tuple(changed)),) if changed else ()
        return IncomingResult({"setVariableResult": results}, commands)

    def on_GetBaseReport(self, payload: Payload) -> IncomingResult:
        """B07: Accepted, then NotifyReport with the same requestId."""
        command = ReportRequested(int(payload["requestId"]), str(payload["reportBase"]))
        return IncomingResult({"status": "Accepted"}, (command,))

    # -- connectors, reservations ----------------------------------------------------------

    def on_UnlockConnector(self, payload: Payload) -> IncomingResult:
        """F05: an authorized transaction keeps the connector locked."""
        evse = int(payload["evseId"])
        if evse not in self.station.evse_numbers or payload["connectorId"] != 1:
            return IncomingResult({"status": "UnknownConnector"})
        if self.station.transaction(evse) is not None:
            return IncomingResult({"status": "OngoingAuthorizedTransaction"})
        return IncomingResult({"status": "Unlocked"})

    def on_ReserveNow(self, payload: Payload) -> IncomingResult:
        """H01 (specific EVSE) / H01.FR.09 (no EVSE: any free one)."""
        evse = int(payload.get("evseId", 0))
        if evse != 0 and evse not in self.station.evse_numbers:
            return IncomingResult({"status": "Rejected"})
        group = payload.get("groupIdToken")
        reservation = Reservation(
            id=int(payload["id"]),
            id_token=str(payload["idToken"]["idToken"]),
            expires_at=parse_time(str(payload["expiryDateTime"])),
            parent_id_token=None if group is None else str(group["idToken"]),
        )
        status, intents = self.station.reserve(evse, reservation, self._now)
        return IncomingResult({"status": status}, intents=tuple(intents))

    # -- smart charging (K01, K08, K10) ----------------------------------------------------

    def on_SetChargingProfile(self, payload: Payload) -> IncomingResult:
        """K01: TxProfile needs the transaction it names running on the EVSE."""
        evse = int(payload["evseId"])
        raw = payload["chargingProfile"]
        purpose = raw["chargingProfilePurpose"]
        if evse != 0 and evse not in self.station.evse_numbers:
            return IncomingResult({"status": "Rejected"})
        tx_id = None
        if purpose == "TxProfile":
            tx = self.station.transaction(evse) if evse else None
            if tx is None or raw.get("transactionId") not in (None, tx.id):
                return IncomingResult({"status": "Rejected"})
            tx_id = tx.id
        if purpose == "ChargingStationMaxProfile" and evse != 0:
            return IncomingResult({"status": "Rejected"})
        try:
            profile = parse_profile(raw, evse, version="2.0.1", transaction_id=tx_id)
            intents = self.station.set_charging_profile(profile, self._now)
        except (ValueError, StationError):
            return IncomingResult({"status": "Rejected"})
        return IncomingResult({"status": "Accepted"}, intents=tuple(intents))

    def on_ClearChargingProfile(self, payload: Payload) -> IncomingResult:
        """K10: by id or by criteria; Unknown when nothing matched."""
        criteria = payload.get("chargingProfileCriteria", {})
        purpose = criteria.get("chargingProfilePurpose")
        if purpose == "ChargingStationMaxProfile":
            purpose = "ChargePointMaxProfile"
        removed = self.station.clear_charging_profiles(
            self._now,
            profile_id=payload.get("chargingProfileId"),
            evse=criteria.get("evseId"),
            purpose=purpose,
            stack_level=criteria.get("stackLevel"),
        )
        return IncomingResult({"status": "Accepted" if removed else "Unknown"})

    def on_GetCompositeSchedule(self, payload: Payload) -> IncomingResult:
        """K08: the combined limits from now for ``duration`` seconds."""
        evse = int(payload["evseId"])
        if evse != 0 and evse not in self.station.evse_numbers:
            return IncomingResult({"status": "Rejected"})
        duration = int(payload["duration"])
        periods = self.station.composite_schedule(evse, self._now, duration)
        schedule = composite_payload(
            periods,
            unit=payload.get("chargingRateUnit", "W"),
            watts_per_amp=self.station.voltage_v * self.station.phases,
            duration_s=duration,
        )
        schedule.update({"evseId": evse, "scheduleStart": iso(self._now)})
        return IncomingResult({"status": "Accepted", "schedule": schedule})

    # -- local authorization list (D01, D02) -----------------------------------------------

    def on_SendLocalList(self, payload: Payload) -> IncomingResult:
        """D01: Full replaces, Differential updates (no idTokenInfo: remove)."""
        if not self.settings.local_auth_list_enabled:
            return IncomingResult({"status": "Failed"})
        entries: list[tuple[str, AuthEntry | None]] = []
        for item in payload.get("localAuthorizationList", []):
            info = item.get("idTokenInfo")
            entry = None
            if info is not None:
                expiry = info.get("cacheExpiryDateTime")
                entry = AuthEntry(info["status"], None if expiry is None else parse_time(expiry))
            entries.append((str(item["idToken"]["idToken"]), entry))
        status = self.station.auth.send_local_list(
            int(payload["versionNumber"]), payload["updateType"], entries
        )
        return IncomingResult({"status": status})

    def on_GetLocalListVersion(self, payload: Payload) -> IncomingResult:
        """D02."""
        return IncomingResult({"versionNumber": self.station.auth.list_version})

    # -- firmware, logs, transaction status ------------------------------------------------

    def on_UpdateFirmware(self, payload: Payload) -> IncomingResult:
        """L01: download at retrieveDateTime, report each step with requestId, reboot."""
        firmware = payload["firmware"]
        self.firmware_request_id = int(payload["requestId"])
        command = FirmwareUpdate(
            str(firmware["location"]),
            parse_time(str(firmware["retrieveDateTime"])),
            self.firmware_request_id,
        )
        return IncomingResult({"status": "Accepted"}, (command,))

    def on_GetLog(self, payload: Payload) -> IncomingResult:
        """N01: answer the file name, then report Uploading and Uploaded."""
        self.upload_request_id = int(payload["requestId"])
        name = f"{payload['logType']}-{int(self._now)}.log"
        command = LogUpload(str(payload["log"]["remoteLocation"]), name, self.upload_request_id)
        return IncomingResult({"status": "Accepted", "filename": name}, (command,))

    def on_GetTransactionStatus(self, payload: Payload) -> IncomingResult:
        """E14: whether messages are queued (for the transaction, if one is named) and
        whether that transaction is still ongoing."""
        queued = self.queued_transactions()
        wanted = payload.get("transactionId")
        if wanted is None:
            return IncomingResult({"messagesInQueue": bool(queued)})
        ongoing = self.station.evse_of_transaction(str(wanted)) is not None
        return IncomingResult({"messagesInQueue": wanted in queued, "ongoingIndicator": ongoing})
