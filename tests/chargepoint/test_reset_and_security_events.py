"""Reset of a single EVSE (OCPP 2.0.1 Part 2, B11/B12 with ``evseId``) and security events
(2.0.1 A04; 1.6 Security Whitepaper §8), over real sockets; every frame checked both ways
against the official schemas (``validate_exchange``)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from ocpp.v16 import call as c16
from ocpp.v201 import call as c201

from ocpplab_sim.fleet import FrameRecord, SimulatedChargePoint
from tests.chargepoint.conftest import validate_exchange
from tests.chargepoint.csms import TestCsms
from tests.chargepoint.test_operations_v16 import exchange

MakeCp = Callable[..., SimulatedChargePoint]


def evse_statuses(csms: TestCsms, evse: int) -> list[str]:
    return [c["connectorStatus"] for c in csms.calls("StatusNotification") if c["evseId"] == evse]


def ended(csms: TestCsms) -> list[dict[str, Any]]:
    return [e for e in csms.calls("TransactionEvent") if e["eventType"] == "Ended"]


def security(csms: TestCsms) -> list[dict[str, Any]]:
    return csms.calls("SecurityEventNotification")


def actions_in(csms: TestCsms, identity: str) -> list[str]:
    """The actions of the CALLs the central system received, in order."""
    return [
        f.message[2]
        for f in csms.frames
        if f.identity == identity and f.direction == "in" and f.message[0] == 2
    ]


async def test_immediate_evse_reset_ends_only_that_evses_transaction(
    csms: TestCsms, make_cp: MakeCp, frames: list[FrameRecord]
) -> None:
    cp = make_cp("CS-EVSE-NOW", "2.0.1", evses=2, meter_interval_s=30)
    await cp.start()
    server = csms.points["CS-EVSE-NOW"]
    await cp.start_charging(1, "ONE")
    await cp.start_charging(2, "TWO")
    first = cp.station.transaction(1).id  # type: ignore[union-attr]
    second = cp.station.transaction(2).id  # type: ignore[union-attr]
    assert (await server.call(c201.Reset(type="Immediate", evse_id=9))).status == "Rejected"
    assert (await server.call(c201.Reset(type="Immediate", evse_id=1))).status == "Accepted"
    await csms.wait_for(lambda: bool(security(csms)))
    [end] = ended(csms)
    assert end["transactionInfo"]["transactionId"] == first
    assert (end["triggerReason"], end["transactionInfo"]["stoppedReason"]) == (
        "ResetCommand",
        "ImmediateReset",
    )
    assert end["transactionInfo"]["chargingState"] == "EVConnected"
    assert evse_statuses(csms, 1)[-2:] == ["Unavailable", "Occupied"]
    assert "Unavailable" not in evse_statuses(csms, 2)
    assert cp.status(1) == "Finishing"
    assert cp.station.transaction(2).id == second  # type: ignore[union-attr]
    assert cp.status(2) == "Charging"
    assert len(csms.calls("BootNotification")) == 1 and csms.connects == ["CS-EVSE-NOW"]
    [event] = security(csms)
    assert (event["type"], event["techInfo"]) == ("ResetOrReboot", "EVSE 1 reset")
    await cp.stop()
    validate_exchange("2.0.1", exchange(frames, "CS-EVSE-NOW"))


async def test_on_idle_evse_reset_waits_for_its_transaction(
    csms: TestCsms, make_cp: MakeCp, frames: list[FrameRecord]
) -> None:
    cp = make_cp("CS-EVSE-IDLE", "2.0.1", evses=2, meter_interval_s=30)
    await cp.start()
    server = csms.points["CS-EVSE-IDLE"]
    await cp.start_charging(1, "ONE")
    assert (await server.call(c201.Reset(type="OnIdle", evse_id=1))).status == "Scheduled"
    # The idle EVSE 2 resets at once; its report shows the scheduled one has not started.
    assert (await server.call(c201.Reset(type="OnIdle", evse_id=2))).status == "Accepted"
    await csms.wait_for(lambda: bool(security(csms)))
    assert [e["techInfo"] for e in security(csms)] == ["EVSE 2 reset"]
    assert evse_statuses(csms, 2)[-2:] == ["Unavailable", "Available"]
    assert ended(csms) == [] and cp.status(1) == "Charging"
    await cp.stop_charging(1)
    await csms.wait_for(lambda: len(security(csms)) == 2)
    [end] = ended(csms)
    assert end["triggerReason"] == "StopAuthorized"  # ended by the driver, not by the reset
    assert evse_statuses(csms, 1)[-2:] == ["Unavailable", "Occupied"]
    assert security(csms)[1]["techInfo"] == "EVSE 1 reset"
    assert cp.status(1) == "Finishing"
    assert len(csms.calls("BootNotification")) == 1
    await cp.stop()
    validate_exchange("2.0.1", exchange(frames, "CS-EVSE-IDLE"))


@pytest.mark.parametrize("version", ["1.6", "2.0.1"])
async def test_station_reset_and_reboot_report_reset_or_reboot_after_the_boot(
    version: str, csms: TestCsms, make_cp: MakeCp, frames: list[FrameRecord]
) -> None:
    identity = f"CP-RESET-{version}"
    cp = make_cp(identity, version, meter_interval_s=30)
    await cp.start()
    await cp.start_charging(1, "TAG")
    reset = c16.Reset(type="Hard") if version == "1.6" else c201.Reset(type="Immediate")
    assert (await csms.points[identity].call(reset)).status == "Accepted"
    await csms.wait_for(lambda: bool(security(csms)))
    assert security(csms)[0]["type"] == "ResetOrReboot"
    reason = "HardReset" if version == "1.6" else "ImmediateReset"
    assert security(csms)[0]["techInfo"] == f"{reason} requested by the central system"
    actions = actions_in(csms, identity)
    stop = "StopTransaction" if version == "1.6" else "TransactionEvent"
    last_stop = len(actions) - 1 - actions[::-1].index(stop)
    assert (
        last_stop
        < actions.index("BootNotification", 1)
        < actions.index("SecurityEventNotification")
    )
    await cp.reboot()
    assert [e["type"] for e in security(csms)] == ["ResetOrReboot", "ResetOrReboot"]
    assert len(csms.calls("BootNotification")) == 3
    await cp.stop()
    validate_exchange(version, exchange(frames, identity))


@pytest.mark.parametrize(
    ("version", "event"),
    [("1.6", "FailedToAuthenticateAtCentralSystem"), ("2.0.1", "FailedToAuthenticateAtCsms")],
)
async def test_refused_credentials_on_reconnect_are_reported_once_back(
    version: str, event: str, csms: TestCsms, make_cp: MakeCp, frames: list[FrameRecord]
) -> None:
    identity = f"CP-AUTH-{version}"
    csms.behaviour.password = "right-password-1"
    cp = make_cp(identity, version, password="right-password-1")
    await cp.start()
    csms.behaviour.password = "rotated-password"  # the central system forgot our password
    await csms.drop(identity)
    await csms.wait_for(lambda: len(csms.refused) >= 2)  # the reconnect loop keeps trying
    assert not cp.connected and security(csms) == []
    csms.behaviour.password = "right-password-1"
    await csms.wait_for(lambda: bool(security(csms)))
    await asyncio.sleep(0.05)  # nothing else may follow: one report for all refused attempts
    [report] = security(csms)
    assert report["type"] == event
    assert report["techInfo"].startswith("HTTP 401")
    assert cp.reconnects == 1
    await cp.stop()
    validate_exchange(version, exchange(frames, identity))
