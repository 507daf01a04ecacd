"""OCPI 2.1.1 CPO side, against the harness's 2.1.1 client dialect and raw HTTP."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

import httpx

from ocpplab_sim.gateway import EmbeddedGateway
from ocpplab_sim.ocpi_client import OcpiClient
from ocpplab_sim.ocpi_client.models import Location211

from .support import ocpp_client, provision

# Required fields of OCPI 2.1.1 mod_locations §8.3 (Location, EVSE, Connector).
LOCATION_211 = {"id", "type", "address", "city", "postal_code", "country", "coordinates"}
EVSE_211 = {"uid", "status", "connectors", "last_updated"}
CONNECTOR_211 = {"id", "standard", "format", "power_type", "voltage", "amperage", "last_updated"}


@dataclass(frozen=True)
class _Party:
    country_code: str = "NL"
    party_id: str = "EMS"


def _check_location(loc: dict[str, Any]) -> None:
    assert LOCATION_211 | {"last_updated"} <= set(loc), loc
    assert "country_code" not in loc and "publish" not in loc  # 2.2.1 fields
    for evse in loc["evses"]:
        assert set(evse) >= EVSE_211, evse
        for conn in evse["connectors"]:
            assert set(conn) >= CONNECTOR_211, conn
            assert "max_voltage" not in conn and "max_amperage" not in conn


async def test_client_211_handshake_and_pull(client: httpx.AsyncClient, gateway: EmbeddedGateway):
    cpo = await provision(client, "mixed-depot")
    async with OcpiClient(
        cpo["ocpi_peer_url"], cpo["token_a"], party=_Party(), versions=["2.1.1"]
    ) as ocpi:
        theirs = await ocpi.handshake()
        assert ocpi.version == "2.1.1"
        assert (theirs.country_code, theirs.party_id) == ("FR", "ABC")
        locations = await ocpi.locations()
        assert [type(loc) for loc in locations] == [Location211]
        (loc,) = locations
        assert loc.type == "PARKING_LOT" and loc.postal_code == "92230"
        assert len(loc.evses) == 8
        dc = loc.evses[-1].connectors[0]
        assert (dc.voltage, dc.amperage, dc.power_type) == (920, 200, "DC")
        evse = await ocpi.evse(loc.id, loc.evses[0].uid)
        assert evse.status == "UNKNOWN"
        token_c = ocpi.token_c
        assert token_c is not None
        report = (await client.get(f"/ocpi/cpos/{cpo['cpo_id']}/report")).json()
        assert report["ocpi"]["registered"] is True
        await ocpi.close_registration()
    report = (await client.get(f"/ocpi/cpos/{cpo['cpo_id']}/report")).json()
    assert report["ocpi"]["registered"] is False


async def test_raw_211_wire_shapes(client: httpx.AsyncClient, gateway: EmbeddedGateway):
    cpo = await provision(client, "small-urban-ac")
    cpo_id = cpo["cpo_id"]
    base = f"/ocpi/peer/{cpo_id}/2.1.1"
    raw_a = {"Authorization": f"Token {cpo['token_a']}"}
    async with httpx.AsyncClient(base_url=gateway.url) as peer:
        details = (await peer.get(base, headers=raw_a)).json()
        assert details["status_code"] == 1000
        assert details["data"] == {
            "version": "2.1.1",
            "endpoints": [
                {"identifier": "credentials", "url": f"{gateway.url}{base}/credentials"},
                {"identifier": "locations", "url": f"{gateway.url}{base}/locations"},
            ],
        }
        assert (await peer.get(f"{base}/locations", headers=raw_a)).status_code == 401
        # A 2.2.1-shaped body (roles, no party) is not a 2.1.1 Credentials object.
        wrong = await peer.post(
            f"{base}/credentials",
            headers=raw_a,
            json={"token": "b", "url": "http://127.0.0.1:9/v", "roles": []},
        )
        assert wrong.status_code == 400 and wrong.json()["status_code"] == 2001
        body = {
            "token": "tok-b-211",
            "url": "http://127.0.0.1:9/versions",
            "business_details": {"name": "eMSP 2.1.1"},
            "party_id": "EMS",
            "country_code": "NL",
        }
        posted = await peer.post(f"{base}/credentials", headers=raw_a, json=body)
        assert posted.status_code == 200, posted.text
        creds = posted.json()["data"]
        assert set(creds) == {"token", "url", "business_details", "party_id", "country_code"}
        assert creds["url"] == cpo["ocpi_peer_url"]
        raw_c = {"Authorization": f"Token {creds['token']}"}
        assert (await peer.post(f"{base}/credentials", headers=raw_c, json=body)).status_code == 405

        page = await peer.get(f"{base}/locations", headers=raw_c, params={"limit": 1})
        assert page.headers["X-Total-Count"] == "2" and 'rel="next"' in page.headers["Link"]
        (loc,) = page.json()["data"]
        _check_location(loc)
        assert loc["type"] == "UNKNOWN" and loc["postal_code"] == "75011"

        # An EVSE status change shows in 2.1.1 objects too.
        async with ocpp_client(gateway.url, f"demo-{cpo_id}-L1-01", "1.6") as cp:
            await cp.boot()
            await cp.status(1, "Faulted")
            evse = await peer.get(f"{base}/locations/{loc['id']}/{cpo_id}-L1-01", headers=raw_c)
            assert evse.json()["data"]["status"] == "OUTOFORDER"
        conn = await peer.get(f"{base}/locations/{loc['id']}/{cpo_id}-L1-01/1", headers=raw_c)
        assert set(conn.json()["data"]) >= CONNECTOR_211
        missing = await peer.get(f"{base}/locations/{loc['id']}/nope", headers=raw_c)
        assert missing.status_code == 404 and missing.json()["status_code"] == 2003

        # The Base64 form is accepted as well; PUT rotates, DELETE unregisters.
        b64_c = {"Authorization": "Token " + base64.b64encode(creds["token"].encode()).decode()}
        put = await peer.put(f"{base}/credentials", headers=b64_c, json=body)
        assert put.status_code == 200
        new_c = {"Authorization": f"Token {put.json()['data']['token']}"}
        assert (await peer.get(f"{base}/locations", headers=raw_c)).status_code == 401
        assert (await peer.delete(f"{base}/credentials", headers=new_c)).status_code == 200
        assert (await peer.delete(f"{base}/credentials", headers=new_c)).status_code == 401
