"""The control API driven by OCPPLab's own client (``ocpplab-simulator`` on PyPI), pointed at one
charger: every action reaches the central system (the ``ocpp`` library's, which checks every
frame against the official schemas; the chargers run strict and check theirs)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from ocpplab_simulator import AsyncOcpplabSimulator, UnprocessableEntityError
from ocpplab_simulator.core.api_error import ApiError

from ocpplab_sim.control import ChargerRegistry, ControlServer
from ocpplab_sim.fleet import ChargePointConfig, Fleet
from tests.chargepoint.csms import TestCsms


@dataclass
class Rig:
    csms: TestCsms
    fleet: Fleet
    url: str
    http: list[httpx.AsyncClient] = field(default_factory=list)

    def client(self, identity: str = "SIM-0001") -> AsyncOcpplabSimulator:
        http = httpx.AsyncClient(timeout=20)
        self.http.append(http)
        return AsyncOcpplabSimulator(base_url=f"{self.url}/chargers/{identity}", httpx_client=http)

    def sent(self, action: str) -> list[dict[str, Any]]:
        return self.csms.calls(action, "SIM-0001")


@pytest.fixture(params=["1.6", "2.0.1"])
async def rig(request: pytest.FixtureRequest) -> AsyncIterator[Rig]:
    version = request.param
    async with TestCsms() as csms:
        csms.behaviour.heartbeat_interval = 300
        config = ChargePointConfig(
            identity="SIM-0001",
            ocpp_version=version,
            evse_count=2,
            csms_url=csms.url,
            strict=True,
        )
        registry = ChargerRegistry()
        fleet = Fleet([config], on_frame=registry)
        registry.add(fleet)
        async with ControlServer(registry) as server:
            await fleet.start_all()
            rig = Rig(csms, fleet, server.url)
            try:
                yield rig
            finally:
                for http in rig.http:
                    await http.aclose()
                await fleet.stop_all()


def statuses(rig: Rig, evse: int) -> list[str]:
    out = []
    for payload in rig.sent("StatusNotification"):
        if payload.get("connectorId" if "status" in payload else "evseId") == evse:
            out.append(payload.get("status") or payload["connectorStatus"])
    return out


async def test_every_action_of_the_client_reaches_the_central_system(rig: Rig) -> None:
    client = rig.client()
    v16 = rig.fleet["SIM-0001"].config.ocpp_version == "1.6"
    where: dict[str, int] = {"connector_id": 2} if v16 else {"evse_id": 2}

    health = await client.system.health_check()
    assert health["status"] == "ok" and health["registered"] is True

    await client.connector.plug_connector(**where)
    assert statuses(rig, 2)[-1] == ("Preparing" if v16 else "Occupied")

    started = await client.transaction.authorize_and_start(id_tag="TAG-1", **where)
    assert started["evse"]["status"] == "Charging"
    assert rig.sent("Authorize")
    if v16:
        assert rig.sent("StartTransaction")[-1]["idTag"] == "TAG-1"
        assert started["evse"]["transaction_id"] == "1001"  # the central system's id
    else:
        began = [e for e in rig.sent("TransactionEvent") if e["eventType"] == "Started"]
        assert started["evse"]["transaction_id"] == began[-1]["transactionInfo"]["transactionId"]

    await client.car.power_update(power_w=7000, **where)
    state = await client.car.get_ev_state(**where)
    assert state["ev_max_power_w"] == 7000
    await client.provisioning.trigger_message(message="MeterValues", **where)
    sampled = rig.sent("MeterValues")[-1]["meterValue"][0]["sampledValue"]
    power = [float(v["value"]) for v in sampled if v.get("measurand") == "Power.Active.Import"]
    assert power and 0 < power[0] <= 7000

    await client.car.update_soc(soc=55, **where)
    assert (await client.car.get_ev_state(**where))["soc"] == pytest.approx(55, abs=0.5)

    await client.fault_simulation.simulate_fault(fault_type="GroundFault", **where)
    assert statuses(rig, 2)[-1] == "Faulted"
    if v16:
        faulted = rig.sent("StatusNotification")[-1]
        assert faulted["errorCode"] == "GroundFailure"
        assert rig.sent("StopTransaction")[-1]["reason"] == "Other"
    else:
        assert rig.sent("TransactionEvent")[-1]["eventType"] == "Ended"
    status = await client.fault_simulation.get_fault_status(**where)
    assert status == {"evse_id": 2, "faulted": True, "error_code": "GroundFailure"}
    await client.fault_simulation.clear_fault(**where)
    assert statuses(rig, 2)[-1] != "Faulted"

    await client.transaction.start_transaction(id_tag="TAG-2", **where)
    await client.transaction.stop_transaction(connector_id=2)
    if v16:
        assert rig.sent("StopTransaction")[-1]["reason"] == "Local"
    else:
        assert rig.sent("TransactionEvent")[-1]["transactionInfo"]["stoppedReason"] == "Local"
    await client.connector.unplug_connector(**where)
    assert statuses(rig, 2)[-1] == "Available"

    key = "HeartbeatInterval" if v16 else "OCPPCommCtrlr.HeartbeatInterval"
    changed = await client.configuration.update_configuration(key=key, value="77")
    assert changed["status"] == "Accepted"
    assert await client.configuration.get_configuration(key=key) == [
        {"key": key, "value": "77", "readonly": False}
    ]
    refused = await client.configuration.update_configuration(key=key, value="soon")
    assert refused["status"] == "Rejected"

    beats = len(rig.sent("Heartbeat"))
    await client.provisioning.trigger_message(message="Heartbeat")
    assert len(rig.sent("Heartbeat")) == beats + 1

    boots = len(rig.sent("BootNotification"))
    await client.provisioning.reboot_charger(type="Hard" if v16 else "Immediate")
    assert len(rig.sent("BootNotification")) == boots + 1
    if not v16:
        assert rig.sent("BootNotification")[-1]["reason"] == "LocalReset"
    assert rig.csms.connects.count("SIM-0001") == 2


async def test_local_authorization_through_the_client(rig: Rig) -> None:
    client = rig.client()
    sent = await client.local_auth_list.send_local_list(
        list_version=3, update_type="Full", id_tags=["A", "B"]
    )
    assert sent["status"] == "Accepted"
    await client.local_auth_list.add_local_auth_list_entry(id_tag="C", status="Blocked")
    listed = await client.local_auth_list.get_local_auth_list()
    assert listed["version"] == 3
    assert [(e["id_tag"], e["status"]) for e in listed["entries"]] == [
        ("A", "Accepted"),
        ("B", "Accepted"),
        ("C", "Blocked"),
    ]
    assert (await client.local_auth_list.get_local_auth_list_version())["version"] == 3
    await client.local_auth_list.delete_local_auth_list_entry(id_tag="B")
    stale = await client.local_auth_list.send_local_list(
        list_version=2, update_type="Differential", id_tags=["D"]
    )
    assert stale["status"] == "VersionMismatch"
    # with LocalPreAuthorize the charger accepts a listed token without asking
    v16 = rig.fleet["SIM-0001"].config.ocpp_version == "1.6"
    key = "LocalPreAuthorize" if v16 else "AuthCtrlr.LocalPreAuthorize"
    await client.configuration.update_configuration(key=key, value="true")
    authorizes = len(rig.sent("Authorize"))
    answer = await client.id_tag.authorize_id_tag(id_tag="A", connector_id=1)
    assert answer["status"] == "Accepted"
    assert len(rig.sent("Authorize")) == authorizes
    # an unknown token is asked for, and cached
    await client.id_tag.authorize_id_tag(id_tag="NEW", connector_id=1)
    assert rig.sent("Authorize")[-1] in (
        {"idTag": "NEW"},
        {"idToken": {"idToken": "NEW", "type": "ISO14443"}},
    )
    assert [e["id_tag"] for e in await client.cache.get_authorization_cache()] == ["NEW"]
    await client.cache.reset_authorization_cache()
    assert await client.cache.get_authorization_cache() == []


async def test_errors_are_404_409_422_and_never_stop_the_charger(rig: Rig) -> None:
    client = rig.client()
    with pytest.raises(ApiError) as unknown:
        await rig.client("NOPE").system.health_check()
    assert unknown.value.status_code == 404
    with pytest.raises(ApiError) as no_evse:
        await client.connector.plug_connector(connector_id=9, evse_id=9)
    assert no_evse.value.status_code == 404
    with pytest.raises(ApiError) as impossible:
        await client.connector.unplug_connector(connector_id=1, evse_id=1)
    assert impossible.value.status_code == 409
    assert "no cable plugged in" in impossible.value.body["detail"]
    with pytest.raises(UnprocessableEntityError):
        await client.car.update_soc(soc=500, connector_id=1, evse_id=1)
    with pytest.raises(ApiError) as which:
        await client.connector.plug_connector()  # two EVSEs: which one?
    assert which.value.status_code == 422
    with pytest.raises(ApiError) as wrong_type:
        await client.provisioning.reboot_charger(type="Sideways")
    assert wrong_type.value.status_code == 409
    async with httpx.AsyncClient(base_url=rig.url) as raw:
        bad = await raw.post("/chargers/SIM-0001/plug-connector", params={"evse_id": "x"})
        assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["query", "evse_id"]
        assert (await raw.get("/openapi.json")).json()["info"]["title"] == "ocpplab-sim control API"
    assert rig.fleet["SIM-0001"].connected
    await client.connector.plug_connector(connector_id=1, evse_id=1)
    assert rig.fleet["SIM-0001"].status(1) == "Preparing"
