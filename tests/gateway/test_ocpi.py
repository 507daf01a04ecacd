"""OCPI 2.2.1 CPO side: versions, credentials handshake, Locations sender."""

from __future__ import annotations

import base64
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import httpx

from ocpplab_sim.gateway import EmbeddedGateway

from .support import fake_emsp, fixture_validator, ocpp_client, provision

LOCATION = fixture_validator("ocpi-2.2.1-location.schema.json", "Location")
EVSE = fixture_validator("ocpi-2.2.1-location.schema.json", "Evse")
CONNECTOR = fixture_validator("ocpi-2.2.1-location.schema.json", "Connector")
ENVELOPE = fixture_validator("ocpi-2.2.1-location.schema.json", "Envelope")


def _b64(token: str) -> str:
    return "Token " + base64.b64encode(token.encode()).decode()


def _credentials(token_b: str, url: str) -> dict[str, Any]:
    return {
        "token": token_b,
        "url": url,
        "roles": [
            {
                "role": "EMSP",
                "business_details": {"name": "Test eMSP"},
                "party_id": "EMS",
                "country_code": "NL",
            }
        ],
    }


async def test_full_credentials_handshake(client: httpx.AsyncClient, gateway: EmbeddedGateway):
    cpo = await provision(client, "small-urban-ac")
    cpo_id, token_a = cpo["cpo_id"], cpo["token_a"]
    base = f"/ocpi/peer/{cpo_id}"
    async with fake_emsp() as (emsp_url, seen), httpx.AsyncClient(base_url=gateway.url) as peer:
        versions = await peer.get(cpo["ocpi_peer_url"], headers={"Authorization": _b64(token_a)})
        assert versions.status_code == 200
        body = versions.json()
        ENVELOPE.validate(body)
        assert body["status_code"] == 1000
        assert body["data"] == [
            {"version": "2.2.1", "url": f"{gateway.url}{base}/2.2.1"},
            {"version": "2.1.1", "url": f"{gateway.url}{base}/2.1.1"},
        ]

        details = (await peer.get(f"{base}/2.2.1", headers={"Authorization": _b64(token_a)})).json()
        endpoints = {(e["identifier"], e["role"]): e["url"] for e in details["data"]["endpoints"]}
        assert details["data"]["version"] == "2.2.1"
        assert endpoints == {
            ("credentials", "RECEIVER"): f"{gateway.url}{base}/2.2.1/credentials",
            ("locations", "SENDER"): f"{gateway.url}{base}/2.2.1/locations",
        }

        # Token A cannot reach a module.
        denied = await peer.get(f"{base}/2.2.1/locations", headers={"Authorization": _b64(token_a)})
        assert denied.status_code == 401
        ENVELOPE.validate(denied.json())

        token_b = "emsp-token-b-0123456789"
        posted = await peer.post(
            f"{base}/2.2.1/credentials",
            headers={"Authorization": _b64(token_a)},
            json=_credentials(token_b, emsp_url),
        )
        assert posted.status_code == 200, posted.text
        creds = posted.json()["data"]
        token_c = creds["token"]
        assert token_c not in (token_a, token_b)
        assert creds["url"] == cpo["ocpi_peer_url"]
        assert creds["roles"] == [
            {
                "role": "CPO",
                "business_details": creds["roles"][0]["business_details"],
                "party_id": "ABC",
                "country_code": "FR",
            }
        ]
        # The gateway called the eMSP's versions endpoint with token B, Base64-encoded.
        assert seen == [_b64(token_b)]

        # A is void everywhere now; C works, Base64 or raw.
        for path in ("/versions", "/2.2.1", "/2.2.1/credentials"):
            gone = await peer.get(base + path, headers={"Authorization": _b64(token_a)})
            assert gone.status_code == 401, path
        assert (
            await peer.get(f"{base}/versions", headers={"Authorization": _b64(token_c)})
        ).status_code == 200
        raw = await peer.get(
            f"{base}/2.2.1/locations", headers={"Authorization": f"Token {token_c}"}
        )
        assert raw.status_code == 200

        again = await peer.post(
            f"{base}/2.2.1/credentials",
            headers={"Authorization": _b64(token_c)},
            json=_credentials(token_b, emsp_url),
        )
        assert again.status_code == 405
        ENVELOPE.validate(again.json())

        got = (
            await peer.get(f"{base}/2.2.1/credentials", headers={"Authorization": _b64(token_c)})
        ).json()
        assert got["data"]["token"] == token_c

        report = (await client.get(f"/ocpi/cpos/{cpo_id}/report")).json()
        assert report["ocpi"]["registered"] is True
        assert report["ocpi"]["peer_url"] == emsp_url
        assert report["ocpi"]["peer_versions_ok"] is True

        # PUT rotates C; DELETE unregisters; afterwards PUT/DELETE are 405 and C is void.
        put = await peer.put(
            f"{base}/2.2.1/credentials",
            headers={"Authorization": _b64(token_c)},
            json=_credentials("emsp-token-b-2", emsp_url),
        )
        assert put.status_code == 200
        token_c2 = put.json()["data"]["token"]
        assert token_c2 != token_c
        assert (
            await peer.get(f"{base}/versions", headers={"Authorization": _b64(token_c)})
        ).status_code == 401
        deleted = await peer.delete(
            f"{base}/2.2.1/credentials", headers={"Authorization": _b64(token_c2)}
        )
        assert deleted.status_code == 200 and deleted.json()["status_code"] == 1000
        assert (
            await peer.get(f"{base}/versions", headers={"Authorization": _b64(token_c2)})
        ).status_code == 401


