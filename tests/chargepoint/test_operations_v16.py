"""OCPP 1.6J operations beyond Core, over real sockets; every frame checked both ways against
the official schemas (``validate_exchange``)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from ocpp.v16 import call as c16

from ocpplab_sim.errors import ChargePointError
from ocpplab_sim.fleet import FrameRecord, SimulatedChargePoint
from tests.chargepoint.conftest import validate_exchange
from tests.chargepoint.csms import TestCsms

MakeCp = Callable[..., SimulatedChargePoint]


def exchange(frames: list[FrameRecord], identity: str) -> list[list[Any]]:
    return [f.message for f in frames if f.identity == identity]


def at(seconds: float) -> str:
    return (datetime.now(UTC) + timedelta(seconds=seconds)).isoformat().replace("+00:00", "Z")


def power(meter: dict[str, Any]) -> float:
    values = meter["meterValue"][0]["sampledValue"]
    return float(next(v["value"] for v in values if v.get("measurand") == "Power.Active.Import"))


async def test_unlock_connector_ends_the_transaction(
    csms: TestCsms, make_cp: MakeCp, frames: list[FrameRecord]
) -> None:
    cp = make_cp("CP-UNLOCK", "1.6", evses=2)
    await cp.start()
    server = csms.points["CP-UNLOCK"]
    await cp.start_charging(1, "TAG")
    assert (await server.call(c16.UnlockConnector(connector_id=1))).status == "Unlocked"
    await csms.wait_for(lambda: bool(csms.calls("StopTransaction")))
    assert csms.calls("StopTransaction")[0]["reason"] == "UnlockCommand"
    assert (await server.call(c16.UnlockConnector(connector_id=7))).status == "NotSupported"
    await cp.stop()
    validate_exchange("1.6", exchange(frames, "CP-UNLOCK"))


async def test_reservation_blocks_other_tokens_and_expires(
    csms: TestCsms, make_cp: MakeCp, frames: list[FrameRecord]
) -> None:
    cp = make_cp("CP-RES", "1.6", evses=2)
    await cp.start()
    server = csms.points["CP-RES"]
    answer = await server.call(
        c16.ReserveNow(connector_id=1, expiry_date=at(60), id_tag="MINE", reservation_id=5)
    )
    assert answer.status == "Accepted"
    await csms.wait_for(lambda: cp.status(1) == "Reserved")
    assert csms.calls("StatusNotification")[-1]["status"] == "Reserved"
    remote = await server.call(c16.RemoteStartTransaction(id_tag="OTHER", connector_id=1))
    assert remote.status == "Rejected"
    with pytest.raises(ChargePointError, match="reserved"):
        await cp.start_charging(1, "OTHER")
    await cp.unplug(1)
    await cp.start_charging(1, "MINE")  # the reserved token may start
    assert cp.station.reservation(1) is None
    busy = await server.call(
        c16.ReserveNow(connector_id=1, expiry_date=at(60), id_tag="X", reservation_id=6)
    )
    assert busy.status == "Occupied"
    # Cancel, and expiry on connector 2
    short = await server.call(
        c16.ReserveNow(connector_id=2, expiry_date=at(0.4), id_tag="X", reservation_id=7)
    )
    assert short.status == "Accepted"
    await csms.wait_for(lambda: cp.status(2) == "Reserved")
    await csms.wait_for(lambda: cp.status(2) == "Available", within_s=3)
    assert (await server.call(c16.CancelReservation(reservation_id=7))).status == "Rejected"
    await server.call(
        c16.ReserveNow(connector_id=0, expiry_date=at(60), id_tag="X", reservation_id=8)
    )
    await csms.wait_for(lambda: cp.status(2) == "Reserved")  # connector 0: any free connector
    assert (await server.call(c16.CancelReservation(reservation_id=8))).status == "Accepted"
    await csms.wait_for(lambda: cp.status(2) == "Available")
    await cp.stop()
    validate_exchange("1.6", exchange(frames, "CP-RES"))


async def test_charging_profile_limits_the_metered_power_within_one_sample(
    csms: TestCsms, make_cp: MakeCp, frames: list[FrameRecord]
) -> None:
    cp = make_cp("CP-SMART", "1.6", meter_interval_s=0.15)
    await cp.start()
    server = csms.points["CP-SMART"]
    await cp.start_charging(1, "TAG")
    await csms.wait_for(lambda: len(csms.calls("MeterValues")) >= 1)
    assert power(csms.calls("MeterValues")[-1]) > 21000
    profile = {
        "charging_profile_id": 1,
        "stack_level": 0,
        "charging_profile_purpose": "TxProfile",
        "charging_profile_kind": "Relative",
        "charging_schedule": {
            "charging_rate_unit": "A",
            "charging_schedule_period": [{"start_period": 0, "limit": 10}],
        },
    }
    answer = await server.call(c16.SetChargingProfile(connector_id=1, cs_charging_profiles=profile))
    assert answer.status == "Accepted"
    mark = len(csms.calls("MeterValues"))
    await csms.wait_for(lambda: len(csms.calls("MeterValues")) >= mark + 1)
    limited = power(csms.calls("MeterValues")[mark])  # the very next sample
    assert 10 * 230 * 3 * 0.95 <= limited <= 10 * 230 * 3
    composite = await server.call(
        c16.GetCompositeSchedule(connector_id=1, duration=600, charging_rate_unit="A")
    )
    assert composite.status == "Accepted"
    assert composite.charging_schedule["charging_schedule_period"] == [
        {"start_period": 0, "limit": 10.0}
    ]
    cleared = await server.call(c16.ClearChargingProfile(id=1))
    assert cleared.status == "Accepted"
    assert (await server.call(c16.ClearChargingProfile(id=1))).status == "Unknown"
    mark = len(csms.calls("MeterValues"))
    await csms.wait_for(lambda: len(csms.calls("MeterValues")) >= mark + 1)
    assert power(csms.calls("MeterValues")[mark]) > 21000
    # A zero TxDefaultProfile on connector 0 suspends the EVSE.
    zero = {**profile, "charging_profile_purpose": "TxDefaultProfile", "charging_profile_id": 2}
    await server.call(c16.SetChargingProfile(connector_id=0, cs_charging_profiles=zero))
    zero["charging_schedule"] = {
        "charging_rate_unit": "W",
        "charging_schedule_period": [{"start_period": 0, "limit": 0}],
    }
    await server.call(c16.SetChargingProfile(connector_id=0, cs_charging_profiles=zero))
    await csms.wait_for(lambda: cp.status(1) == "SuspendedEVSE")
    # A TxProfile without a transaction is refused.
    await cp.stop_charging(1)
    refused = await server.call(
        c16.SetChargingProfile(connector_id=1, cs_charging_profiles=profile)
    )
    assert refused.status == "Rejected"
    await cp.stop()
    validate_exchange("1.6", exchange(frames, "CP-SMART"))


async def test_local_list_and_cache_are_used_by_authorization(
    csms: TestCsms, make_cp: MakeCp, frames: list[FrameRecord]
) -> None:
    cp = make_cp("CP-AUTH", "1.6")
    await cp.start()
    server = csms.points["CP-AUTH"]
    entries = [{"id_tag": "LOCAL", "id_tag_info": {"status": "Accepted"}}]
    answer = await server.call(
        c16.SendLocalList(list_version=3, update_type="Full", local_authorization_list=entries)
    )
    assert answer.status == "Accepted"
    assert (await server.call(c16.GetLocalListVersion())).list_version == 3
    stale = await server.call(c16.SendLocalList(list_version=2, update_type="Differential"))
    assert stale.status == "VersionMismatch"
    await server.call(c16.ChangeConfiguration(key="LocalPreAuthorize", value="true"))
    assert await cp.authorize(1, "LOCAL") == "Accepted"
    assert csms.calls("Authorize") == []  # answered from the local list
    assert await cp.authorize(1, "CACHED") == "Accepted"
    assert await cp.authorize(1, "CACHED") == "Accepted"
    assert len(csms.calls("Authorize")) == 1  # the second one came from the cache
    assert (await server.call(c16.ClearCache())).status == "Accepted"
    await cp.authorize(1, "CACHED")
    assert len(csms.calls("Authorize")) == 2
    await cp.stop()
    validate_exchange("1.6", exchange(frames, "CP-AUTH"))


async def test_configuration_changes_take_effect(
    csms: TestCsms, make_cp: MakeCp, frames: list[FrameRecord]
) -> None:
    cp = make_cp("CP-CONF", "1.6", meter_interval_s=0.15)
    await cp.start()
    server = csms.points["CP-CONF"]
    everything = await server.call(c16.GetConfiguration())
    keys = {k["key"] for k in everything.configuration_key}
    assert {"MeterValuesSampledData", "LocalPreAuthorize", "AuthorizeRemoteTxRequests"} <= keys
    bad = await server.call(c16.ChangeConfiguration(key="MeterValuesSampledData", value="Nope"))
    assert bad.status == "Rejected"
    ok = await server.call(
        c16.ChangeConfiguration(key="MeterValuesSampledData", value="Energy.Active.Import.Register")
    )
    assert ok.status == "Accepted"
    await cp.start_charging(1, "TAG")
    await csms.wait_for(lambda: bool(csms.calls("MeterValues")))
    sampled = csms.calls("MeterValues")[0]["meterValue"][0]["sampledValue"]
    assert [v["measurand"] for v in sampled] == ["Energy.Active.Import.Register"]
    # AuthorizeRemoteTxRequests: a remote start is authorized first.
    await cp.stop_charging(1)
    await server.call(c16.ChangeConfiguration(key="AuthorizeRemoteTxRequests", value="true"))
    await server.call(c16.RemoteStartTransaction(id_tag="REMOTE", connector_id=1))
    await csms.wait_for(lambda: len(csms.calls("StartTransaction")) == 2)
    assert csms.calls("Authorize")[-1]["idTag"] == "REMOTE"
    echo = await server.call(c16.DataTransfer(vendor_id="ocpplab", message_id="echo", data="hi"))
    assert (echo.status, echo.data) == ("Accepted", "hi")
    assert (await cp.data_transfer("acme", "x", "y"))["status"] == "Accepted"
    await cp.stop()
    validate_exchange("1.6", exchange(frames, "CP-CONF"))


async def test_firmware_update_and_diagnostics_report_their_status_sequences(
    csms: TestCsms, make_cp: MakeCp, frames: list[FrameRecord]
) -> None:
    cp = make_cp("CP-FW", "1.6", firmware_step_s=0.02)
    await cp.start()
    server = csms.points["CP-FW"]
    await server.call(
        c16.UpdateFirmware(location="https://fw.example/sim-2.0.bin", retrieve_date=at(0))
    )

    def statuses() -> list[str]:
        return [c["status"] for c in csms.calls("FirmwareStatusNotification")]

    await csms.wait_for(lambda: statuses()[-1:] == ["Installed"])
    assert statuses() == ["Downloading", "Downloaded", "Installing", "Installed"]
    boots = csms.calls("BootNotification")
    assert len(boots) == 2 and boots[1]["firmwareVersion"] == "sim-2.0.bin"
    await csms.wait_for(lambda: len(csms.calls("SecurityEventNotification")) == 2)
    assert [e["type"] for e in csms.calls("SecurityEventNotification")] == [
        "ResetOrReboot",
        "FirmwareUpdated",
    ]
    server = csms.points["CP-FW"]  # the reboot opened a new connection
    answer = await server.call(c16.GetDiagnostics(location="ftp://logs.example/"))
    assert answer.file_name.startswith("diagnostics-")
    await csms.wait_for(lambda: len(csms.calls("DiagnosticsStatusNotification")) == 2)
    assert [c["status"] for c in csms.calls("DiagnosticsStatusNotification")] == [
        "Uploading",
        "Uploaded",
    ]
    await server.call(c16.TriggerMessage(requested_message="FirmwareStatusNotification"))
    await csms.wait_for(lambda: len(statuses()) == 5)
    assert statuses()[-1] == "Installed"
    await asyncio.sleep(0)
    await cp.stop()
    validate_exchange("1.6", exchange(frames, "CP-FW"))
