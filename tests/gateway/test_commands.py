"""The OCPP command API and security profiles, against chargers made of plain websocket frames."""

from __future__ import annotations

import asyncio
import base64
import json
import ssl
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus
from websockets.typing import Subprotocol

from ocpplab_sim.gateway import EmbeddedGateway, GatewaySettings
from tests.certs import self_signed_certificate

from .conftest import TOKEN
from .support import OcppTestClient, ocpp_client, provision, wait_until


async def _command(
    client: httpx.AsyncClient, cpo_id: str, identity: str, **body: Any
) -> httpx.Response:
    return await client.post(f"/ocpi/cpos/{cpo_id}/chargers/{identity}/commands", json=body)


async def _answer_next(cp: OcppTestClient, reply: Any) -> list[Any]:
    """Receive the next CALL and answer it with ``reply(frame)`` (a frame list) or not at all."""
    frame = await cp.recv_frame()
    assert frame[0] == 2, frame
    answer = reply(frame)
    if answer is not None:
        await cp.ws.send(json.dumps(answer))
    return frame


async def test_commands_answered_callerror_timeout_offline_16(
    client: httpx.AsyncClient, gateway: EmbeddedGateway
):
    cpo = await provision(client, "small-urban-ac")
    cpo_id = cpo["cpo_id"]
    identity = f"demo-{cpo_id}-L1-01"
    offline = await _command(client, cpo_id, identity, action="Reset", payload={"type": "Soft"})
    assert offline.status_code == 200 and offline.json()["status"] == "offline"

    async with ocpp_client(gateway.url, identity, "1.6") as cp:
        await cp.boot()
        start = {"idTag": "TAG-1", "connectorId": 1}
        sent = asyncio.create_task(
            _command(client, cpo_id, identity, action="RemoteStartTransaction", payload=start)
        )
        frame = await _answer_next(cp, lambda f: [3, f[1], {"status": "Accepted"}])
        assert frame[2:] == ["RemoteStartTransaction", start]
        result = (await sent).json()
        assert result["status"] == "answered" and result["response"] == {"status": "Accepted"}
        assert result["response_valid"] is True and result["message_id"] == frame[1]

        sent = asyncio.create_task(
            _command(client, cpo_id, identity, action="UnlockConnector", payload={"connectorId": 1})
        )
        await _answer_next(cp, lambda f: [4, f[1], "NotSupported", "no lock", {}])
        result = (await sent).json()
        assert result["status"] == "callerror"
        assert result["error"] == {"code": "NotSupported", "description": "no lock", "details": {}}

        # An answer that breaks the response schema is reported as such.
        sent = asyncio.create_task(
            _command(
                client,
                cpo_id,
                identity,
                action="ChangeAvailability",
                payload={"connectorId": 0, "type": "Inoperative"},
            )
        )
        await _answer_next(cp, lambda f: [3, f[1], {"status": "Maybe"}])
        result = (await sent).json()
        assert result["status"] == "answered" and result["response_valid"] is False

        sent = asyncio.create_task(
            _command(client, cpo_id, identity, action="GetConfiguration", payload={}, timeout_s=0.3)
        )
        await _answer_next(cp, lambda f: None)
        result = (await sent).json()
        assert result["status"] == "timeout" and result["response"] is None

        # The socket closing while a command waits ends it as offline.
        sent = asyncio.create_task(
            _command(
                client,
                cpo_id,
                identity,
                action="TriggerMessage",
                payload={"requestedMessage": "Heartbeat"},
            )
        )
        await _answer_next(cp, lambda f: None)
        await cp.ws.close()
        result = (await sent).json()
        assert result["status"] == "offline"

    history = (await client.get(f"/ocpi/cpos/{cpo_id}/chargers/{identity}/commands")).json()["data"]
    assert [c["status"] for c in history] == [
        "offline",
        "answered",
        "callerror",
        "answered",
        "timeout",
        "offline",
    ]
    report = (await client.get(f"/ocpi/cpos/{cpo_id}/report")).json()
    assert [c["action"] for c in report["commands"]] == [c["action"] for c in history]
    # Commands are outgoing; message counts stay incoming-only.
    assert "RemoteStartTransaction" not in report["messages"]