async def test_unreachable_emsp_does_not_fail_handshake(
    client: httpx.AsyncClient, gateway: EmbeddedGateway
):
    cpo = await provision(client, "highway-dc")
    base = f"/ocpi/peer/{cpo['cpo_id']}"
    async with httpx.AsyncClient(base_url=gateway.url) as peer:
        posted = await peer.post(
            f"{base}/2.2.1/credentials",
            headers={"Authorization": _b64(cpo["token_a"])},
            json=_credentials("tok-b", "http://127.0.0.1:9/nothing/versions"),
        )
        assert posted.status_code == 200 and posted.json()["status_code"] == 1000
    report = (await client.get(f"/ocpi/cpos/{cpo['cpo_id']}/report")).json()
    assert report["ocpi"]["registered"] is True
    assert report["ocpi"]["peer_versions_ok"] is False
    assert "127.0.0.1:9" in report["ocpi"]["peer_versions_detail"]


async def test_bad_tokens_and_bodies(client: httpx.AsyncClient, gateway: EmbeddedGateway):
    cpo = await provision(client, "highway-dc")
    other = await provision(client, "highway-dc")
    base = f"/ocpi/peer/{cpo['cpo_id']}"
    async with httpx.AsyncClient(base_url=gateway.url) as peer:
        for headers in (
            {},
            {"Authorization": "Token"},
            {"Authorization": "Bearer x"},
            {"Authorization": _b64("nope")},
            {"Authorization": _b64(other["token_a"])},
        ):
            response = await peer.get(f"{base}/versions", headers=headers)
            assert response.status_code == 401, headers
            ENVELOPE.validate(response.json())
        bad = await peer.post(
            f"{base}/2.2.1/credentials",
            headers={"Authorization": _b64(cpo["token_a"])},
            json={"token": "x", "url": "http://e"},
        )
        assert bad.status_code == 400 and bad.json()["status_code"] == 2001
        # A rejected body leaves token A valid.
        ok = await peer.get(f"{base}/versions", headers={"Authorization": _b64(cpo["token_a"])})
        assert ok.status_code == 200
        unregistered = await peer.delete(
            f"{base}/2.2.1/credentials", headers={"Authorization": _b64(cpo["token_a"])}
        )
        assert unregistered.status_code == 401
    await client.delete(f"/ocpi/cpos/{cpo['cpo_id']}")
    async with httpx.AsyncClient(base_url=gateway.url) as peer:
        revoked = await peer.get(
            f"{base}/versions", headers={"Authorization": _b64(cpo["token_a"])}
        )
        assert revoked.status_code == 401


@contextlib.asynccontextmanager
async def _registered(
    gateway: EmbeddedGateway, cpo: dict[str, Any]
) -> AsyncIterator[httpx.AsyncClient]:
    """An OCPI client holding token C of ``cpo`` (the eMSP side is unreachable: recorded only)."""
    async with httpx.AsyncClient(base_url=gateway.url) as peer:
        posted = await peer.post(
            f"/ocpi/peer/{cpo['cpo_id']}/2.2.1/credentials",
            headers={"Authorization": _b64(cpo["token_a"])},
            json=_credentials("tok-b", "http://127.0.0.1:9/versions"),
        )
        peer.headers["Authorization"] = _b64(posted.json()["data"]["token"])
        yield peer


