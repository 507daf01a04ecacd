"""A 1.6 and a 2.0.1 charge point against the recording test central system, over real sockets."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from ocpplab_sim.connection import ReconnectPolicy
from ocpplab_sim.errors import ChargePointError
from ocpplab_sim.fleet import FrameRecord, SimulatedChargePoint
from tests.chargepoint.conftest import validate_exchange
from tests.chargepoint.csms import TestCsms

FAST = ReconnectPolicy(initial_s=0.05, max_s=0.2)


def check_all_frames(csms: TestCsms, frames: list[FrameRecord], version: str) -> None:
    """Both views of the wire (charger's on_frame, CSMS's recording) are schema-valid and the
    same sequence of frames."""
    identities = {f.identity for f in frames}
    for identity in identities:
        ours = [f.message for f in frames if f.identity == identity]
        theirs = [f.message for f in csms.frames if f.identity == identity]
        assert validate_exchange(version, ours) > 0
        assert validate_exchange(version, theirs) > 0
        assert {f.direction for f in frames if f.identity == identity} == {"in", "out"}
        # what we sent is what they received, in order
        sent = [f.message for f in frames if f.identity == identity and f.direction == "out"]
        received = [
            f.message for f in csms.frames if f.identity == identity and f.direction == "in"
        ]
        assert sent == received


async def test_v16_boot_status_heartbeat_and_session(
    csms: TestCsms, make_cp: Callable[..., SimulatedChargePoint], frames: list[FrameRecord]
) -> None:
    cp = make_cp("CP16", "1.6", evses=2)
    await cp.start()
    assert cp.connected
    boots = csms.calls("BootNotification", "CP16")
    assert boots == [
        {"chargePointVendor": "ocpplab", "chargePointModel": "sim-ac", "firmwareVersion": "1.0.0"}
    ]
    statuses = [(s["connectorId"], s["status"]) for s in csms.calls("StatusNotification")]
    assert statuses == [(0, "Available"), (1, "Available"), (2, "Available")]

    # heartbeat at the 1 s interval the central system returned
    await csms.wait_for(lambda: len(csms.calls("Heartbeat")) >= 1, within_s=2.5)
    first_hb = next(f.at for f in frames if f.message[0] == 2 and f.message[2] == "Heartbeat")
    boot_at = next(f.at for f in frames if f.message[0] == 2)
    assert 0.8 <= first_hb - boot_at <= 1.6

    await cp.start_charging(2, "TAG-OK")
    assert cp.status(2) == "Charging"
    start = csms.calls("StartTransaction")[0]
    assert start["connectorId"] == 2 and start["idTag"] == "TAG-OK"
    await csms.wait_for(lambda: len(csms.calls("MeterValues")) >= 3)
    await cp.stop_charging(2)
    assert cp.status(2) == "Finishing"
    stop = csms.calls("StopTransaction")[0]
    assert stop["transactionId"] == 1001 and stop["reason"] == "Local"
    assert stop["meterStop"] >= start["meterStart"]
    energies = [
        float(sv["value"])
        for mv in csms.calls("MeterValues")
        for sv in mv["meterValue"][0]["sampledValue"]
        if sv["measurand"] == "Energy.Active.Import.Register"
    ]
    assert energies == sorted(energies) and energies[-1] > energies[0]
    assert all(mv["transactionId"] == 1001 for mv in csms.calls("MeterValues"))
    await cp.unplug(2)
    assert cp.status(2) == "Available"
    assert [s["status"] for s in csms.calls("StatusNotification") if s["connectorId"] == 2] == [
        "Available", "Preparing", "Charging", "Finishing", "Available",
    ]  # fmt: skip
    await cp.stop()
    assert not cp.connected
    check_all_frames(csms, frames, "1.6")


async def test_v201_multi_evse_session_and_seqno(
    csms: TestCsms, make_cp: Callable[..., SimulatedChargePoint], frames: list[FrameRecord]
) -> None:
    cp = make_cp("CS201", "2.0.1", evses=3)
    await cp.start()
    statuses = [(s["evseId"], s["connectorStatus"]) for s in csms.calls("StatusNotification")]
    assert statuses == [(1, "Available"), (2, "Available"), (3, "Available")]
    await cp.plug_in(3)
    assert csms.calls("StatusNotification")[-1]["connectorStatus"] == "Occupied"
    await cp.start_charging(3, "TAG-3")
    await cp.start_charging(1, "TAG-1")
    await csms.wait_for(
        lambda: (
            sum(e["triggerReason"] == "MeterValuePeriodic" for e in csms.calls("TransactionEvent"))
            >= 4
        )
    )
    await cp.stop_charging(3)
    await cp.unplug(1)
    await cp.stop()
    events = csms.calls("TransactionEvent")
    by_tx: dict[str, list[dict[str, Any]]] = {}
    for event in events:
        by_tx.setdefault(event["transactionInfo"]["transactionId"], []).append(event)
    assert len(by_tx) == 2
    for tx_events in by_tx.values():
        assert [e["seqNo"] for e in tx_events] == list(range(len(tx_events)))
        assert tx_events[0]["eventType"] == "Started"
        assert tx_events[0]["triggerReason"] == "Authorized"
        assert tx_events[1]["transactionInfo"]["chargingState"] == "Charging"
        assert tx_events[-1]["eventType"] == "Ended"
        begin = tx_events[0]["meterValue"][0]["sampledValue"][0]["value"]
        end = tx_events[-1]["meterValue"][0]["sampledValue"][0]["value"]
        assert end >= begin
    ended = {e["evse"]["id"]: e for e in events if e["eventType"] == "Ended"}
    assert ended[3]["triggerReason"] == "StopAuthorized"
    assert ended[1]["triggerReason"] == "EVCommunicationLost"
    assert ended[1]["transactionInfo"]["stoppedReason"] == "EVDisconnected"
    check_all_frames(csms, frames, "2.0.1")


async def test_boot_pending_is_retried_after_interval(
    csms: TestCsms, make_cp: Callable[..., SimulatedChargePoint]
) -> None:
    csms.behaviour.boot_statuses = ["Pending"]
    cp = make_cp("CP-PENDING", "1.6")
    loop = asyncio.get_running_loop()
    began = loop.time()
    await cp.start()
    assert loop.time() - began >= 0.9
    assert len(csms.calls("BootNotification")) == 2
    # statuses are only reported once the boot was accepted
    first_status = next(
        i
        for i, f in enumerate(csms.frames)
        if f.message[0] == 2 and f.message[2] == "StatusNotification"
    )
    boots = [
        i
        for i, f in enumerate(csms.frames)
        if f.message[0] == 2 and f.message[2] == "BootNotification"
    ]
    assert first_status > boots[1]


@pytest.mark.parametrize("version", ["1.6", "2.0.1"])
async def test_refused_token_raises(
    csms: TestCsms, make_cp: Callable[..., SimulatedChargePoint], version: str
) -> None:
    csms.behaviour.refused_tokens = {"STOLEN"}
    cp = make_cp(f"CP-REFUSE-{version}", version)
    await cp.start()
    assert await cp.authorize(1, "STOLEN") == "Invalid"
    with pytest.raises(ChargePointError, match="not accepted"):
        await cp.start_charging(1, "STOLEN")
    assert cp.status(1) == "Preparing"  # plugged in, nothing started
    assert not csms.calls("StartTransaction") and not csms.calls("TransactionEvent")


async def test_actions_before_start_are_refused(
    make_cp: Callable[..., SimulatedChargePoint],
) -> None:
    cp = make_cp("CP-NEW", "1.6")
    with pytest.raises(ChargePointError, match="not started"):
        await cp.plug_in(1)
