"""The OCPI 2.1.1 dialect against a scripted 2.1.1 CPO on a mock transport: raw token header,
Credentials without roles, endpoints without role, 2.1.1 Location/Connector fields."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from ocpplab_sim.errors import InputError, OcpiError
from ocpplab_sim.gateway_client import Party
from ocpplab_sim.ocpi_client import DIALECTS, Credentials211, EvseStatus, Location211, OcpiClient

from .payloads import envelope

PEER = "http://cpo211.test/ocpi"
TOKEN_A, TOKEN_C = "tok-A-211", "tok-C-211"
PARTY = Party(country_code="NL", party_id="EMP")


def location_211(location_id: str, uid: str, status: str) -> dict[str, Any]:
    stamp = "2026-04-21T20:00:00Z"
    return {
        "id": location_id,
        "type": "ON_STREET",
        "address": "Dam 1",
        "city": "Amsterdam",
        "postal_code": "1012",
        "country": "NLD",
        "coordinates": {"latitude": "52.373100", "longitude": "4.893200"},
        "evses": [
            {
                "uid": uid,
                "status": status,
                "connectors": [
                    {
                        "id": "1",
                        "standard": "IEC_62196_T2",
                        "format": "SOCKET",
                        "power_type": "AC_3_PHASE",
                        "voltage": 230,
                        "amperage": 32,
                        "last_updated": stamp,
                    }
                ],
                "last_updated": stamp,
            }
        ],
        "last_updated": stamp,
    }


class Cpo211:
    """Offers only 2.1.1 and checks the token the 2.1.1 way: raw in the header."""

    def __init__(self) -> None:
        self.registered = False
        self.posted: dict[str, Any] | None = None
        self.headers: list[str] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        header = request.headers.get("Authorization", "")
        self.headers.append(header)
        want = TOKEN_C if self.registered else TOKEN_A
        if header != f"Token {want}":
            return httpx.Response(401, json=envelope(None, code=2000, message="bad token"))
        path = request.url.path.removeprefix("/ocpi")
        if path == "/versions":
            return httpx.Response(
                200, json=envelope([{"version": "2.1.1", "url": f"{PEER}/2.1.1"}])
            )
        if path == "/2.1.1":
            endpoints = [
                {"identifier": "credentials", "url": f"{PEER}/2.1.1/credentials"},
                {"identifier": "locations", "url": f"{PEER}/2.1.1/locations"},
            ]
            return httpx.Response(200, json=envelope({"version": "2.1.1", "endpoints": endpoints}))
        if path == "/2.1.1/credentials" and request.method == "POST":
            self.posted = json.loads(request.content)
            self.registered = True
            body = {
                "token": TOKEN_C,
                "url": f"{PEER}/versions",
                "business_details": {"name": "CPO 211"},
                "party_id": "CPO",
                "country_code": "NL",
            }
            return httpx.Response(200, json=envelope(body))
        if path == "/2.1.1/locations":
            data = [location_211("L1", "E1", "CHARGING"), location_211("L2", "E2", "AVAILABLE")]
            return httpx.Response(200, json=envelope(data), headers={"X-Total-Count": "2"})
        return httpx.Response(404, json=envelope(None, code=2003, message="unknown"))


async def test_handshake_and_pull_in_211() -> None:
    cpo = Cpo211()
    async with OcpiClient(
        f"{PEER}/versions",
        TOKEN_A,
        party=PARTY,
        versions=["2.1.1"],
        token_b="tok-B-211",
        our_versions_url="http://emsp.test/versions",
        transport=httpx.MockTransport(cpo),
    ) as ocpi:
        theirs = await ocpi.handshake()
        assert isinstance(theirs, Credentials211) and theirs.token == TOKEN_C
        assert ocpi.version == "2.1.1"
        assert cpo.posted == {
            "token": "tok-B-211",
            "url": "http://emsp.test/versions",
            "business_details": {"name": "ocpplab-sim eMSP"},
            "party_id": "EMP",
            "country_code": "NL",
        }
        locations = await ocpi.locations()
        assert all(isinstance(loc, Location211) for loc in locations)
        assert await ocpi.evse_statuses() == {"E1": EvseStatus.CHARGING, "E2": EvseStatus.AVAILABLE}
        views = await ocpi.evse_views()
        status, (connector,) = views["E1"]
        assert status is EvseStatus.CHARGING
        # connectors come out under the 2.2.1 names whatever the version
        assert (connector["max_voltage"], connector["max_amperage"]) == (230, 32)
    assert cpo.headers[0] == f"Token {TOKEN_A}"  # raw, not Base64
    assert cpo.headers[-1] == f"Token {TOKEN_C}"


async def test_a_211_peer_is_picked_when_it_is_the_only_common_version() -> None:
    async with OcpiClient(
        f"{PEER}/versions", TOKEN_A, party=PARTY, transport=httpx.MockTransport(Cpo211())
    ) as ocpi:
        # Unpinned, the versions call goes out the 2.2.1 way (Base64), which this peer refuses.
        with pytest.raises(OcpiError, match="HTTP 401"):
            await ocpi.handshake()


async def test_a_pinned_version_the_peer_lacks_is_an_error() -> None:
    def only_221(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=envelope([{"version": "2.2.1", "url": f"{PEER}/2.2.1"}]))

    async with OcpiClient(
        f"{PEER}/versions",
        TOKEN_A,
        party=PARTY,
        versions=["2.1.1"],
        transport=httpx.MockTransport(only_221),
    ) as ocpi:
        with pytest.raises(OcpiError, match=r"offers OCPI \['2.2.1'\]; wanted: \['2.1.1'\]"):
            await ocpi.handshake()


def test_211_dialect_shapes() -> None:
    dialect = DIALECTS["2.1.1"]
    assert dialect.authorization("abc") == "Token abc"
    details = dialect.parse_details(
        {"version": "2.1.1", "endpoints": [{"identifier": "locations", "url": "http://l"}]}
    )
    assert dialect.credentials_endpoint(details) is None
    endpoint = dialect.locations_sender(details)
    assert endpoint is not None and endpoint.url == "http://l"
    with pytest.raises(InputError, match="not supported"):
        OcpiClient("http://x/versions", "t", party=PARTY, versions=["3.0"])
