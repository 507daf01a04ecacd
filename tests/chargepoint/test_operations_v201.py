"""OCPP 2.0.1 operations beyond transactions, over real sockets; every frame checked both ways
against the official schemas (``validate_exchange``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ocpp.v201 import call as c201

from ocpplab_sim.fleet import FrameRecord, SimulatedChargePoint
from tests.chargepoint.conftest import validate_exchange
from tests.chargepoint.csms import TestCsms
from tests.chargepoint.test_operations_v16 import at, exchange

MakeCp = Callable[..., SimulatedChargePoint]
TOKEN = {"id_token": "MINE", "type": "ISO14443"}


def power(event: dict[str, Any]) -> float:
    values = event["meterValue"][0]["sampledValue"]
    return float(next(v["value"] for v in values if v.get("measurand") == "Power.Active.Import"))


def periodic(csms: TestCsms) -> list[dict[str, Any]]:
    return [e for e in csms.calls("TransactionEvent") if e["triggerReason"] == "MeterValuePeriodic"]


async def test_unlock_reserve_and_reservation_expiry(
    csms: TestCsms, make_cp: MakeCp, frames: list[FrameRecord]
) -> None:
    cp = make_cp("CS-RES", "2.0.1", evses=2)
    await cp.start()
    server = csms.points["CS-RES"]
    answer = await server.call(
        c201.ReserveNow(id=11, expiry_date_time=at(60), id_token=TOKEN, evse_id=1)
    )
    assert answer.status == "Accepted"
    await csms.wait_for(
        lambda: csms.calls("StatusNotification")[-1]["connectorStatus"] == "Reserved"
    )
    other = {"id_token": "OTHER", "type": "ISO14443"}
    refused = await server.call(
        c201.RequestStartTransaction(id_token=other, remote_start_id=1, evse_id=1)
    )
    assert refused.status == "Rejected"
    await cp.start_charging(1, "MINE")
    started = csms.calls("TransactionEvent")[0]
    assert started["reservationId"] == 11
    unlock = await server.call(c201.UnlockConnector(evse_id=1, connector_id=1))
    assert unlock.status == "OngoingAuthorizedTransaction"
    assert (await server.call(c201.UnlockConnector(evse_id=2, connector_id=1))).status == "Unlocked"
    assert (
        await server.call(c201.UnlockConnector(evse_id=9, connector_id=1))
    ).status == "UnknownConnector"
    await server.call(c201.ReserveNow(id=12, expiry_date_time=at(0.4), id_token=other, evse_id=2))
    await csms.wait_for(lambda: bool(csms.calls("ReservationStatusUpdate")), within_s=3)
    assert csms.calls("ReservationStatusUpdate")[0] == {
        "reservationId": 12,
        "reservationUpdateStatus": "Expired",
    }
    assert cp.status(2) == "Available"
    await server.call(c201.ReserveNow(id=13, expiry_date_time=at(60), id_token=other, evse_id=2))
    assert (await server.call(c201.CancelReservation(reservation_id=13))).status == "Accepted"
    assert (await server.call(c201.CancelReservation(reservation_id=13))).status == "Rejected"
    await cp.stop()
    validate_exchange("2.0.1", exchange(frames, "CS-RES"))


async def test_charging_profile_limits_power_and_composite_schedule(
    csms: TestCsms, make_cp: MakeCp, frames: list[FrameRecord]
) -> None:
    cp = make_cp("CS-SMART", "2.0.1", meter_interval_s=0.15)
    await cp.start()
    server = csms.points["CS-SMART"]
    await cp.start_charging(1, "TAG")
    tx_id = cp.station.transaction(1).id  # type: ignore[union-attr]
    await csms.wait_for(lambda: len(periodic(csms)) >= 1)
    assert power(periodic(csms)[-1]) > 21000
    profile = {
        "id": 7,
        "stack_level": 1,
        "charging_profile_purpose": "TxProfile",
        "charging_profile_kind": "Relative",
        "transaction_id": tx_id,
        "charging_schedule": [
            {
                "id": 1,
                "charging_rate_unit": "W",
                "charging_schedule_period": [{"start_period": 0, "limit": 7400}],
            }
        ],
    }
    answer = await server.call(c201.SetChargingProfile(evse_id=1, charging_profile=profile))
    assert answer.status == "Accepted"
    mark = len(periodic(csms))
    await csms.wait_for(lambda: len(periodic(csms)) >= mark + 1)
    assert 7400 * 0.95 <= power(periodic(csms)[mark]) <= 7400
    composite = await server.call(
        c201.GetCompositeSchedule(duration=300, evse_id=1, charging_rate_unit="W")
    )
    assert composite.status == "Accepted"
    assert composite.schedule["charging_schedule_period"] == [{"start_period": 0, "limit": 7400}]
    cleared = await server.call(c201.ClearChargingProfile(charging_profile_id=7))
    assert cleared.status == "Accepted"
    composite = await server.call(c201.GetCompositeSchedule(duration=300, evse_id=1))
    assert composite.schedule["charging_schedule_period"][0]["limit"] == 22000
    status = await server.call(c201.GetTransactionStatus(transaction_id=tx_id))
    assert (status.messages_in_queue, status.ongoing_indicator) == (False, True)
    await cp.stop_charging(1)
    status = await server.call(c201.GetTransactionStatus(transaction_id=tx_id))
    assert status.ongoing_indicator is False
    await cp.stop()
    validate_exchange("2.0.1", exchange(frames, "CS-SMART"))


async def test_device_model_report_and_variables_take_effect(
    csms: TestCsms, make_cp: MakeCp, frames: list[FrameRecord]
) -> None:
    cp = make_cp("CS-DM", "2.0.1", meter_interval_s=0.15)
    await cp.start()
    server = csms.points["CS-DM"]
    answer = await server.call(c201.GetBaseReport(request_id=99, report_base="FullInventory"))
    assert answer.status == "Accepted"
    await csms.wait_for(lambda: bool(csms.calls("NotifyReport")))
    report = csms.calls("NotifyReport")[0]
    assert report["requestId"] == 99
    names = {(d["component"]["name"], d["variable"]["name"]) for d in report["reportData"]}
    assert ("OCPPCommCtrlr", "HeartbeatInterval") in names
    assert ("SampledDataCtrlr", "TxUpdatedMeasurands") in names
    data = [
        {
            "component": {"name": "SampledDataCtrlr"},
            "variable": {"name": "TxUpdatedMeasurands"},
            "attribute_value": "Energy.Active.Import.Register,Power.Active.Import",
        }
    ]
    result = await server.call(c201.SetVariables(set_variable_data=data))
    assert result.set_variable_result[0]["attribute_status"] == "Accepted"
    await cp.start_charging(1, "TAG")
    await csms.wait_for(lambda: bool(periodic(csms)))
    measurands = [v["measurand"] for v in periodic(csms)[0]["meterValue"][0]["sampledValue"]]
    assert measurands == ["Energy.Active.Import.Register", "Power.Active.Import"]
    await server.call(c201.TriggerMessage(requested_message="MeterValues", evse={"id": 1}))
    await csms.wait_for(lambda: bool(csms.calls("MeterValues")))
    assert csms.calls("MeterValues")[0]["evseId"] == 1
    await cp.set_fault(1, True, "GroundFailure")
    await csms.wait_for(lambda: bool(csms.calls("NotifyEvent")))
    event = csms.calls("NotifyEvent")[0]["eventData"][0]
    assert (event["variable"]["name"], event["actualValue"], event["techCode"]) == (
        "Problem",
        "true",
        "GroundFailure",
    )
    assert csms.calls("TransactionEvent")[-1]["eventType"] == "Ended"
    await cp.set_fault(1, False)
    await csms.wait_for(lambda: len(csms.calls("NotifyEvent")) == 2)
    await cp.stop()
    validate_exchange("2.0.1", exchange(frames, "CS-DM"))


async def test_local_list_firmware_and_log(
    csms: TestCsms, make_cp: MakeCp, frames: list[FrameRecord]
) -> None:
    cp = make_cp("CS-FW", "2.0.1", firmware_step_s=0.02)
    await cp.start()
    server = csms.points["CS-FW"]
    entries = [{"id_token": TOKEN, "id_token_info": {"status": "Accepted"}}]
    answer = await server.call(
        c201.SendLocalList(version_number=4, update_type="Full", local_authorization_list=entries)
    )
    assert answer.status == "Accepted"
    assert (await server.call(c201.GetLocalListVersion())).version_number == 4
    assert await cp.set_configuration("AuthCtrlr.LocalPreAuthorize", "true")
    assert await cp.authorize(1, "MINE") == "Accepted"
    assert csms.calls("Authorize") == []
    assert (await server.call(c201.ClearCache())).status == "Accepted"
    firmware = {"location": "https://fw.example/cs-3.1.bin", "retrieve_date_time": at(0)}
    answer = await server.call(c201.UpdateFirmware(request_id=5, firmware=firmware))
    assert answer.status == "Accepted"

    def statuses() -> list[str]:
        return [c["status"] for c in csms.calls("FirmwareStatusNotification")]

    await csms.wait_for(lambda: statuses()[-1:] == ["Installed"])
    assert statuses() == [
        "Downloading",
        "Downloaded",
        "Installing",
        "InstallRebooting",
        "Installed",
    ]
    assert {c["requestId"] for c in csms.calls("FirmwareStatusNotification")} == {5}
    await csms.wait_for(lambda: len(csms.calls("SecurityEventNotification")) == 2)
    assert [(e["type"], e["techInfo"]) for e in csms.calls("SecurityEventNotification")] == [
        ("ResetOrReboot", "Reboot to install firmware cs-3.1.bin"),
        ("FirmwareUpdated", "Firmware cs-3.1.bin installed"),
    ]
    boot = csms.calls("BootNotification")[-1]
    assert boot["reason"] == "FirmwareUpdate"
    assert boot["chargingStation"]["firmwareVersion"] == "cs-3.1.bin"
    server = csms.points["CS-FW"]
    log = {"remote_location": "https://logs.example/"}
    answer = await server.call(c201.GetLog(log=log, log_type="DiagnosticsLog", request_id=8))
    assert answer.status == "Accepted" and answer.filename
    await csms.wait_for(lambda: len(csms.calls("LogStatusNotification")) == 2)
    assert [(c["status"], c["requestId"]) for c in csms.calls("LogStatusNotification")] == [
        ("Uploading", 8),
        ("Uploaded", 8),
    ]
    echo = await server.call(
        c201.DataTransfer(vendor_id="ocpplab", message_id="echo", data={"a": 1})
    )
    assert (echo.status, echo.data) == ("Accepted", {"a": 1})
    unknown = await server.call(c201.DataTransfer(vendor_id="acme"))
    assert unknown.status == "UnknownVendorId"
    await cp.stop()
    validate_exchange("2.0.1", exchange(frames, "CS-FW"))
