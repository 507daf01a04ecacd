"""Calls initiated by the central system have real effects on the charge point."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from ocpp.v16 import call as c16
from ocpp.v201 import call as c201

from ocpplab_sim.errors import OcppCallError, OcppCallTimeout
from ocpplab_sim.fleet import FrameRecord, SimulatedChargePoint
from tests.chargepoint.conftest import validate_exchange
from tests.chargepoint.csms import TestCsms

MakeCp = Callable[..., SimulatedChargePoint]


def exchange(frames: list[FrameRecord], identity: str) -> list[list[Any]]:
    return [f.message for f in frames if f.identity == identity]


async def test_v16_remote_start_and_stop(
    csms: TestCsms, make_cp: MakeCp, frames: list[FrameRecord]
) -> None:
    cp = make_cp("CP-R16", "1.6", evses=2)
    await cp.start()
    server = csms.points["CP-R16"]
    answer = await server.call(c16.RemoteStartTransaction(id_tag="REMOTE", connector_id=2))
    assert answer.status == "Accepted"
    await csms.wait_for(lambda: cp.status(2) == "Charging")
    await csms.wait_for(lambda: bool(csms.calls("StartTransaction")))
    start = csms.calls("StartTransaction")[0]
    assert start["connectorId"] == 2 and start["idTag"] == "REMOTE"
    # Busy connector: refused, nothing else starts
    again = await server.call(c16.RemoteStartTransaction(id_tag="REMOTE", connector_id=2))
    assert again.status == "Rejected"
    wrong = await server.call(c16.RemoteStopTransaction(transaction_id=4242))
    assert wrong.status == "Rejected"
    answer = await server.call(c16.RemoteStopTransaction(transaction_id=1001))
    assert answer.status == "Accepted"
    await csms.wait_for(lambda: bool(csms.calls("StopTransaction")))
    assert csms.calls("StopTransaction")[0]["reason"] == "Remote"
    assert cp.status(2) == "Finishing"
    await cp.stop()
    validate_exchange("1.6", exchange(frames, "CP-R16"))


async def test_v201_request_start_and_stop(
    csms: TestCsms, make_cp: MakeCp, frames: list[FrameRecord]
) -> None:
    cp = make_cp("CS-R201", "2.0.1", evses=2)
    await cp.start()
    server = csms.points["CS-R201"]
    token = {"id_token": "REMOTE", "type": "Central"}
    answer = await server.call(c201.RequestStartTransaction(id_token=token, remote_start_id=77))
    assert answer.status == "Accepted"
    await csms.wait_for(lambda: cp.status(1) == "Charging")
    await csms.wait_for(lambda: bool(csms.calls("TransactionEvent")))
    started = csms.calls("TransactionEvent")[0]
    assert started["eventType"] == "Started"
    assert started["triggerReason"] == "RemoteStart"
    assert started["transactionInfo"]["remoteStartId"] == 77
    tx_id = started["transactionInfo"]["transactionId"]
    answer = await server.call(c201.RequestStopTransaction(transaction_id=tx_id))
    assert answer.status == "Accepted"
    await csms.wait_for(lambda: csms.calls("TransactionEvent")[-1]["eventType"] == "Ended")
    ended = csms.calls("TransactionEvent")[-1]
    assert ended["triggerReason"] == "RemoteStop"
    assert ended["transactionInfo"]["stoppedReason"] == "Remote"
    await cp.stop()
    validate_exchange("2.0.1", exchange(frames, "CS-R201"))


async def test_v16_configuration_trigger_availability_reset(
    csms: TestCsms, make_cp: MakeCp
) -> None:
    cp = make_cp("CP-CFG", "1.6")
    await cp.start()
    server = csms.points["CP-CFG"]
    config = await server.call(c16.GetConfiguration(key=["HeartbeatInterval"]))
    assert config.configuration_key[0]["value"] == "1"  # the interval from BootNotification
    # A longer heartbeat interval takes effect: no heartbeat within the next 1.5 s.
    assert (
        await server.call(c16.ChangeConfiguration(key="HeartbeatInterval", value="30"))
    ).status == "Accepted"
    before = len(csms.calls("Heartbeat"))
    await asyncio.sleep(1.5)
    assert len(csms.calls("Heartbeat")) == before

    answer = await server.call(c16.TriggerMessage(requested_message="Heartbeat"))
    assert answer.status == "Accepted"
    await csms.wait_for(lambda: len(csms.calls("Heartbeat")) == before + 1)

    answer = await server.call(c16.ChangeAvailability(connector_id=1, type="Inoperative"))
    assert answer.status == "Accepted"
    await csms.wait_for(lambda: cp.status(1) == "Unavailable")
    assert csms.calls("StatusNotification")[-1]["status"] == "Unavailable"
    await server.call(c16.ChangeAvailability(connector_id=1, type="Operative"))
    await csms.wait_for(lambda: cp.status(1) == "Available")

    await cp.start_charging(1, "TAG")
    assert (await server.call(c16.Reset(type="Soft"))).status == "Accepted"
    await csms.wait_for(lambda: len(csms.calls("BootNotification")) == 2)
    assert csms.calls("StopTransaction")[0]["reason"] == "SoftReset"
    assert cp.status(1) == "Finishing"
    assert csms.connects == ["CP-CFG", "CP-CFG"]  # the reset re-opened the websocket
    server = csms.points["CP-CFG"]

    with pytest.raises(Exception, match="NotSupported"):
        await server.call(c16.CertificateSigned(certificate_chain="x"), suppress=False)
    await cp.stop()


async def test_v201_variables_and_trigger_transaction_event(
    csms: TestCsms, make_cp: MakeCp
) -> None:
    cp = make_cp("CS-VAR", "2.0.1", meter_interval_s=30)
    await cp.start()
    server = csms.points["CS-VAR"]
    await cp.start_charging(1, "TAG")
    data = [
        {
            "component": {"name": "SampledDataCtrlr"},
            "variable": {"name": "TxUpdatedInterval"},
            "attribute_value": "0",
        }
    ]
    result = await server.call(c201.SetVariables(set_variable_data=data))
    assert result.set_variable_result[0]["attribute_status"] == "Rejected"
    answer = await server.call(
        c201.TriggerMessage(requested_message="TransactionEvent", evse={"id": 1})
    )
    assert answer.status == "Accepted"
    await csms.wait_for(lambda: csms.calls("TransactionEvent")[-1]["triggerReason"] == "Trigger")
    seqs = [e["seqNo"] for e in csms.calls("TransactionEvent")]
    assert seqs == list(range(len(seqs)))
    got = await server.call(
        c201.GetVariables(
            get_variable_data=[
                {"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "HeartbeatInterval"}}
            ]
        )
    )
    assert got.get_variable_result[0]["attribute_value"] == "1"
    assert (await server.call(c201.Reset(type="OnIdle"))).status == "Scheduled"
    await cp.stop_charging(1)
    await csms.wait_for(lambda: len(csms.calls("BootNotification")) == 2)
    assert csms.calls("BootNotification")[1]["reason"] == "RemoteReset"
    await cp.stop()


async def test_call_error_and_timeout_surface(csms: TestCsms, make_cp: MakeCp) -> None:
    cp = make_cp("CP-ERR", "1.6", call_timeout_s=0.3)
    await cp.start()
    csms.behaviour.error_on = {"Authorize"}
    with pytest.raises(OcppCallError) as info:
        await cp.authorize(1, "TAG")
    assert info.value.action == "Authorize" and info.value.error_code == "GenericError"
    csms.behaviour.error_on = set()
    csms.behaviour.silent_s = 0.6
    with pytest.raises(OcppCallTimeout):
        await cp.authorize(1, "TAG")
    await cp.stop()
