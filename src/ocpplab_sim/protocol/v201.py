"""OCPP 2.0.1 adapter: station intents ⇄ 2.0.1 payloads (use-case ids of 2.0.1 Part 2).

Transactions are reported with TransactionEvent (E01 to E10): the station's uuid is the
``transactionId``; ``seqNo`` starts at 0 for every transaction and grows by one per event.
The modelled TxStartPoint / TxStopPoint is ``PowerPathClosed``: the transaction starts once the
cable is in *and* the driver is authorized, and ends when either goes away.
"""

from __future__ import annotations

from collections.abc import Callable
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
from ocpplab_sim.station import (
    ChargingStateChanged,
    Intent,
    MeterSample,
    Status,
    StatusChanged,
    StopReason,
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
}


def _sampled(value: float, measurand: str, unit: str, context: str) -> Payload:
    return {
        "value": round(value, 2),
        "context": context,
        "measurand": measurand,
        "unitOfMeasure": {"unit": unit},
    }


class V201Adapter(Adapter):
    """Keeps the next seqNo per running transaction; answers B05/B06 from a small device model."""

    version = "2.0.1"
    subprotocol = "ocpp2.0.1"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._seq: dict[str, int] = {}
        self._variables: dict[
            tuple[str, str], tuple[Callable[[], str], Callable[[str], bool] | None]
        ] = {
            ("OCPPCommCtrlr", "HeartbeatInterval"): (
                lambda: str(round(self.settings.heartbeat_interval_s)),
                lambda v: self._set_interval("heartbeat_interval_s", v),
            ),
            ("SampledDataCtrlr", "TxUpdatedInterval"): (
                lambda: str(round(self.settings.meter_interval_s)),
                lambda v: self._set_interval("meter_interval_s", v),
            ),
            ("AuthCtrlr", "AuthorizeRemoteStart"): (
                lambda: str(self.settings.authorize_remote_start).lower(),
                self._set_authorize_remote_start,
            ),
            ("TxCtrlr", "TxStartPoint"): (lambda: "PowerPathClosed", None),
            ("TxCtrlr", "TxStopPoint"): (lambda: "PowerPathClosed", None),
            ("TxCtrlr", "StopTxOnEVSideDisconnect"): (lambda: "true", None),
            ("SampledDataCtrlr", "TxUpdatedMeasurands"): (
                lambda: "Energy.Active.Import.Register,Power.Active.Import,Current.Import,Voltage",
                None,
            ),
        }

    # -- charge point → central system -----------------------------------------------------

    def boot_notification(
        self, vendor: str, model: str, *, reason: str = "PowerUp"
    ) -> OutgoingCall:
        """BootNotification (B01)."""
        station = {"model": model[:20], "vendorName": vendor[:50]}
        return OutgoingCall("BootNotification", {"reason": reason, "chargingStation": station})

    def authorize(self, id_token: str, id_token_type: str = "ISO14443") -> OutgoingCall:
        """Authorize (C01)."""
        return OutgoingCall(
            "Authorize", {"idToken": {"idToken": id_token[:36], "type": id_token_type}}
        )

    def authorize_status(self, response: Payload) -> str:
        return str(response.get("idTokenInfo", {}).get("status", "Invalid"))

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
            payload["meterValue"] = [
                self._energy_value(intent.meter_start_wh, intent.timestamp, "Transaction.Begin")
            ]
            return [OutgoingCall("TransactionEvent", payload, intent)]
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
            return [OutgoingCall("TransactionEvent", payload, intent)]
        if isinstance(intent, MeterSample):
            trigger = "Trigger" if intent.context == "Trigger" else "MeterValuePeriodic"
            payload = self._event(
                "Updated", intent.transaction_id, intent.evse, intent.timestamp, trigger, {}
            )
            payload["meterValue"] = [self._meter_value(intent)]
            return [OutgoingCall("TransactionEvent", payload, intent)]
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
            return [OutgoingCall("TransactionEvent", payload, intent)]
        return []

    @staticmethod
    def _energy_value(energy_wh: float, timestamp: float, context: str) -> Payload:
        return {
            "timestamp": iso(timestamp),
            "sampledValue": [_sampled(energy_wh, "Energy.Active.Import.Register", "Wh", context)],
        }

    @staticmethod
    def _meter_value(sample: MeterSample) -> Payload:
        """MeterValueType with the TxUpdatedMeasurands (J02)."""
        ctx = sample.context
        return {
            "timestamp": iso(sample.timestamp),
            "sampledValue": [
                _sampled(sample.energy_wh, "Energy.Active.Import.Register", "Wh", ctx),
                _sampled(sample.power_w, "Power.Active.Import", "W", ctx),
                _sampled(sample.current_a, "Current.Import", "A", ctx),
                _sampled(sample.voltage_v, "Voltage", "V", ctx),
            ],
        }

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
        if evse is None:
            evse = self.station.free_evse()
        elif evse not in self.station.evse_numbers or not self._evse_can_start(evse):
            evse = None
        if evse is None:
            return IncomingResult({"status": "Rejected"})
        token = payload["idToken"]
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
        """B11/B12: Immediate stops transactions now; OnIdle waits for them (Scheduled).
        Resetting a single EVSE is not modelled and is Rejected."""
        if payload.get("evseId") is not None:
            return IncomingResult({"status": "Rejected"})
        busy = any(self.station.transaction(n) is not None for n in self.station.evse_numbers)
        if payload["type"] == "Immediate" or not busy:
            return IncomingResult({"status": "Accepted"}, (ResetRequested(immediate=True),))
        return IncomingResult({"status": "Scheduled"}, (ResetRequested(immediate=False),))

    def on_ChangeAvailability(self, payload: Payload) -> IncomingResult:
        """G03/G04: without an EVSE (or EVSE 0) the whole station changes."""
        number = int(payload.get("evse", {}).get("id", 0))
        operative = payload["operationalStatus"] == "Operative"
        numbers = self.station.evse_numbers
        if number != 0 and number not in numbers:
            return IncomingResult({"status": "Rejected"})
        targets = numbers if number == 0 else [number]
        busy = any(self.station.transaction(n) is not None for n in targets)
        status = "Scheduled" if busy and not operative else "Accepted"
        return IncomingResult({"status": status}, (AvailabilityChange(number, operative),))

    def _lookup(
        self, item: Payload
    ) -> tuple[str, tuple[Callable[[], str], Callable[[str], bool] | None] | None]:
        component, variable = item["component"]["name"], item["variable"]["name"]
        if item.get("attributeType", "Actual") != "Actual":
            return "NotSupportedAttributeType", None
        entry = self._variables.get((component, variable))
        if entry is not None:
            return "Accepted", entry
        known = any(c == component for c, _ in self._variables)
        return ("UnknownVariable" if known else "UnknownComponent"), None

    def on_GetVariables(self, payload: Payload) -> IncomingResult:
        """B06: one result per requested variable, echoing component and variable."""
        results = []
        for item in payload["getVariableData"]:
            status, entry = self._lookup(item)
            result: Payload = {
                "attributeStatus": status,
                "component": item["component"],
                "variable": item["variable"],
            }
            if entry is not None:
                result["attributeValue"] = entry[0]()
            results.append(result)
        return IncomingResult({"getVariableResult": results})

    def on_SetVariables(self, payload: Payload) -> IncomingResult:
        """B05: writable variables are the intervals and AuthorizeRemoteStart."""
        results, changed = [], []
        for item in payload["setVariableData"]:
            status, entry = self._lookup(item)
            if entry is not None:
                setter = entry[1]
                ok = setter is not None and setter(str(item["attributeValue"]))
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

    def _set_interval(self, attribute: str, value: str) -> bool:
        try:
            seconds = int(value)
        except ValueError:
            return False
        if seconds <= 0:
            return False
        setattr(self.settings, attribute, float(seconds))
        return True

    def _set_authorize_remote_start(self, value: str) -> bool:
        if value.lower() not in ("true", "false"):
            return False
        self.settings.authorize_remote_start = value.lower() == "true"
        return True