async def test_commands_201_and_validation(client: httpx.AsyncClient, gateway: EmbeddedGateway):
    cpo = await provision(client, "highway-dc")
    cpo_id = cpo["cpo_id"]
    identity = f"demo-{cpo_id}-H1-01"
    async with ocpp_client(gateway.url, identity, "2.0.1") as cp:
        await cp.boot()
        payload = {
            "getVariableData": [
                {"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "HeartbeatInterval"}}
            ]
        }
        sent = asyncio.create_task(
            _command(client, cpo_id, identity, action="GetVariables", payload=payload)
        )
        answer = {
            "getVariableResult": [
                {
                    "attributeStatus": "Accepted",
                    "attributeValue": "300",
                    "component": {"name": "OCPPCommCtrlr"},
                    "variable": {"name": "HeartbeatInterval"},
                }
            ]
        }
        await _answer_next(cp, lambda f: [3, f[1], answer])
        assert (await sent).json()["response"] == answer

        start = {"idToken": {"idToken": "T1", "type": "ISO14443"}, "remoteStartId": 7, "evseId": 2}
        sent = asyncio.create_task(
            _command(client, cpo_id, identity, action="RequestStartTransaction", payload=start)
        )
        await _answer_next(cp, lambda f: [3, f[1], {"status": "Accepted"}])
        assert (await sent).json()["status"] == "answered"

        # 1.6-only action on a 2.0.1 charger, unknown action, schema-invalid payload: 422.
        for action, body in (
            ("RemoteStartTransaction", {"idTag": "X"}),
            ("Levitate", {}),
            ("Reset", {"type": "Sideways"}),
        ):
            bad = await _command(client, cpo_id, identity, action=action, payload=body)
            assert bad.status_code == 422, bad.text
            (error,) = bad.json()["detail"][:1]
            assert set(error) >= {"loc", "msg", "type"}
        bad = await _command(client, cpo_id, identity, action="Reset", payload={}, timeout_s=0)
        assert bad.status_code == 422
    other = await _command(
        client, cpo_id, "demo-999-H1-01", action="Reset", payload={"type": "Immediate"}
    )
    assert other.status_code == 404 and isinstance(other.json()["detail"], str)
    none = await _command(client, "999999", identity, action="Reset", payload={"type": "Immediate"})
    assert none.status_code == 404


async def test_security_profile_1_basic_auth(client: httpx.AsyncClient, gateway: EmbeddedGateway):
    cpo = await provision(client, "small-urban-ac", ocpp_security_profile=1)
    cpo_id = cpo["cpo_id"]
    chargers = (await client.get(f"/ocpi/cpos/{cpo_id}/chargers")).json()["data"]
    assert len(chargers) == 6 and len({c["password"] for c in chargers}) == 6
    first = chargers[0]
    assert first["security_profile"] == 1 and first["username"] == first["identity"]
    assert 16 <= len(first["password"]) <= 40
    assert (await client.get(f"/ocpi/cpos/{cpo_id}/chargers/{first['identity']}")).json() == first
    url = gateway.url.replace("http://", "ws://") + first["ocpp_path"]
    proto = [Subprotocol("ocpp1.6")]

    def basic(user: str, password: str) -> dict[str, str]:
        return {
            "Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
        }

    for headers in (
        {},
        basic(first["identity"], "wrong-password-123"),
        basic(chargers[1]["identity"], chargers[1]["password"]),
    ):
        with pytest.raises(InvalidStatus) as refused:
            async with connect(url, subprotocols=proto, additional_headers=headers):
                pass
        assert refused.value.response.status_code == 401
    async with connect(
        url, subprotocols=proto, additional_headers=basic(first["identity"], first["password"])
    ) as ws:
        await OcppTestClient(ws, "1.6").boot()
    report = (await client.get(f"/ocpi/cpos/{cpo_id}/report")).json()
    assert [e["kind"] for e in report["events"]] == ["refused"] * 3
    # Profile 1 is not profile 2: plain ws is fine, but without credentials nothing connects.
    plain = (
        await client.get(
            f"/ocpi/cpos/{(await provision(client, 'small-urban-ac'))['cpo_id']}/chargers"
        )
    ).json()["data"][0]
    assert plain["security_profile"] == 0 and plain["password"] is None


async def test_security_profile_2_over_tls(tmp_path: Path):
    certfile, keyfile = self_signed_certificate(tmp_path)
    context = ssl.create_default_context(cafile=certfile)
    settings = GatewaySettings(token=TOKEN, db_url=f"sqlite+aiosqlite:///{tmp_path}/gw.db")
    async with (
        EmbeddedGateway(settings, ssl_certfile=certfile, ssl_keyfile=keyfile) as gw,
        httpx.AsyncClient(
            base_url=gw.url, headers={"Authorization": f"Bearer {TOKEN}"}, verify=context
        ) as client,
    ):
        assert gw.url.startswith("https://")
        cpo = await provision(client, "highway-dc", ocpp_security_profile=2)
        charger = (await client.get(f"/ocpi/cpos/{cpo['cpo_id']}/chargers")).json()["data"][0]
        url = gw.url.replace("https://", "wss://") + charger["ocpp_path"]
        auth = base64.b64encode(f"{charger['username']}:{charger['password']}".encode()).decode()
        async with connect(
            url,
            subprotocols=[Subprotocol("ocpp2.0.1")],
            ssl=context,
            additional_headers={"Authorization": f"Basic {auth}"},
        ) as ws:
            cp = OcppTestClient(ws, "2.0.1")
            assert (await cp.boot())["status"] == "Accepted"
            await cp.status(1, "Available")

            async def evse_status() -> str:
                report = (await client.get(f"/ocpi/cpos/{cpo['cpo_id']}/report")).json()
                return str(report["evses"][0]["ocpi_status"])

            assert await wait_until(evse_status, lambda s: s == "AVAILABLE") == "AVAILABLE"


async def test_security_profile_2_refuses_plain_ws(
    client: httpx.AsyncClient, gateway: EmbeddedGateway
):
    cpo = await provision(client, "highway-dc", ocpp_security_profile=2)
    charger = (await client.get(f"/ocpi/cpos/{cpo['cpo_id']}/chargers")).json()["data"][0]
    auth = base64.b64encode(f"{charger['username']}:{charger['password']}".encode()).decode()
    url = gateway.url.replace("http://", "ws://") + charger["ocpp_path"]
    with pytest.raises(InvalidStatus) as refused:
        async with connect(
            url,
            subprotocols=[Subprotocol("ocpp2.0.1")],
            additional_headers={"Authorization": f"Basic {auth}"},
        ):
            pass
    assert refused.value.response.status_code == 403


CHARGER_SENT = {
    "1.6": [
        (
            "SecurityEventNotification",
            {"type": "FirmwareUpdated", "timestamp": "2025-01-01T00:00:00Z"},
            {},
        ),
        ("LogStatusNotification", {"status": "Uploaded", "requestId": 3}, {}),
        ("SignedFirmwareStatusNotification", {"status": "Downloading"}, {}),
        ("SignCertificate", {"csr": "-----BEGIN CERTIFICATE REQUEST-----"}, {"status": "Rejected"}),
        ("DiagnosticsStatusNotification", {"status": "Idle"}, {}),
        ("FirmwareStatusNotification", {"status": "Idle"}, {}),
        ("DataTransfer", {"vendorId": "acme"}, {"status": "UnknownVendorId"}),
    ],
    "2.0.1": [
        (
            "NotifyEvent",
            {
                "generatedAt": "2025-01-01T00:00:00Z",
                "seqNo": 0,
                "eventData": [
                    {
                        "eventId": 1,
                        "timestamp": "2025-01-01T00:00:00Z",
                        "trigger": "Alerting",
                        "actualValue": "1",
                        "eventNotificationType": "HardWiredNotification",
                        "component": {"name": "Door"},
                        "variable": {"name": "Open"},
                    }
                ],
            },
            {},
        ),
        ("NotifyReport", {"requestId": 1, "generatedAt": "2025-01-01T00:00:00Z", "seqNo": 0}, {}),
        ("LogStatusNotification", {"status": "Idle"}, {}),
        (
            "SecurityEventNotification",
            {"type": "StartupOfTheDevice", "timestamp": "2025-01-01T00:00:00Z"},
            {},
        ),
        ("ReservationStatusUpdate", {"reservationId": 4, "reservationUpdateStatus": "Expired"}, {}),
        (
            "NotifyEVChargingNeeds",
            {"evseId": 1, "chargingNeeds": {"requestedEnergyTransfer": "DC"}},
            {"status": "Rejected"},
        ),
        ("SignCertificate", {"csr": "csr"}, {"status": "Rejected"}),
        ("PublishFirmwareStatusNotification", {"status": "Idle"}, {}),
        ("DataTransfer", {"vendorId": "acme"}, {"status": "UnknownVendorId"}),
    ],
}


async def test_every_charger_sent_message_is_answered(
    client: httpx.AsyncClient, gateway: EmbeddedGateway
):
    cpo = await provision(client, "mixed-depot")
    cpo_id = cpo["cpo_id"]
    for version, identity in (("1.6", f"demo-{cpo_id}-D1-01"), ("2.0.1", f"demo-{cpo_id}-D1-05")):
        async with ocpp_client(gateway.url, identity, version) as cp:
            for action, payload, answer in CHARGER_SENT[version]:
                # OcppTestClient.call validates the request and the answer against the schemas.
                assert await cp.call(action, payload) == answer, action
    report = (await client.get(f"/ocpi/cpos/{cpo_id}/report")).json()
    assert report["messages"]["SecurityEventNotification"] == 2
    assert report["events"] == []
