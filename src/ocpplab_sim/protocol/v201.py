"""OCPP 2.0.1 adapter: station intents ⇄ 2.0.1 payloads (use-case ids of 2.0.1 Part 2).

Transactions are reported with TransactionEvent (E01 to E10): the station's uuid is the
``transactionId``; ``seqNo`` starts at 0 for every transaction and grows by one per event.
The modelled TxStartPoint / TxStopPoint is ``PowerPathClosed``: the transaction starts once the
cable is in *and* the driver is authorized, and ends when either goes away.
"""

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
    TriggerRequested,
    iso,
)
from ocpplab_sim.protocol.v201_ops import V201Operations
from ocpplab_sim.station import (
    ChargingStateChanged,
    Intent,
    MeterSample,
    ReservationEnded,
    Status,
    StatusChanged,
    StopReason,
    TransactionIntent,
    TransactionStarted,
    TransactionStopped,
)

__all__ = ["V201Adapter"]

Payload = dict[str, Any]

_CONNECTOR_STATUS = {
    Status.AVAILABLE: "Available",
    Status.PREPARING: "Occupied",
    Status.CHARGING: "Occupied",
    Status.SUSPENDED_EV: "Occupied",
    Status.SUSPENDED_EVSE: "Occupied",
    Status.FINISHING: "Occupied",
    Status.RESERVED: "Reserved",
    Status.UNAVAILABLE: "Unavailable",
    Status.FAULTED: "Faulted",
}
_CHARGING_STATE = {
    Status.CHARGING: "Charging",
    Status.SUSPENDED_EV: "SuspendedEV",
    Status.SUSPENDED_EVSE: "SuspendedEVSE",
}
# E06/E07/E10: the trigger that ends a transaction follows from why it ended.
_STOP_TRIGGER = {
    StopReason.LOCAL: "StopAuthorized",
    StopReason.REMOTE: "RemoteStop",
    StopReason.EV_DISCONNECTED: "EVCommunicationLost",
    StopReason.DEAUTHORIZED: "Deauthorized",
    StopReason.ENERGY_LIMIT_REACHED: "EnergyLimitReached",
    StopReason.HARD_RESET: "ResetCommand",
    StopReason.SOFT_RESET: "ResetCommand",
    StopReason.IMMEDIATE_RESET: "ResetCommand",
    StopReason.UNLOCK_COMMAND: "UnlockCommand",
}
_STOP_REASON = {
    StopReason.HARD_RESET: "ImmediateReset",
    StopReason.SOFT_RESET: "ImmediateReset",
    StopReason.UNLOCK_COMMAND: "Other",
}
_REASONS_201 = {
    "DeAuthorized", "EmergencyStop", "EnergyLimitReached", "EVDisconnected", "GroundFault",
    "ImmediateReset", "Local", "LocalOutOfCredit", "MasterPass", "Other", "OvercurrentFault",
    "PowerLoss", "PowerQuality", "Reboot", "Remote", "SOCLimitReached", "StoppedByEV",
    "TimeLimitReached", "Timeout",
}  # fmt: skip
_TRIGGERABLE = {
    "BootNotification": "BootNotification",
    "Heartbeat": "Heartbeat",
    "StatusNotification": "StatusNotification",
    "TransactionEvent": "MeterValues",
    "MeterValues": "MeterValues201",
    "FirmwareStatusNotification": "FirmwareStatusNotification",
    "LogStatusNotification": "UploadStatusNotification",
}
_UNITS = {
    "Energy.Active.Import.Register": "Wh",
    "Power.Active.Import": "W",
    "Power.Offered": "W",
    "Current.Import": "A",
    "Voltage": "V",
    "SoC": "Percent",
}


def _sampled(value: float, measurand: str, unit: str, context: str) -> Payload:
    return {
        "value": round(value, 2),
        "context": context,
        "measurand": measurand,
        "unitOfMeasure": {"unit": unit},
    }


