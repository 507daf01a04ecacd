"""The harness-side eMSP receiver on a real loopback port: versions, details, and the Locations
receiver recording every push with what is wrong with it."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator

import httpx
import pytest

from ocpplab_sim.emsp import EmspReceiver

TOKEN_B = "token-b-xyz"
STAMP = "2030-01-01T00:00:00Z"


def header(token: str = TOKEN_B, *, encode: bool = True) -> dict[str, str]:
    value = base64.b64encode(token.encode()).decode() if encode else token
    return {"Authorization": f"Token {value}"}


@pytest.fixture
async def emsp() -> AsyncIterator[EmspReceiver]:
    async with EmspReceiver(TOKEN_B) as receiver:
        yield receiver


async def test_versions_and_details_point_at_the_locations_receiver(emsp: EmspReceiver) -> None:
    async with httpx.AsyncClient(headers=header()) as http:
        versions = (await http.get(emsp.versions_url)).json()["data"]
        assert [v["version"] for v in versions] == ["2.2.1", "2.1.1"]
        details = (await http.get(versions[0]["url"])).json()["data"]
        assert details["endpoints"] == [
            {
                "identifier": "locations",
                "url": f"{emsp.url}/ocpi/emsp/2.2.1/locations",
                "role": "RECEIVER",
            }
        ]
        assert (await http.get(emsp.versions_url, headers=header("wrong"))).status_code == 401


async def test_pushes_are_recorded_in_order_with_their_problems(emsp: EmspReceiver) -> None:
    base = f"{emsp.url}/ocpi/emsp/2.2.1/locations/FR/ABC/L1"
    async with httpx.AsyncClient(headers=header()) as http:
        first = await http.patch(f"{base}/E1", json={"status": "CHARGING", "last_updated": STAMP})
        assert first.json()["status_code"] == 1000
        await http.patch(f"{base}/E1", json={"status": "CHARGNG"})
        mismatch = await http.put(
            f"{base}/E2", json={"uid": "E9", "status": "AVAILABLE", "last_updated": STAMP}
        )
        assert (mismatch.status_code, mismatch.json()["status_code"]) == (400, 2001)
        refused = await http.patch(
            f"{base}/E1", json={"status": "AVAILABLE"}, headers=header("nope")
        )
        assert refused.status_code == 401
        raw = await http.patch(
            f"{base}/E1",
            json={"status": "AVAILABLE", "last_updated": STAMP},
            headers=header(encode=False),
        )
        assert raw.json()["status_code"] == 1000
    records = emsp.pushes()
    assert [(r.method, r.evse_uid, r.body.get("status")) for r in records] == [
        ("PATCH", "E1", "CHARGING"),
        ("PATCH", "E1", "CHARGNG"),
        ("PUT", "E2", "AVAILABLE"),
        ("PATCH", "E1", "AVAILABLE"),
    ]
    assert records[0].problems == ()
    assert records[0].location_id == "L1" and records[0].country_code == "FR"
    assert set(records[1].problems) == {
        "PATCH without last_updated",
        "status 'CHARGNG' is not an OCPI EvseStatus",
    }
    assert records[2].problems == ("uid 'E9' differs from the URL's 'E2'",)
    assert records[3].problems == ("token not Base64-encoded (2.2.1 requires it)",)
    assert emsp.refused == 1
    assert records[0].at <= records[1].at <= records[2].at


async def test_211_pushes_use_the_raw_token(emsp: EmspReceiver) -> None:
    url = f"{emsp.url}/ocpi/emsp/2.1.1/locations/NL/EMP/L1/E1"
    async with httpx.AsyncClient(headers=header(encode=False)) as http:
        answer = await http.patch(url, json={"status": "AVAILABLE"})
    assert answer.json()["status_code"] == 1000
    (record,) = emsp.pushes()
    assert (record.version, record.problems) == ("2.1.1", ())


async def test_the_receiver_stops_and_its_port_closes() -> None:
    async with EmspReceiver(TOKEN_B) as receiver:
        url = receiver.versions_url
    async with httpx.AsyncClient() as http:
        with pytest.raises(httpx.ConnectError):
            await http.get(url, headers=header())
