"""OCPP 1.6J adapter: station intents ⇄ 1.6 payloads (section numbers of the 1.6 edition 2 spec)."""

from __future__ import annotations

from typing import Any

from ocpplab_sim.protocol.adapter import (
    Adapter,
    AvailabilityChange,
    Command,
    Deauthorize,
    IncomingResult,
    OutgoingCall,
    RemoteStart,
    RemoteStop,
    ResetRequested,
    SettingsChanged,
    TriggerRequested,
    iso,
)
from ocpplab_sim.protocol.settings import SETTINGS, by_key16
from ocpplab_sim.protocol.v16_ops import V16Operations
from ocpplab_sim.station import (
    Intent,
    MeterSample,
    Status,
    StatusChanged,
    StopReason,
    TransactionStarted,
    TransactionStopped,
)

__all__ = ["V16Adapter"]

Payload = dict[str, Any]

_REASONS = {
    "EmergencyStop",
    "EVDisconnected",
    "HardReset",
    "Local",
    "Other",
    "PowerLoss",
    "Reboot",
    "Remote",
    "SoftReset",
    "UnlockCommand",
    "DeAuthorized",
}
_TRIGGERABLE = {
    "BootNotification": "BootNotification",
    "Heartbeat": "Heartbeat",
    "StatusNotification": "StatusNotification",
    "MeterValues": "MeterValues",
    "FirmwareStatusNotification": "FirmwareStatusNotification",
    "DiagnosticsStatusNotification": "UploadStatusNotification",
}
_ERROR_CODES = {
    "ConnectorLockFailure", "EVCommunicationError", "GroundFailure", "HighTemperature",
    "InternalError", "LocalListConflict", "NoError", "OtherError", "OverCurrentFailure",
    "PowerMeterFailure", "PowerSwitchFailure", "ReaderFailure", "ResetFailure", "UnderVoltage",
    "OverVoltage", "WeakSignal",
}  # fmt: skip
# The 1.6 Security Whitepaper names the central system where the 2.0.1 list says CSMS.
_SECURITY_EVENTS = {
    "FailedToAuthenticateAtCsms": "FailedToAuthenticateAtCentralSystem",
    "CsmsFailedToAuthenticate": "CentralSystemFailedToAuthenticate",
    "InvalidCsmsCertificate": "InvalidCentralSystemCertificate",
    "InvalidChargingStationCertificate": "InvalidChargePointCertificate",
}
_UNITS = {
    "Energy.Active.Import.Register": "Wh",
    "Power.Active.Import": "W",
    "Power.Offered": "W",
    "Current.Import": "A",
    "Voltage": "V",
    "SoC": "Percent",
}


def _energy(value_wh: float, context: str) -> Payload:
    return {
        "value": str(round(value_wh)),
        "context": context,
        "measurand": "Energy.Active.Import.Register",
        "unit": "Wh",
    }


