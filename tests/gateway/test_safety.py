"""Bad input, liveness and mapping profiles: each answered correctly, recorded, never crashing."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus
from websockets.typing import Subprotocol

from ocpplab_sim.gateway import EmbeddedGateway, GatewaySettings

from .conftest import TOKEN
from .support import ocpp_client, provision, wait_until

HEADERS = {"Authorization": f"Bearer {TOKEN}"}


async def test_oversized_and_malformed_bodies(client: httpx.AsyncClient, gateway: EmbeddedGateway):
    big = b'{"template": "' + b"x" * 1_100_000 + b'"}'
    declared = await client.post(
        "/ocpi/cpos", content=big, headers={"Content-Type": "application/json"}
    )
    assert declared.status_code == 413 and isinstance(declared.json()["detail"], str)

    async def chunks():  # type: ignore[no-untyped-def]
        for _ in range(40):
            yield b"x" * 65536

    streamed = await client.post(
        "/ocpi/cpos", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert streamed.status_code == 413
    malformed = await client.post(
        "/ocpi/cpos", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert malformed.status_code == 422 and isinstance(malformed.json()["detail"], list)
    wrong_type = await client.post("/ocpi/cpos", json=[1, 2, 3])
    assert wrong_type.status_code == 422
    bad_params = await client.post(
        "/ocpi/cpos",
        json={
            "template": "large-network",
            "party": {"country_code": "FR", "party_id": "ABC"},
            "template_params": {"locations": 100000},
        },
    )
    assert bad_params.status_code == 422 and "locations" in json.dumps(bad_params.json())
    unknown_param = await client.post(
        "/ocpi/cpos",
        json={
            "template": "highway-dc",
            "party": {"country_code": "FR", "party_id": "ABC"},
            "template_params": {"x": 1},
        },
    )
    assert unknown_param.status_code == 422
    # The gateway is still fine.
    assert (await client.get("/ocpi/cpos")).status_code == 200


async def test_invalid_frames_and_unknown_identities_are_recorded(
    client: httpx.AsyncClient, gateway: EmbeddedGateway
):
    cpo = await provision(client, "small-urban-ac")
    cpo_id = cpo["cpo_id"]
    with pytest.raises(InvalidStatus) as unknown:
        async with connect(
            gateway.url.replace("http://", "ws://") + "/ocpp/nobody-here",
            subprotocols=[Subprotocol("ocpp1.6")],
        ):
            pass
    assert unknown.value.response.status_code == 404
    async with ocpp_client(gateway.url, f"demo-{cpo_id}-L1-02", "1.6") as cp:
        await cp.ws.send("this is not json")
        assert (await cp.recv_frame())[2] == "FormationViolation"
        await cp.ws.send(json.dumps([2, "x1", "BootNotification", {"chargePointVendor": 5}]))
        rejected = await cp.recv_frame()
        assert rejected[0] == 4 and rejected[1] == "x1"
        assert (await cp.boot())["status"] == "Accepted"
    report = (await client.get(f"/ocpi/cpos/{cpo_id}/report")).json()
    kinds = [e["kind"] for e in report["events"]]
    assert kinds == ["invalid_frame", "rejected_call"]
    assert all(e["station_id"] == f"demo-{cpo_id}-L1-02" for e in report["events"])
    # The unknown identity belongs to no report but is listed among the gateway's events.
    events = (await client.get("/gateway/events")).json()["data"]
    assert [(e["station_id"], e["kind"]) for e in events] == [("nobody-here", "refused")]
    assert "unknown charge point identity" in events[0]["detail"]
    assert (await client.get("/gateway/events", headers={"Authorization": ""})).status_code == 401


async def test_silent_charger_goes_unknown_and_comes_back(tmp_path: Path):
    settings = GatewaySettings(
        token=TOKEN,
        db_url=f"sqlite+aiosqlite:///{tmp_path}/gw.db",
        heartbeat_interval=1,
        heartbeat_timeout_factor=0.5,
        heartbeat_grace=0.3,
    )
    async with (
        EmbeddedGateway(settings) as gw,
        httpx.AsyncClient(base_url=gw.url, headers=HEADERS) as client,
    ):
        cpo = await provision(client, "small-urban-ac")
        cpo_id = cpo["cpo_id"]

        async def evse() -> dict:  # type: ignore[type-arg]
            report = (await client.get(f"/ocpi/cpos/{cpo_id}/report")).json()
            return dict(report["evses"][0])

        async with ocpp_client(gw.url, f"demo-{cpo_id}-L1-01", "1.6") as cp:
            await cp.boot()
            await cp.status(1, "Available")
            assert (await evse())["ocpi_status"] == "AVAILABLE"
            # Silence beyond 0.5 × 1 s + 0.3 s: offline although the socket is open.
            silent = await wait_until(evse, lambda e: e["ocpi_status"] == "UNKNOWN", within=5)
            assert silent["online"] is False
            await cp.call("Heartbeat", {})
            await cp.status(1, "Charging")
            back = await wait_until(evse, lambda e: e["ocpi_status"] == "CHARGING")
            assert back["online"] is True
        report = (await client.get(f"/ocpi/cpos/{cpo_id}/report")).json()
        assert "silent" in [e["kind"] for e in report["events"]]


@pytest.mark.parametrize(
    ("profile", "expected"),
    [
        ("default", ["CHARGING", "INOPERATIVE", "OUTOFORDER", "UNKNOWN"]),
        ("greenflux", ["AVAILABLE", "OUTOFORDER", "OUTOFORDER", "UNKNOWN"]),
        ("evserver", ["AVAILABLE", "CHARGING", "INOPERATIVE", "INOPERATIVE"]),
        ("citrineos", ["CHARGING", "INOPERATIVE", "OUTOFORDER", "OUTOFORDER"]),
    ],
)
async def test_mapping_profile_chosen_at_create(
    client: httpx.AsyncClient, gateway: EmbeddedGateway, profile: str, expected: list[str]
):
    cpo = await provision(client, "small-urban-ac", mapping_profile=profile)
    cpo_id = cpo["cpo_id"]
    async with ocpp_client(gateway.url, f"demo-{cpo_id}-L1-01", "1.6") as cp:
        await cp.boot()
        for status in ("Preparing", "Unavailable", "Faulted"):
            await cp.status(1, status)
    # After the socket closes: the profile's offline status (citrineos keeps the last one).

    async def history() -> list[str]:
        report = (await client.get(f"/ocpi/cpos/{cpo_id}/report")).json()
        return [h["ocpi_status"] for h in report["evses"][0]["history"]]

    assert await wait_until(history, lambda h: len(h) == 4) == expected
