"""OCPP central system over real websockets, every frame checked against the official schemas."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.typing import Subprotocol

from ocpplab_sim.gateway import EmbeddedGateway

from .support import now_text, ocpp_client, provision, wait_until


async def _locations(client: httpx.AsyncClient, cpo_id: str) -> list[dict[str, Any]]:
    return (await client.get(f"/ocpi/cpos/{cpo_id}/locations")).json()["data"]


def _charger(locations: list[dict[str, Any]], index: int = 0) -> dict[str, Any]:
    return [c for loc in locations for c in loc["chargers"]][index]


async def _report(client: httpx.AsyncClient, cpo_id: str) -> dict[str, Any]:
    return (await client.get(f"/ocpi/cpos/{cpo_id}/report")).json()


def _evse(report: dict[str, Any], uid: str) -> dict[str, Any]:
    (found,) = [e for e in report["evses"] if e["evse_uid"] == uid]
    return found


async def test_ocpp16_boot_status_and_offline(client: httpx.AsyncClient, gateway: EmbeddedGateway):
    cpo = await provision(client, "small-urban-ac")
    cpo_id = cpo["cpo_id"]
    charger = _charger(await _locations(client, cpo_id))
    uid = charger["evses"][0]["evse_uid"]
    assert _evse(await _report(client, cpo_id), uid)["ocpi_status"] == "UNKNOWN"

    async with ocpp_client(gateway.url, charger["identity"], "1.6") as cp:
        boot = await cp.boot()
        assert boot["status"] == "Accepted" and boot["interval"] == 42
        assert "currentTime" in (await cp.call("Heartbeat", {}))
        # Connected but not yet reported: still UNKNOWN.
        assert _evse(await _report(client, cpo_id), uid)["ocpi_status"] == "UNKNOWN"
        await cp.status(0, "Available")
        await cp.status(1, "Available")
        report = await _report(client, cpo_id)
        assert _evse(report, uid)["ocpi_status"] == "AVAILABLE"
        assert _evse(report, uid)["online"] is True
        await cp.status(1, "Preparing")
        await cp.status(1, "Charging")
        report = await _report(client, cpo_id)
        evse = _evse(report, uid)
        assert (evse["ocpp_status"], evse["ocpi_status"]) == ("Charging", "CHARGING")
        assert [(h["ocpp_status"], h["ocpi_status"]) for h in evse["history"]] == [
            ("Available", "AVAILABLE"),
            ("Preparing", "CHARGING"),
            ("Charging", "CHARGING"),
        ]
        # A connector number the charger does not have is acknowledged and ignored.
        await cp.status(7, "Faulted")

    async def after_close() -> dict[str, Any]:
        return _evse(await _report(client, cpo_id), uid)

    evse = await wait_until(after_close, lambda e: e["ocpi_status"] == "UNKNOWN")
    assert evse["online"] is False and evse["ocpp_status"] == "Charging"
    assert evse["history"][-1] == {
        **evse["history"][-1],
        "ocpp_status": None,
        "ocpi_status": "UNKNOWN",
    }
    report = await _report(client, cpo_id)
    assert report["messages"] == {"BootNotification": 1, "Heartbeat": 1, "StatusNotification": 5}
    events = [(c["station_id"], c["event"]) for c in report["connections"]]
    assert events == [(charger["identity"], "connected"), (charger["identity"], "disconnected")]


async def test_ocpp16_transaction_and_meter_values(
    client: httpx.AsyncClient, gateway: EmbeddedGateway
):
    cpo = await provision(client, "small-urban-ac")
    charger = _charger(await _locations(client, cpo["cpo_id"]), 4)
    async with ocpp_client(gateway.url, charger["identity"], "1.6") as cp:
        await cp.boot()
        auth = await cp.call("Authorize", {"idTag": "TAG-1"})
        assert auth["idTagInfo"]["status"] == "Accepted"
        first = await cp.call(
            "StartTransaction",
            {"connectorId": 1, "idTag": "TAG-1", "meterStart": 1000, "timestamp": now_text()},
        )
        second = await cp.call(
            "StartTransaction",
            {"connectorId": 1, "idTag": "TAG-2", "meterStart": 0, "timestamp": now_text()},
        )
        assert isinstance(first["transactionId"], int)
        assert second["transactionId"] != first["transactionId"]
        sample = {"timestamp": now_text(), "sampledValue": [{"value": "2.5", "unit": "kWh"}]}
        await cp.call(
            "MeterValues",
            {"connectorId": 1, "transactionId": first["transactionId"], "meterValue": [sample]},
        )
        stop = await cp.call(
            "StopTransaction",
            {
                "transactionId": first["transactionId"],
                "meterStop": 4500,
                "timestamp": now_text(),
                "idTag": "TAG-1",
                "reason": "EVDisconnected",
            },
        )
        assert stop["idTagInfo"]["status"] == "Accepted"
        transfer = await cp.call("DataTransfer", {"vendorId": "com.example"})
        assert transfer["status"] == "UnknownVendorId"
    txs = {t["transaction_id"]: t for t in (await _report(client, cpo["cpo_id"]))["transactions"]}
    done = txs[str(first["transactionId"])]
    assert (done["meter_start_wh"], done["meter_stop_wh"], done["energy_wh"]) == (1000, 4500, 3500)
    assert done["id_token"] == "TAG-1" and done["ocpp_number"] == 1 and done["stopped_at"]
    assert txs[str(second["transactionId"])]["stopped_at"] is None


async def test_ocpp201_multi_evse_transaction(client: httpx.AsyncClient, gateway: EmbeddedGateway):
    cpo = await provision(client, "highway-dc")
    cpo_id = cpo["cpo_id"]
    charger = _charger(await _locations(client, cpo_id))
    uid1, uid2 = (e["evse_uid"] for e in charger["evses"])
    async with ocpp_client(gateway.url, charger["identity"], "2.0.1") as cp:
        boot = await cp.boot()
        assert boot["status"] == "Accepted" and boot["interval"] == 42
        await cp.status(1, "Available")
        await cp.status(2, "Occupied")
        report = await _report(client, cpo_id)
        assert _evse(report, uid1)["ocpi_status"] == "AVAILABLE"
        assert _evse(report, uid2)["ocpi_status"] == "CHARGING"
        await cp.status(1, "Faulted")
        assert _evse(await _report(client, cpo_id), uid1)["ocpi_status"] == "OUTOFORDER"
        await cp.status(1, "Unavailable")
        assert _evse(await _report(client, cpo_id), uid1)["ocpi_status"] == "INOPERATIVE"
        await cp.status(1, "Reserved")
        assert _evse(await _report(client, cpo_id), uid1)["ocpi_status"] == "RESERVED"

        def energy(wh: float, context: str) -> list[dict[str, Any]]:
            return [
                {
                    "timestamp": now_text(),
                    "sampledValue": [
                        {
                            "value": wh / 1000,
                            "context": context,
                            "measurand": "Energy.Active.Import.Register",
                            "unitOfMeasure": {"unit": "kWh"},
                        }
                    ],
                }
            ]

        base = {
            "timestamp": now_text(),
            "transactionInfo": {"transactionId": "tx-201"},
            "evse": {"id": 2, "connectorId": 1},
        }
        started = await cp.call(
            "TransactionEvent",
            {
                **base,
                "eventType": "Started",
                "triggerReason": "Authorized",
                "seqNo": 0,
                "idToken": {"idToken": "RFID-9", "type": "ISO14443"},
                "meterValue": energy(10_000, "Transaction.Begin"),
            },
        )
        assert started["idTokenInfo"]["status"] == "Accepted"
        await cp.call(
            "TransactionEvent",
            {
                **base,
                "eventType": "Updated",
                "triggerReason": "MeterValuePeriodic",
                "seqNo": 1,
                "meterValue": energy(15_000, "Sample.Periodic"),
            },
        )
        await cp.call("MeterValues", {"evseId": 2, "meterValue": energy(15_500, "Sample.Periodic")})
        await cp.call(
            "TransactionEvent",
            {
                **base,
                "eventType": "Ended",
                "triggerReason": "EVDeparted",
                "seqNo": 2,
                "transactionInfo": {"transactionId": "tx-201", "stoppedReason": "EVDisconnected"},
                "meterValue": energy(22_000, "Transaction.End"),
            },
        )
        await cp.call(
            "NotifyEvent",
            {
                "generatedAt": now_text(),
                "seqNo": 0,
                "eventData": [
                    {
                        "eventId": 1,
                        "timestamp": now_text(),
                        "trigger": "Delta",
                        "actualValue": "true",
                        "eventNotificationType": "HardWiredNotification",
                        "component": {"name": "Connector"},
                        "variable": {"name": "Problem"},
                    }
                ],
            },
        )
        assert (await cp.call("DataTransfer", {"vendorId": "x"}))["status"] == "UnknownVendorId"
    report = await _report(client, cpo_id)
    (tx,) = report["transactions"]
    assert tx["transaction_id"] == "tx-201" and tx["ocpp_number"] == 2
    assert (tx["meter_start_wh"], tx["meter_stop_wh"], tx["energy_wh"]) == (10_000, 22_000, 12_000)
    assert tx["id_token"] == "RFID-9" and tx["started_at"] and tx["stopped_at"]
    assert report["messages"]["TransactionEvent"] == 3
    assert report["messages"]["NotifyEvent"] == 1

    async def evse2() -> dict[str, Any]:
        return _evse(await _report(client, cpo_id), uid2)

    await wait_until(evse2, lambda e: e["ocpi_status"] == "UNKNOWN")


async def test_ocpi_view_follows_ocpp_status(client: httpx.AsyncClient, gateway: EmbeddedGateway):
    cpo = await provision(client, "small-urban-ac")
    cpo_id, token_a = cpo["cpo_id"], cpo["token_a"]
    ocpi = httpx.AsyncClient(base_url=gateway.url, headers={"Authorization": f"Token {token_a}"})
    async with ocpi:
        reg = await ocpi.post(
            f"/ocpi/peer/{cpo_id}/2.2.1/credentials",
            json={
                "token": "b" * 20,
                "url": "http://127.0.0.1:9/versions",
                "roles": [
                    {
                        "role": "EMSP",
                        "business_details": {"name": "e"},
                        "party_id": "EMS",
                        "country_code": "NL",
                    }
                ],
            },
        )
        ocpi.headers["Authorization"] = "Token " + reg.json()["data"]["token"]
        locations = await _locations(client, cpo_id)
        loc, charger = locations[0], locations[0]["chargers"][1]
        uid = charger["evses"][0]["evse_uid"]
        path = f"/ocpi/peer/{cpo_id}/2.2.1/locations/{loc['id']}/{uid}"

        async def evse() -> dict[str, Any]:
            return (await ocpi.get(path)).json()["data"]

        before = await evse()
        assert before["status"] == "UNKNOWN"
        async with ocpp_client(gateway.url, charger["identity"], "1.6") as cp:
            await cp.boot()
            await cp.status(1, "Available")
            available = await evse()
            assert available["status"] == "AVAILABLE"
            assert available["last_updated"] > before["last_updated"]
            await cp.status(1, "Available")
            assert (await evse())["last_updated"] == available["last_updated"]
            await cp.status(1, "SuspendedEV")
            assert (await evse())["status"] == "CHARGING"
        gone = await wait_until(evse, lambda e: e["status"] == "UNKNOWN")
        assert gone["last_updated"] > available["last_updated"]


async def test_handshake_refusals(client: httpx.AsyncClient, gateway: EmbeddedGateway):
    ws_url = gateway.url.replace("http://", "ws://")
    with pytest.raises(InvalidStatus) as unknown:
        async with connect(f"{ws_url}/ocpp/nobody-1-L1-01", subprotocols=[Subprotocol("ocpp1.6")]):
            pass
    assert unknown.value.response.status_code == 404

    cpo = await provision(client, "small-urban-ac")
    identity = _charger(await _locations(client, cpo["cpo_id"]))["identity"]
    with pytest.raises(InvalidStatus) as wrong:
        async with connect(f"{ws_url}/ocpp/{identity}", subprotocols=[Subprotocol("ocpp2.0.1")]):
            pass
    assert wrong.value.response.status_code == 400
    with pytest.raises(InvalidStatus):
        async with connect(f"{ws_url}/ocpp/{identity}"):
            pass

    await client.delete(f"/ocpi/cpos/{cpo['cpo_id']}")
    with pytest.raises(InvalidStatus) as deleted:
        async with connect(f"{ws_url}/ocpp/{identity}", subprotocols=[Subprotocol("ocpp1.6")]):
            pass
    assert deleted.value.response.status_code == 403


_BAD_FRAMES = {
    "1.6": [
        ("this is not json", "-1", {"FormationViolation"}),
        ('{"not": "a list"}', "-1", {"FormationViolation"}),
        ('[2, "bad-1", "Heartbeat", {"extra": 1}]', "bad-1", {"FormatViolation"}),
        (
            '[2, "bad-2", "StatusNotification", {"connectorId": "one"}]',
            "bad-2",
            {"TypeConstraintViolation", "ProtocolError", "FormatViolation"},
        ),
        # OCPP-J §4.2.3: an action not known is NotImplemented ...
        ('[2, "bad-3", "NoSuchAction", {}]', "bad-3", {"NotImplemented"}),
        ('[2, "bad-4", "Heartbeat", []]', "bad-4", {"FormationViolation"}),
    ],
    "2.0.1": [
        ('[2, "abc"]', "abc", {"RpcFrameworkError"}),
        ('[7, "abc", "Heartbeat", {}]', "abc", {"MessageTypeNotSupported"}),
        ('[2, "bad-5", {"x": 1}, {}]', "bad-5", {"RpcFrameworkError"}),
        # ... one known (a CSMS-to-station action here) but not supported is NotSupported.
        ('[2, "bad-6", "GetVariables", {"getVariableData": []}]', "bad-6", {"NotSupported"}),
    ],
}


@pytest.mark.parametrize("version", ["1.6", "2.0.1"])
async def test_malformed_frames_get_callerror(
    client: httpx.AsyncClient, gateway: EmbeddedGateway, version: str
):
    template = "small-urban-ac" if version == "1.6" else "highway-dc"
    cpo = await provision(client, template)
    identity = _charger(await _locations(client, cpo["cpo_id"]))["identity"]
    async with ocpp_client(gateway.url, identity, version) as cp:
        await cp.boot()
        for raw, unique_id, codes in _BAD_FRAMES[version]:
            await cp.ws.send(raw)
            frame = await cp.recv_frame()
            assert frame[0] == 4 and frame[1] == unique_id and frame[2] in codes, (raw, frame)
            # The same connection keeps working after each bad frame.
            assert "currentTime" in await cp.call("Heartbeat", {})
        await cp.status(1, "Available")
    report = await _report(client, cpo["cpo_id"])
    assert report["evses"][0]["history"][0]["ocpi_status"] == "AVAILABLE"
    # Every routable CALL is counted, schema-valid or not: "bad-1" is a Heartbeat too.
    routable_heartbeats = 1 if version == "1.6" else 0
    assert report["messages"]["Heartbeat"] == len(_BAD_FRAMES[version]) + routable_heartbeats


async def test_schema_invalid_call_is_rejected_not_applied(
    client: httpx.AsyncClient, gateway: EmbeddedGateway
):
    cpo = await provision(client, "small-urban-ac")
    charger = _charger(await _locations(client, cpo["cpo_id"]))
    async with ocpp_client(gateway.url, charger["identity"], "1.6") as cp:
        await cp.boot()
        # An unsolicited CALLRESULT is dropped without an answer ...
        await cp.ws.send(json.dumps([3, "stray", {}]))
        # ... so the first frame back answers this invalid StatusNotification.
        bad = {"connectorId": 1, "errorCode": "NoError", "status": "Flying"}
        await cp.ws.send(json.dumps([2, "x1", "StatusNotification", bad]))
        frame = await cp.recv_frame()
        assert frame[:3] == [4, "x1", "FormatViolation"], frame
        assert "currentTime" in await cp.call("Heartbeat", {})
    report = await _report(client, cpo["cpo_id"])
    evse = _evse(report, charger["evses"][0]["evse_uid"])
    assert evse["ocpp_status"] is None
    assert all(h["ocpp_status"] is None for h in evse["history"])


async def test_reconnect_replaces_old_socket(client: httpx.AsyncClient, gateway: EmbeddedGateway):
    cpo = await provision(client, "small-urban-ac")
    charger = _charger(await _locations(client, cpo["cpo_id"]))
    uid = charger["evses"][0]["evse_uid"]
    async with ocpp_client(gateway.url, charger["identity"], "1.6") as old:
        await old.boot()
        async with ocpp_client(gateway.url, charger["identity"], "1.6") as new:
            with pytest.raises(ConnectionClosed):
                await old.ws.recv()
            await new.boot()
            await new.status(1, "Available")
            report = await _report(client, cpo["cpo_id"])
            assert _evse(report, uid)["ocpi_status"] == "AVAILABLE"
            assert _evse(report, uid)["online"] is True


async def test_delete_disconnects_chargers(client: httpx.AsyncClient, gateway: EmbeddedGateway):
    cpo = await provision(client, "highway-dc")
    charger = _charger(await _locations(client, cpo["cpo_id"]))
    async with ocpp_client(gateway.url, charger["identity"], "2.0.1") as cp:
        await cp.boot()
        assert (await client.delete(f"/ocpi/cpos/{cpo['cpo_id']}")).status_code == 204
        with pytest.raises(ConnectionClosed):
            await cp.ws.recv()
    report = await _report(client, cpo["cpo_id"])
    assert report["status"] == "deleted"
    assert [c["event"] for c in report["connections"]] == ["connected", "disconnected"]
    assert all(e["online"] is False for e in report["evses"])