class V16Adapter(V16Operations, Adapter):
    """Maps the station's uuid transaction ids to the integers the central system assigns in the
    StartTransaction answer (§4.8); MeterValues/StopTransaction of a transaction the central
    system never acknowledged are dropped (there is no id to put in them)."""

    version = "1.6"
    subprotocol = "ocpp1.6"
    triggerable = _TRIGGERABLE

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._ocpp_ids: dict[str, int] = {}

    def snapshot(self) -> dict[str, object]:
        return {"ocpp_ids": dict(self._ocpp_ids)}

    def restore(self, state: dict[str, object]) -> None:
        ids = state.get("ocpp_ids")
        if isinstance(ids, dict):
            self._ocpp_ids.update({str(k): int(v) for k, v in ids.items()})

    def ocpp_transaction_id(self, transaction_id: str) -> int | None:
        return self._ocpp_ids.get(transaction_id)

    def transaction_id_on_wire(self, transaction_id: str) -> int | None:
        return self._ocpp_ids.get(transaction_id)

    # -- charge point → central system -----------------------------------------------------

    def boot_notification(
        self, vendor: str, model: str, *, reason: str = "PowerUp"
    ) -> OutgoingCall:
        """BootNotification §4.2 (1.6 has no boot reason)."""
        payload = {
            "chargePointVendor": vendor[:20],
            "chargePointModel": model[:20],
            "firmwareVersion": self.settings.firmware_version[:50],
        }
        return OutgoingCall("BootNotification", payload)

    def authorize(self, id_token: str) -> OutgoingCall:
        """Authorize §4.1; idTag is CiString20."""
        return OutgoingCall("Authorize", {"idTag": id_token[:20]})

    def _security_event_name(self, event: str) -> str:
        return _SECURITY_EVENTS.get(event, event)

    def authorize_status(self, response: Payload) -> str:
        return str(response.get("idTagInfo", {}).get("status", "Invalid"))

    def _status_notification(self, intent: StatusChanged) -> OutgoingCall | None:
        """StatusNotification §4.9: connector 0 is the charge point itself; an error code
        outside ChargePointErrorCode goes as OtherError with vendorErrorCode."""
        payload: Payload = {
            "connectorId": intent.evse,
            "errorCode": "NoError",
            "status": intent.status.value,
            "timestamp": iso(intent.timestamp),
        }
        if intent.status is Status.FAULTED:
            code = intent.error_code or "OtherError"
            payload["errorCode"] = code if code in _ERROR_CODES else "OtherError"
            if code not in _ERROR_CODES:
                payload["vendorErrorCode"] = code[:50]
        return OutgoingCall("StatusNotification", payload, intent)

    def _translate_transaction(self, intent: Intent) -> list[OutgoingCall]:
        if isinstance(intent, TransactionStarted):
            # StartTransaction §4.8: meterStart is an integer Wh register value.
            payload: Payload = {
                "connectorId": intent.evse,
                "idTag": intent.id_token[:20],
                "meterStart": round(intent.meter_start_wh),
                "timestamp": iso(intent.timestamp),
            }
            return [OutgoingCall("StartTransaction", payload, intent)]
        if isinstance(intent, MeterSample):
            ocpp_id = self._ocpp_ids.get(intent.transaction_id)
            if ocpp_id is None:
                return []
            payload = {
                "connectorId": intent.evse,
                "transactionId": ocpp_id,
                "meterValue": [self._meter_value(intent)],
            }
            return [OutgoingCall("MeterValues", payload, intent)]
        if isinstance(intent, TransactionStopped):
            ocpp_id = self._ocpp_ids.get(intent.transaction_id)
            if ocpp_id is None:
                return []
            reason = intent.reason.value
            if reason not in _REASONS:
                reason = "HardReset" if intent.reason is StopReason.IMMEDIATE_RESET else "Other"
            payload = {
                "transactionId": ocpp_id,
                "idTag": intent.id_token[:20],
                "meterStop": round(intent.meter_stop_wh),
                "timestamp": iso(intent.timestamp),
                "reason": reason,
                "transactionData": [
                    {
                        "timestamp": iso(intent.timestamp),
                        "sampledValue": [
                            _energy(intent.meter_start_wh, "Transaction.Begin"),
                            _energy(intent.meter_stop_wh, "Transaction.End"),
                        ],
                    }
                ],
            }
            return [OutgoingCall("StopTransaction", payload, intent)]
        # Charging-state changes are carried by StatusNotification in 1.6.
        return []

    def _meter_value(self, sample: MeterSample) -> Payload:
        """One MeterValue §7.31 with the measurands listed in MeterValuesSampledData."""
        ctx = sample.context
        values = {
            "Energy.Active.Import.Register": str(round(sample.energy_wh)),
            "Power.Active.Import": f"{sample.power_w:.1f}",
            "Power.Offered": f"{sample.offered_w:.1f}",
            "Current.Import": f"{sample.current_a:.2f}",
            "Voltage": f"{sample.voltage_v:.1f}",
        }
        if sample.soc_pct is not None:
            values["SoC"] = f"{sample.soc_pct:.1f}"
        sampled = [
            {"value": values[m], "context": ctx, "measurand": m, "unit": _UNITS[m]}
            for m in self.measurands()
            if m in values
        ]
        return {"timestamp": iso(sample.timestamp), "sampledValue": sampled}

    def on_result(self, call: OutgoingCall, response: Payload) -> list[Command]:
        intent = call.intent
        if call.action == "StartTransaction" and isinstance(intent, TransactionStarted):
            self._ocpp_ids[intent.transaction_id] = int(response["transactionId"])
            status = response.get("idTagInfo", {}).get("status", "Invalid")
            if status != "Accepted":
                # §4.8: a transaction whose idTag is not accepted must be stopped (DeAuthorized).
                return [Deauthorize(intent.evse, intent.transaction_id)]
        elif call.action == "StopTransaction" and isinstance(intent, TransactionStopped):
            self._ocpp_ids.pop(intent.transaction_id, None)
        return []

    # -- central system → charge point (§5) ------------------------------------------------

    def on_RemoteStartTransaction(self, payload: Payload) -> IncomingResult:
        """§5.11: Accepted when the connector (or, without one, any EVSE) can start."""
        connector = payload.get("connectorId")
        if connector is None:
            connector = self.station.free_evse(str(payload["idTag"]))
        elif connector not in self.station.evse_numbers or not self._evse_can_start(
            connector, str(payload["idTag"])
        ):
            connector = None
        if connector is None:
            return IncomingResult({"status": "Rejected"})
        return IncomingResult(
            {"status": "Accepted"}, (RemoteStart(connector, str(payload["idTag"])),)
        )

    def on_RemoteStopTransaction(self, payload: Payload) -> IncomingResult:
        """§5.12: Accepted when the transaction id is one of ours and still running."""
        wanted = payload.get("transactionId")
        for local_id, ocpp_id in self._ocpp_ids.items():
            evse = self.station.evse_of_transaction(local_id)
            if ocpp_id == wanted and evse is not None:
                return IncomingResult({"status": "Accepted"}, (RemoteStop(evse),))
        return IncomingResult({"status": "Rejected"})

    def on_Reset(self, payload: Payload) -> IncomingResult:
        """§5.14: both types stop running transactions and reboot (BootNotification again)."""
        hard = payload.get("type") == "Hard"
        return IncomingResult({"status": "Accepted"}, (ResetRequested(immediate=True, hard=hard),))

    def on_ChangeAvailability(self, payload: Payload) -> IncomingResult:
        """§5.2: connectorId 0 is the whole charge point; Scheduled while a transaction runs."""
        connector = int(payload["connectorId"])
        operative = payload["type"] == "Operative"
        status = self.station.availability_answer(connector, operative)
        if status == "Rejected":
            return IncomingResult({"status": status})
        return IncomingResult({"status": status}, (AvailabilityChange(connector, operative),))

    def on_GetConfiguration(self, payload: Payload) -> IncomingResult:
        """§5.8: all known keys when none are asked for; unknown keys listed as such."""
        known_keys = {st.key16: st for st in SETTINGS if st.key16 is not None}
        wanted = payload.get("key") or list(known_keys)
        known = [
            {
                "key": k,
                "readonly": known_keys[k].readonly,
                "value": known_keys[k].read(self.settings)[:500],
            }
            for k in wanted
            if k in known_keys
        ]
        result: Payload = {"configurationKey": known}
        unknown = [k for k in wanted if k not in known_keys]
        if unknown:
            result["unknownKey"] = unknown
        return IncomingResult(result)

    def on_ChangeConfiguration(self, payload: Payload) -> IncomingResult:
        """§5.3: the write goes to the shared settings and takes effect at once."""
        key, value = str(payload["key"]), str(payload["value"])
        setting = by_key16(key)
        if setting is None:
            return IncomingResult({"status": "NotSupported"})
        if not setting.write(self.settings, value):
            return IncomingResult({"status": "Rejected"})
        return IncomingResult({"status": "Accepted"}, (SettingsChanged((key,)),))

    def on_TriggerMessage(self, payload: Payload) -> IncomingResult:
        """§5.17: Boot/Heartbeat/Status/MeterValues are sent right after the answer."""
        message = _TRIGGERABLE.get(payload["requestedMessage"])
        connector = payload.get("connectorId")
        if message is None:
            return IncomingResult({"status": "NotImplemented"})
        if connector is not None and connector != 0 and connector not in self.station.evse_numbers:
            return IncomingResult({"status": "Rejected"})
        trigger = TriggerRequested(message, connector)  # type: ignore[arg-type]
        return IncomingResult({"status": "Accepted"}, (trigger,))