async def test_locations_sender_pagination(client: httpx.AsyncClient, gateway: EmbeddedGateway):
    # Three CPOs' worth of locations exist; each CPO's sender shows only its own.
    await provision(client, "small-urban-ac")
    cpo = await provision(client, "small-urban-ac")
    await provision(client, "highway-dc")
    url = f"/ocpi/peer/{cpo['cpo_id']}/2.2.1/locations"
    async with _registered(gateway, cpo) as peer:
        first = await peer.get(url, params={"limit": 1})
        assert first.status_code == 200
        ENVELOPE.validate(first.json())
        assert first.headers["X-Total-Count"] == "2"
        assert first.headers["X-Limit"] == "2"
        (loc1,) = first.json()["data"]
        LOCATION.validate(loc1)
        link = first.headers["Link"]
        assert link.endswith('>; rel="next"') and "offset=1" in link and "limit=1" in link
        next_url = link[1 : link.index(">")]
        second = await peer.get(next_url)
        (loc2,) = second.json()["data"]
        assert "Link" not in second.headers
        assert [loc1["id"], loc2["id"]] == [f"{cpo['cpo_id']}-L1", f"{cpo['cpo_id']}-L2"]

        # A limit above the server maximum is capped at X-Limit.
        capped = await peer.get(url, params={"limit": 50})
        assert len(capped.json()["data"]) == 2 and "Link" not in capped.headers

        for loc in (loc1, loc2):
            assert loc["country_code"] == "FR" and loc["party_id"] == "ABC"
            assert loc["publish"] is True and loc["country"] == "FRA"
            assert isinstance(loc["coordinates"]["latitude"], str)
            assert len(loc["evses"]) == 3
            for evse in loc["evses"]:
                assert evse["status"] == "UNKNOWN"
                (conn,) = evse["connectors"]
                assert (conn["id"], conn["standard"], conn["format"], conn["power_type"]) == (
                    "1",
                    "IEC_62196_T2",
                    "SOCKET",
                    "AC_3_PHASE",
                )
                assert (conn["max_voltage"], conn["max_amperage"]) == (230, 32)

        # An EVSE status change moves its location's last_updated: date filters see it.
        identity = f"demo-{cpo['cpo_id']}-L2-01"
        async with ocpp_client(gateway.url, identity, "1.6") as cp:
            await cp.boot()
            await cp.status(1, "Available")
            # Read while connected: closing the socket changes the EVSE (and location) again.
            changed = (await peer.get(f"{url}/{loc2['id']}")).json()["data"]
        assert changed["last_updated"] > loc2["last_updated"]
        assert changed["last_updated"] == changed["evses"][0]["last_updated"]
        after = await peer.get(url, params={"date_from": changed["last_updated"]})
        assert [x["id"] for x in after.json()["data"]] == [loc2["id"]]
        assert after.headers["X-Total-Count"] == "1"
        before = await peer.get(url, params={"date_to": changed["last_updated"]})
        assert [x["id"] for x in before.json()["data"]] == [loc1["id"]]
        none = await peer.get(url, params={"date_to": "2000-01-01T00:00:00Z"})
        assert none.json()["data"] == [] and none.headers["X-Total-Count"] == "0"
        bad = await peer.get(url, params={"offset": -1})
        assert bad.status_code == 400 and bad.json()["status_code"] == 2001


async def test_location_object_gets(client: httpx.AsyncClient, gateway: EmbeddedGateway):
    cpo = await provision(client, "highway-dc")
    base = f"/ocpi/peer/{cpo['cpo_id']}/2.2.1/locations"
    loc_id = f"{cpo['cpo_id']}-H1"
    async with _registered(gateway, cpo) as peer:
        loc = (await peer.get(f"{base}/{loc_id}")).json()["data"]
        LOCATION.validate(loc)
        assert len(loc["evses"]) == 5
        uid = loc["evses"][1]["uid"]
        assert uid.endswith("_C2")
        evse = (await peer.get(f"{base}/{loc_id}/{uid}")).json()["data"]
        EVSE.validate(evse)
        assert evse == loc["evses"][1]
        conn = (await peer.get(f"{base}/{loc_id}/{uid}/1")).json()["data"]
        CONNECTOR.validate(conn)
        assert (conn["standard"], conn["format"], conn["power_type"]) == (
            "IEC_62196_T2_COMBO",
            "CABLE",
            "DC",
        )
        assert (conn["max_voltage"], conn["max_amperage"]) == (920, 500)
        for path in (f"{base}/nope", f"{base}/{loc_id}/nope", f"{base}/{loc_id}/{uid}/2"):
            missing = await peer.get(path)
            assert missing.status_code == 404, path
            assert missing.json()["status_code"] == 2003