class V201Adapter(V201Operations, Adapter):
    """Keeps the next seqNo per running transaction; the device model is the shared settings."""

    version = "2.0.1"
    subprotocol = "ocpp2.0.1"
    triggerable = _TRIGGERABLE

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._seq: dict[str, int] = {}
        self._faulted: dict[int, bool] = {}
        self._event_ids = 0

    def snapshot(self) -> dict[str, object]:
        return {"seq": dict(self._seq)}

    def restore(self, state: dict[str, object]) -> None:
        seq = state.get("seq")
        if isinstance(seq, dict):
            self._seq.update({str(k): int(v) for k, v in seq.items()})

    # -- charge point → central system -----------------------------------------------------

    def boot_notification(
        self, vendor: str, model: str, *, reason: str = "PowerUp"
    ) -> OutgoingCall:
        """BootNotification (B01)."""
        station = {
            "model": model[:20],
            "vendorName": vendor[:50],
            "firmwareVersion": self.settings.firmware_version[:50],
        }
        return OutgoingCall("BootNotification", {"reason": reason, "chargingStation": station})

    def authorize(self, id_token: str, id_token_type: str = "ISO14443") -> OutgoingCall:
        """Authorize (C01)."""
        return OutgoingCall(
            "Authorize", {"idToken": {"idToken": id_token[:36], "type": id_token_type}}
        )

    def authorize_status(self, response: Payload) -> str:
        return str(response.get("idTokenInfo", {}).get("status", "Invalid"))

    def translate(self, intent: Intent) -> list[OutgoingCall]:
        """As the base, plus NotifyEvent (N07) when an EVSE's Problem variable changes."""
        calls = super().translate(intent)
        if isinstance(intent, StatusChanged) and intent.evse != 0:
            was = self._faulted.get(intent.evse, False)
            if intent.fault != was:
                self._faulted[intent.evse] = intent.fault
                calls.append(self._problem_event(intent))
        elif isinstance(intent, ReservationEnded):
            payload = {
                "reservationId": intent.reservation_id,
                "reservationUpdateStatus": intent.reason,
            }
            calls.append(OutgoingCall("ReservationStatusUpdate", payload))
        return calls

    def _problem_event(self, intent: StatusChanged) -> OutgoingCall:
        """NotifyEvent for EVSE.Problem (a hard-wired notification, N07)."""
        self._event_ids += 1
        event: Payload = {
            "eventId": self._event_ids,
            "timestamp": iso(intent.timestamp),
            "trigger": "Delta",
            "actualValue": str(intent.fault).lower(),
            "component": {"name": "EVSE", "evse": {"id": intent.evse}},
            "variable": {"name": "Problem"},
            "eventNotificationType": "HardWiredNotification",
            "cleared": not intent.fault,
        }
        if intent.error_code:
            event["techCode"] = intent.error_code[:50]
        payload = {"generatedAt": iso(intent.timestamp), "seqNo": 0, "eventData": [event]}
        return OutgoingCall("NotifyEvent", payload)

    def meter_values(self, sample: MeterSample) -> OutgoingCall:
        """MeterValuesRequest (J01), e.g. after TriggerMessage(MeterValues)."""
        payload = {"evseId": sample.evse, "meterValue": [self._meter_value(sample)]}
        return OutgoingCall("MeterValues", payload)

    def _status_notification(self, intent: StatusChanged) -> OutgoingCall | None:
        """StatusNotification (G01): per connector; there is no EVSE-0 connector in 2.0.1."""
        if intent.evse == 0:
            return None
        payload = {
            "timestamp": iso(intent.timestamp),
            "connectorStatus": _CONNECTOR_STATUS[intent.status],
            "evseId": intent.evse,
            "connectorId": 1,
        }
        return OutgoingCall("StatusNotification", payload, intent)

    def _event(self, event_type: str, transaction_id: str, evse: int, timestamp: float,
               trigger: str, info: Payload) -> Payload:  # fmt: skip
        seq = self._seq.get(transaction_id, 0)
        self._seq[transaction_id] = seq + 1
        return {
            "eventType": event_type,
            "timestamp": iso(timestamp),
            "triggerReason": trigger,
            "seqNo": seq,
            "transactionInfo": {"transactionId": transaction_id, **info},
            "evse": {"id": evse, "connectorId": 1},
        }

    def _translate_transaction(self, intent: Intent) -> list[OutgoingCall]:
        if isinstance(intent, TransactionStarted):
            info: Payload = {"chargingState": "EVConnected"}
            if intent.remote_start_id is not None:
                info["remoteStartId"] = intent.remote_start_id
            trigger = "RemoteStart" if intent.remote_start_id is not None else "Authorized"
            self._seq[intent.transaction_id] = 0
            payload = self._event(
                "Started", intent.transaction_id, intent.evse, intent.timestamp, trigger, info
            )
            payload["idToken"] = {"idToken": intent.id_token[:36], "type": intent.id_token_type}
            if intent.reservation_id is not None:
                payload["reservationId"] = intent.reservation_id
            payload["meterValue"] = [
                self._energy_value(intent.meter_start_wh, intent.timestamp, "Transaction.Begin")
            ]
            return [self._transaction_event(payload, intent)]
        if isinstance(intent, ChargingStateChanged):
            info = {"chargingState": _CHARGING_STATE.get(intent.status, "EVConnected")}
            payload = self._event(
                "Updated",
                intent.transaction_id,
                intent.evse,
                intent.timestamp,
                "ChargingStateChanged",
                info,
            )
            return [self._transaction_event(payload, intent)]
        if isinstance(intent, MeterSample):
            trigger = "Trigger" if intent.context == "Trigger" else "MeterValuePeriodic"
            payload = self._event(
                "Updated", intent.transaction_id, intent.evse, intent.timestamp, trigger, {}
            )
            payload["meterValue"] = [self._meter_value(intent)]
            return [self._transaction_event(payload, intent)]
        if isinstance(intent, TransactionStopped):
            reason = _STOP_REASON.get(intent.reason, intent.reason.value)
            info = {
                "chargingState": "EVConnected" if intent.plugged else "Idle",
                "stoppedReason": reason if reason in _REASONS_201 else "Other",
            }
            trigger = _STOP_TRIGGER.get(intent.reason, "AbnormalCondition")
            payload = self._event(
                "Ended", intent.transaction_id, intent.evse, intent.timestamp, trigger, info
            )
            payload["idToken"] = {"idToken": intent.id_token[:36], "type": "ISO14443"}
            payload["meterValue"] = [
                self._energy_value(intent.meter_stop_wh, intent.timestamp, "Transaction.End")
            ]
            self._seq.pop(intent.transaction_id, None)
            return [self._transaction_event(payload, intent)]
        return []

    @staticmethod
    def _transaction_event(payload: Payload, intent: TransactionIntent) -> OutgoingCall:
        """The TransactionEvent CALL; ``offline`` when the event happened without a
        connection (E04.FR.03; the schema's default is false, so it is only written then)."""
        if intent.offline:
            payload["offline"] = True
        return OutgoingCall("TransactionEvent", payload, intent)

    @staticmethod
    def _energy_value(energy_wh: float, timestamp: float, context: str) -> Payload:
        return {
            "timestamp": iso(timestamp),
            "sampledValue": [_sampled(energy_wh, "Energy.Active.Import.Register", "Wh", context)],
        }

    def _meter_value(self, sample: MeterSample) -> Payload:
        """MeterValueType with the TxUpdatedMeasurands (J02)."""
        values = {
            "Energy.Active.Import.Register": sample.energy_wh,
            "Power.Active.Import": sample.power_w,
            "Power.Offered": sample.offered_w,
            "Current.Import": sample.current_a,
            "Voltage": sample.voltage_v,
        }
        if sample.soc_pct is not None:
            values["SoC"] = sample.soc_pct
        sampled = [
            _sampled(values[m], m, _UNITS[m], sample.context)
            for m in self.measurands()
            if m in values
        ]
        return {"timestamp": iso(sample.timestamp), "sampledValue": sampled}

    def on_result(self, call: OutgoingCall, response: Payload) -> list[Command]:
        intent = call.intent
        refused = response.get("idTokenInfo", {}).get("status", "Accepted") != "Accepted"
        if isinstance(intent, TransactionStarted) and refused:
            # E05 / StopTxOnInvalidId: a refused token ends the transaction (Deauthorized).
            return [Deauthorize(intent.evse, intent.transaction_id)]
        return []

    # -- central system → charge point -----------------------------------------------------

    def on_RequestStartTransaction(self, payload: Payload) -> IncomingResult:
        """F01/F02: Accepted when the EVSE (or, without one, any EVSE) can start."""
        evse = payload.get("evseId")
        token = payload["idToken"]
        if evse is None:
            evse = self.station.free_evse(str(token["idToken"]))
        elif evse not in self.station.evse_numbers or not self._evse_can_start(
            evse, str(token["idToken"])
        ):
            evse = None
        if evse is None:
            return IncomingResult({"status": "Rejected"})
        command = RemoteStart(
            evse, str(token["idToken"]), str(token["type"]), int(payload["remoteStartId"])
        )
        return IncomingResult({"status": "Accepted"}, (command,))

    def on_RequestStopTransaction(self, payload: Payload) -> IncomingResult:
        """F03: Accepted when the transaction is running here."""
        evse = self.station.evse_of_transaction(str(payload["transactionId"]))
        if evse is None:
            return IncomingResult({"status": "Rejected"})
        return IncomingResult({"status": "Accepted"}, (RemoteStop(evse),))

    def on_Reset(self, payload: Payload) -> IncomingResult:
        """B11/B12: Immediate stops transactions now; OnIdle waits for them (Scheduled). With
        ``evseId`` only that EVSE resets, and OnIdle waits for its transaction only; an
        unknown EVSE is Rejected."""
        evse = payload.get("evseId")
        if evse is not None and evse not in self.station.evse_numbers:
            return IncomingResult({"status": "Rejected"})
        targets = self.station.evse_numbers if evse is None else [evse]
        busy = any(self.station.transaction(n) is not None for n in targets)
        if payload["type"] == "Immediate" or not busy:
            return IncomingResult({"status": "Accepted"}, (ResetRequested(True, evse=evse),))
        return IncomingResult({"status": "Scheduled"}, (ResetRequested(False, evse=evse),))

    def on_ChangeAvailability(self, payload: Payload) -> IncomingResult:
        """G03/G04: without an EVSE (or EVSE 0) the whole station changes."""
        number = int(payload.get("evse", {}).get("id", 0))
        operative = payload["operationalStatus"] == "Operative"
        status = self.station.availability_answer(number, operative)
        if status == "Rejected":
            return IncomingResult({"status": status})
        return IncomingResult({"status": status}, (AvailabilityChange(number, operative),))

    def on_TriggerMessage(self, payload: Payload) -> IncomingResult:
        """F06: TransactionEvent is answered with an Updated event (triggerReason Trigger)."""
        message = _TRIGGERABLE.get(payload["requestedMessage"])
        if message is None:
            return IncomingResult({"status": "NotImplemented"})
        evse = payload.get("evse", {}).get("id")
        if evse is not None and evse != 0 and evse not in self.station.evse_numbers:
            return IncomingResult({"status": "Rejected"})
        trigger = TriggerRequested(message, evse)  # type: ignore[arg-type]
        return IncomingResult({"status": "Accepted"}, (trigger,))
