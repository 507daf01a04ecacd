"""OCPI wire formats: every DateTime a string(25), pushes equal to the lists, error envelopes on
unknown routes, and the large-network template up to its documented maximum."""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from ocpplab_sim.gateway import EmbeddedGateway

from .support import ocpp_client, provision, recording_emsp, wait_until

# OCPI 2.2.1 types §16.2 / 2.1.1 types §14.2: DateTime is string(25), UTC; the gateway writes
# milliseconds at most.
_DATETIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,3})?Z$")
_TIME_FIELDS = {"timestamp", "last_updated"}


def _timestamps(value: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    if isinstance(value, dict):
        for key, item in value.items():
            if key in _TIME_FIELDS:
                yield f"{path}.{key}", item
            yield from _timestamps(item, f"{path}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _timestamps(item, f"{path}[{index}]")


async def _register(client: httpx.AsyncClient, cpo: dict[str, Any], version: str, url: str) -> str:
    """Register an eMSP through ``version``; returns token C."""
    token_a = cpo["token_a"]
    party = {"party_id": "EMS", "country_code": "NL"}
    business = {"name": "Test eMSP"}
    if version == "2.2.1":
        body: dict[str, Any] = {
            "token": "token-b",
            "url": url,
            "roles": [{"role": "EMSP", "business_details": business, **party}],
        }
        header = "Token " + base64.b64encode(token_a.encode()).decode()
    else:
        body = {"token": "token-b", "url": url, "business_details": business, **party}
        header = f"Token {token_a}"
    posted = await client.post(
        f"/ocpi/peer/{cpo['cpo_id']}/{version}/credentials",
        json=body,
        headers={"Authorization": header},
    )
    assert posted.status_code == 200, posted.text
    token_c: str = posted.json()["data"]["token"]
    return token_c


@pytest.mark.parametrize("version", ["2.2.1", "2.1.1"])
async def test_every_ocpi_timestamp_is_a_string25_and_pushes_equal_the_list(
    client: httpx.AsyncClient, gateway: EmbeddedGateway, version: str
):
    cpo = await provision(client, "small-urban-ac")
    cpo_id = cpo["cpo_id"]
    async with recording_emsp(version) as emsp:
        token_c = await _register(client, cpo, version, emsp.versions_url)
        uid = f"{cpo_id}-L1-01"
        async with ocpp_client(gateway.url, f"demo-{uid}", "1.6") as cp:
            await cp.boot()
            await cp.status(1, "Available")

            async def pushed() -> list[str]:
                return emsp.ok_statuses(uid)

            await wait_until(pushed, lambda s: s == ["AVAILABLE"])
        await wait_until(pushed, lambda s: s == ["AVAILABLE", "UNKNOWN"])
    auth = {"Authorization": f"Token {token_c}"}
    base = f"/ocpi/peer/{cpo_id}"
    modules = f"{base}/{version}"
    location_id = f"{cpo_id}-L1"
    paths = [
        f"{base}/versions",
        modules,
        f"{modules}/credentials",
        f"{modules}/locations",
        f"{modules}/locations?offset=2&limit=1",
        f"{modules}/locations/{location_id}",
        f"{modules}/locations/{location_id}/{uid}",
        f"{modules}/locations/{location_id}/{uid}/1",
        # error envelopes carry a timestamp too
        f"{modules}/locations/NOPE",
        f"{modules}/locations/{location_id}/{uid}/2",
        f"{modules}/no-such-module",
    ]
    seen = 0
    for path in paths:
        response = await client.get(path, headers=auth)
        body = response.json()
        assert "timestamp" in body, (path, body)
        for where, value in _timestamps(body):
            assert isinstance(value, str) and len(value) <= 25, (path, where, value)
            assert _DATETIME.match(value), (path, where, value)
            seen += 1
    unauthorised = await client.get(f"{modules}/locations", headers={"Authorization": "Token x"})
    assert _DATETIME.match(unauthorised.json()["timestamp"])
    assert seen > 20
    # The pushed last_updated equals the EVSE's last_updated in the list.
    evse = (await client.get(f"{modules}/locations/{location_id}/{uid}", headers=auth)).json()
    last_push = emsp.patches[-1][2]
    assert last_push["status"] == evse["data"]["status"] == "UNKNOWN"
    assert last_push["last_updated"] == evse["data"]["last_updated"]
    listed = (await client.get(f"{modules}/locations", headers=auth)).json()["data"]
    (listed_evse,) = [e for loc in listed for e in loc["evses"] if e["uid"] == uid]
    assert listed_evse["last_updated"] == last_push["last_updated"]


async def test_unknown_ocpi_routes_answer_the_envelope(
    client: httpx.AsyncClient, gateway: EmbeddedGateway
):
    cpo = await provision(client, "small-urban-ac")
    base = f"/ocpi/peer/{cpo['cpo_id']}"
    for method, path, http_status in [
        ("GET", f"{base}/2.2.1/no-such-module", 404),
        ("GET", f"{base}/9.9.9", 404),
        ("GET", f"{base}/2.1.1/tariffs", 404),
        ("POST", f"{base}/2.2.1/locations", 405),
    ]:
        response = await client.request(method, path)
        body = response.json()
        assert response.status_code == http_status, (path, response.text)
        assert body["status_code"] == 2000 and isinstance(body["status_message"], str), body
        assert _DATETIME.match(body["timestamp"]), body
    # An unknown object is 2003, as before.
    token = base64.b64encode(cpo["token_a"].encode()).decode()
    response = await client.get(f"{base}/versions", headers={"Authorization": f"Token {token}"})
    assert response.status_code == 200
    # Outside the OCPI prefix FastAPI's own error shape stays.
    assert (await client.get("/no-such-route")).json() == {"detail": "Not Found"}


@pytest.mark.parametrize("per_location", [51, 99])
async def test_large_network_up_to_99_chargers_per_location(
    client: httpx.AsyncClient, per_location: int
):
    params = {"locations": 1, "chargers_per_location": per_location}
    cpo = await provision(client, "large-network", template_params=params)
    assert cpo["topology"]["chargers"] == per_location
    status = (await client.get(f"/ocpi/cpos/{cpo['cpo_id']}/status")).json()
    assert status["status"] == "ready"
