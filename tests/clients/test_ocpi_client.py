"""OcpiClient against a scripted OCPI 2.2.1 CPO on a mock transport."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from ocpplab_sim.errors import ConnectivityError, InputError, OcpiError
from ocpplab_sim.gateway_client import Party
from ocpplab_sim.ocpi_client import EvseStatus, OcpiClient

from .payloads import Recorder, closed_port, cpo_credentials, envelope, ocpi_location

PEER = "http://cpo.test/ocpi/peer/101"
VERSIONS = f"{PEER}/versions"
TOKEN_A = "tok-A-123"
TOKEN_C = "tok-C-456"
PARTY = Party(country_code="NL", party_id="EMP")


def b64(token: str) -> str:
    return base64.b64encode(token.encode()).decode()


def ok(data: Any, *, headers: dict[str, str] | None = None, status: int = 200) -> httpx.Response:
    return httpx.Response(status, json=envelope(data), headers=headers)


class FakeCpo:
    """Just enough of a 2.2.1 CPO: versions, details, credentials and a paging Locations sender.

    Tokens are checked the 2.2.1 way (Base64 in the header), so a client sending the wrong token
    or encoding gets the 401 a real CPO would give.
    """

    def __init__(self, locations: list[dict[str, Any]] | None = None, *, x_limit: int = 2) -> None:
        self.locations = locations or []
        self.x_limit = x_limit
        self.registered = False
        self.token_b: str | None = None
        self.locations_override: Callable[[httpx.Request], httpx.Response] | None = None
        self.delete_status = 200
        self.refuse_post = False
        self.recorder = Recorder(self.handle)

    def token(self, request: httpx.Request) -> str | None:
        scheme, _, value = request.headers.get("Authorization", "").partition(" ")
        if scheme != "Token":
            return None
        try:
            return base64.b64decode(value, validate=True).decode()
        except ValueError:
            return None

    def handle(self, request: httpx.Request) -> httpx.Response:
        token = self.token(request)
        path = request.url.path.removeprefix("/ocpi/peer/101")
        registration_paths = ("/versions", "/2.2.1", "/2.2.1/credentials")
        allowed = {TOKEN_C} if self.registered else {TOKEN_A}
        if path in registration_paths and request.method != "DELETE":
            if token not in allowed:
                return httpx.Response(401, json=envelope(None, code=2000, message="bad token"))
        elif not self.registered or token != TOKEN_C:
            return httpx.Response(401, json=envelope(None, code=2000, message="bad token"))

        if path == "/versions":
            return ok(
                [
                    {"version": "2.1.1", "url": f"{PEER}/2.1.1"},
                    {"version": "2.2.1", "url": f"{PEER}/2.2.1"},
                ]
            )
        if path == "/2.2.1":
            return ok(
                {
                    "version": "2.2.1",
                    "endpoints": [
                        {
                            "identifier": "credentials",
                            "role": "RECEIVER",
                            "url": f"{PEER}/2.2.1/credentials",
                        },
                        {
                            "identifier": "locations",
                            "role": "SENDER",
                            "url": f"{PEER}/2.2.1/locations",
                        },
                    ],
                }
            )
        if path == "/2.2.1/credentials":
            if request.method == "POST":
                if self.registered or self.refuse_post:
                    return httpx.Response(405)
                self.token_b = json.loads(request.content)["token"]
                self.registered = True
                return ok(cpo_credentials(TOKEN_C, VERSIONS))
            if request.method == "DELETE":
                self.registered = False
                return httpx.Response(self.delete_status, json=envelope(None))
        if path == "/2.2.1/locations":
            if self.locations_override:
                return self.locations_override(request)
            return self.page(request)
        if path.startswith("/2.2.1/locations/"):
            parts = path.split("/")[3:]
            for loc in self.locations:
                if loc["id"] == parts[0]:
                    if len(parts) == 1:
                        return ok(loc)
                    for evse in loc["evses"]:
                        if evse["uid"] == parts[1]:
                            return ok(evse)
            return httpx.Response(404, json=envelope(None, code=2003, message="Unknown location"))
        return httpx.Response(404)

    def page(self, request: httpx.Request) -> httpx.Response:
        offset = int(request.url.params.get("offset", 0))
        limit = min(int(request.url.params.get("limit", self.x_limit)), self.x_limit)
        chunk = self.locations[offset : offset + limit]
        headers = {"X-Total-Count": str(len(self.locations)), "X-Limit": str(self.x_limit)}
        if offset + limit < len(self.locations):
            headers["Link"] = (
                f'<{PEER}/2.2.1/locations?offset={offset + limit}&limit={limit}>; rel="next"'
            )
        return ok(chunk, headers=headers)


def five_locations() -> list[dict[str, Any]]:
    return [
        ocpi_location("L1", [("E1", "AVAILABLE"), ("E2", "CHARGING")]),
        ocpi_location("L2", [("E3", "UNKNOWN")]),
        ocpi_location("L3", []),
        ocpi_location("L4", [("E4", "OUTOFORDER")]),
        ocpi_location("L5", [("E5", "INOPERATIVE")]),
    ]


def client(cpo: FakeCpo, **kwargs: Any) -> OcpiClient:
    return OcpiClient(VERSIONS, TOKEN_A, party=PARTY, transport=cpo.recorder.transport, **kwargs)


# -- handshake ------------------------------------------------------------------------------------


async def test_handshake_sends_base64_token_a_then_uses_token_c() -> None:
    cpo = FakeCpo(five_locations())
    async with client(cpo, our_versions_url="http://emsp.test/versions") as ocpi:
        theirs = await ocpi.handshake()
        await ocpi.location("L1")

    assert theirs.token == TOKEN_C
    assert theirs.roles[0].role == "CPO"
    assert ocpi.version == "2.2.1"
    requests = cpo.recorder.requests
    assert [(r.method, r.url.path) for r in requests] == [
        ("GET", "/ocpi/peer/101/versions"),
        ("GET", "/ocpi/peer/101/2.2.1"),
        ("POST", "/ocpi/peer/101/2.2.1/credentials"),
        ("GET", "/ocpi/peer/101/2.2.1/locations/L1"),
    ]
    assert [r.headers["Authorization"] for r in requests] == [
        f"Token {b64(TOKEN_A)}",
        f"Token {b64(TOKEN_A)}",
        f"Token {b64(TOKEN_A)}",
        f"Token {b64(TOKEN_C)}",
    ]
    body = json.loads(requests[2].content)
    assert body["token"] == ocpi.token_b == cpo.token_b
    assert body["token"] not in (TOKEN_A, TOKEN_C)
    assert len(body["token"]) >= 32
    assert body["url"] == "http://emsp.test/versions"
    assert body["roles"] == [
        {
            "role": "EMSP",
            "business_details": {"name": "ocpplab-sim eMSP"},
            "party_id": "EMP",
            "country_code": "NL",
        }
    ]
    request_ids = [r.headers["X-Request-ID"] for r in requests]
    assert len(set(request_ids)) == len(requests)
    handshake_correlations = {r.headers["X-Correlation-ID"] for r in requests[:3]}
    assert len(handshake_correlations) == 1
    assert requests[3].headers["X-Correlation-ID"] not in handshake_correlations


async def test_each_handshake_generates_a_new_token_b() -> None:
    tokens = []
    for _ in range(2):
        cpo = FakeCpo()
        async with client(cpo) as ocpi:
            await ocpi.handshake()
            tokens.append(ocpi.token_b)
    assert tokens[0] != tokens[1]


async def test_handshake_405_says_already_registered() -> None:
    cpo = FakeCpo()
    cpo.refuse_post = True
    async with client(cpo) as ocpi:
        with pytest.raises(OcpiError, match="already registered") as ei:
            await ocpi.handshake()
    assert ei.value.status_code == 405
    assert not ocpi.registered
    assert ocpi.token_c is None


async def test_handshake_without_a_common_version_fails() -> None:
    def handler(_request: httpx.Request) -> httpx.Response:
        return ok([{"version": "2.0", "url": f"{PEER}/2.0"}])

    rec = Recorder(handler)
    async with OcpiClient(VERSIONS, TOKEN_A, party=PARTY, transport=rec.transport) as ocpi:
        with pytest.raises(OcpiError, match=r"offers OCPI \['2.0'\]"):
            await ocpi.handshake()
    assert len(rec.requests) == 1


async def test_wrong_token_a_is_reported_as_refused() -> None:
    cpo = FakeCpo()
    async with OcpiClient(
        VERSIONS, "not-token-a", party=PARTY, transport=cpo.recorder.transport
    ) as ocpi:
        with pytest.raises(
            OcpiError, match=r"HTTP 401: the peer refused the token \(token A\)"
        ) as ei:
            await ocpi.handshake()
    assert ei.value.status_code == 401


def test_party_must_be_an_ocpi_party() -> None:
    with pytest.raises(InputError, match="3-character party id"):
        OcpiClient(VERSIONS, TOKEN_A, party=Party(country_code="NL", party_id="TOOLONG"))


async def test_calls_before_handshake_are_refused_without_sending() -> None:
    cpo = FakeCpo(five_locations())
    async with client(cpo) as ocpi:
        with pytest.raises(OcpiError, match="handshake"):
            await ocpi.locations()
    assert cpo.recorder.requests == []


# -- locations ------------------------------------------------------------------------------------


async def test_locations_follow_link_headers_at_the_peer_limit() -> None:
    cpo = FakeCpo(five_locations(), x_limit=2)
    async with client(cpo) as ocpi:
        await ocpi.handshake()
        locations = await ocpi.locations(limit=10)
    assert [loc.id for loc in locations] == ["L1", "L2", "L3", "L4", "L5"]
    pages = [r for r in cpo.recorder.requests if r.url.path.endswith("/locations")]
    assert [r.url.params["offset"] for r in pages] == ["0", "2", "4"]
    assert pages[0].url.params["limit"] == "10"
    assert all(r.headers["Authorization"] == f"Token {b64(TOKEN_C)}" for r in pages)
    assert len({r.headers["X-Correlation-ID"] for r in pages}) == 1
    assert locations[0].evses[1].status is EvseStatus.CHARGING
    assert locations[0].coordinates.latitude == "48.856600"


async def test_evse_statuses_from_one_pull() -> None:
    cpo = FakeCpo(five_locations())
    async with client(cpo) as ocpi:
        await ocpi.handshake()
        statuses = await ocpi.evse_statuses()
    assert statuses == {
        "E1": EvseStatus.AVAILABLE,
        "E2": EvseStatus.CHARGING,
        "E3": EvseStatus.UNKNOWN,
        "E4": EvseStatus.OUTOFORDER,
        "E5": EvseStatus.INOPERATIVE,
    }


async def test_link_that_loops_stops_with_an_error() -> None:
    cpo = FakeCpo(five_locations())

    def looping(request: httpx.Request) -> httpx.Response:
        offset = int(request.url.params["offset"])
        back = 2 if offset == 0 else 0
        headers = {"Link": f'<{PEER}/2.2.1/locations?offset={back}>; rel="next"'}
        return ok(cpo.locations[offset : offset + 2], headers=headers)

    cpo.locations_override = looping
    async with client(cpo) as ocpi:
        await ocpi.handshake()
        with pytest.raises(OcpiError, match="loops back to"):
            await ocpi.locations()
    assert sum(r.url.path.endswith("/locations") for r in cpo.recorder.requests) == 2


async def test_link_with_repeated_locations_stops_with_an_error() -> None:
    cpo = FakeCpo(five_locations())

    def stuck(request: httpx.Request) -> httpx.Response:
        # A different URL every time, but the server ignores the offset.
        nxt = int(request.url.params["offset"]) + 2
        headers = {"Link": f'<{PEER}/2.2.1/locations?offset={nxt}>; rel="next"'}
        return ok(cpo.locations[:2], headers=headers)

    cpo.locations_override = stuck
    async with client(cpo) as ocpi:
        await ocpi.handshake()
        with pytest.raises(OcpiError, match="location 'L1' repeats"):
            await ocpi.locations()


@pytest.mark.parametrize(
    ("headers", "max_pages", "expected_pages"),
    [
        # 4 locations at 2 per page → 2 pages plus one of slack.
        ({"X-Total-Count": "4", "X-Limit": "2"}, 1000, 3),
        # Without paging headers only max_pages bounds the walk.
        ({}, 5, 5),
    ],
)
async def test_endless_link_chain_is_cut(
    headers: dict[str, str], max_pages: int, expected_pages: int
) -> None:
    cpo = FakeCpo()

    def endless(request: httpx.Request) -> httpx.Response:
        offset = int(request.url.params["offset"])
        link = {"Link": f'<{PEER}/2.2.1/locations?offset={offset + 2}>; rel="next"'}
        data = [ocpi_location(f"X{offset + n}") for n in range(2)]
        return ok(data, headers=headers | link)

    cpo.locations_override = endless
    async with client(cpo, max_pages=max_pages) as ocpi:
        await ocpi.handshake()
        with pytest.raises(OcpiError, match="giving up"):
            await ocpi.locations()
    assert sum(r.url.path.endswith("/locations") for r in cpo.recorder.requests) == expected_pages


async def test_links_ending_before_total_is_an_error() -> None:
    cpo = FakeCpo(five_locations())
    cpo.locations_override = lambda _r: ok(cpo.locations[:2], headers={"X-Total-Count": "5"})
    async with client(cpo) as ocpi:
        await ocpi.handshake()
        with pytest.raises(OcpiError, match="no next link after 2 of 5"):
            await ocpi.locations()


async def test_location_and_evse_objects() -> None:
    cpo = FakeCpo(five_locations())
    async with client(cpo) as ocpi:
        await ocpi.handshake()
        loc = await ocpi.location("L4")
        evse = await ocpi.evse("L1", "E2")
    assert loc.id == "L4"
    assert [e.uid for e in loc.evses] == ["E4"]
    assert evse.uid == "E2"
    assert evse.status is EvseStatus.CHARGING
    assert cpo.recorder.requests[-1].url.path == "/ocpi/peer/101/2.2.1/locations/L1/E2"


# -- envelope and error translation ---------------------------------------------------------------


async def test_unknown_location_is_status_2003() -> None:
    cpo = FakeCpo(five_locations())
    async with client(cpo) as ocpi:
        await ocpi.handshake()
        with pytest.raises(OcpiError, match="OCPI status_code 2003: Unknown location") as ei:
            await ocpi.location("NOPE")
    assert ei.value.status_code == 2003


async def test_status_code_2001_in_a_200_envelope_is_an_error() -> None:
    cpo = FakeCpo()
    cpo.locations_override = lambda _r: httpx.Response(
        200, json=envelope(None, code=2001, message="Invalid or missing parameters")
    )
    async with client(cpo) as ocpi:
        await ocpi.handshake()
        with pytest.raises(OcpiError) as ei:
            await ocpi.locations()
    assert ei.value.status_code == 2001
    assert "2001: Invalid or missing parameters" in str(ei.value)


@pytest.mark.parametrize(
    ("response", "match"),
    [
        (httpx.Response(200, text="<html>"), "not an OCPI response envelope"),
        (httpx.Response(200, json={"data": []}), "status_code: Field required"),
        (httpx.Response(503, text="maintenance"), "HTTP 503: maintenance"),
        (
            httpx.Response(200, json=envelope([{"id": "L1", "country_code": "FR"}])),
            r"unexpected data: 0\.party_id: Field required",
        ),
        (httpx.Response(200, json=envelope({"not": "a list"})), "unexpected data"),
    ],
)
async def test_malformed_answers_are_ocpi_errors(response: httpx.Response, match: str) -> None:
    cpo = FakeCpo()
    cpo.locations_override = lambda _r: response
    async with client(cpo) as ocpi:
        await ocpi.handshake()
        with pytest.raises(OcpiError, match=match) as ei:
            await ocpi.locations()
    assert "\n" not in str(ei.value)


async def test_numbers_as_coordinates_are_refused() -> None:
    cpo = FakeCpo()
    bad = ocpi_location("L1")
    bad["coordinates"] = {"latitude": 48.8566, "longitude": 2.3522}
    cpo.locations_override = lambda _r: ok([bad])
    async with client(cpo) as ocpi:
        await ocpi.handshake()
        with pytest.raises(OcpiError, match=r"coordinates\.latitude"):
            await ocpi.locations()


async def test_connection_refused_is_an_ocpi_error() -> None:
    url = f"http://127.0.0.1:{closed_port()}/ocpi/versions"
    async with OcpiClient(url, TOKEN_A, party=PARTY, timeout_s=2.0) as ocpi:
        with pytest.raises(OcpiError, match=r"unreachable at http://127\.0\.0\.1:\d+") as ei:
            await ocpi.handshake()
    assert isinstance(ei.value, ConnectivityError)
    assert isinstance(ei.value.__cause__, httpx.ConnectError)


# -- closing --------------------------------------------------------------------------------------


async def test_close_registration_deletes_with_token_c_once() -> None:
    cpo = FakeCpo(five_locations())
    async with client(cpo) as ocpi:
        await ocpi.handshake()
        await ocpi.close_registration()
        await ocpi.close_registration()
        assert not ocpi.registered
        assert ocpi.token_c is None
        with pytest.raises(OcpiError, match="not registered"):
            await ocpi.locations()
    deletes = [r for r in cpo.recorder.requests if r.method == "DELETE"]
    assert len(deletes) == 1
    assert deletes[0].headers["Authorization"] == f"Token {b64(TOKEN_C)}"
    assert not cpo.registered


async def test_close_registration_without_handshake_sends_nothing() -> None:
    cpo = FakeCpo()
    async with client(cpo) as ocpi:
        await ocpi.close_registration()
    assert cpo.recorder.requests == []


@pytest.mark.parametrize("status", [401, 404, 405])
async def test_close_registration_tolerates_a_void_registration(status: int) -> None:
    cpo = FakeCpo()
    cpo.delete_status = status
    async with client(cpo) as ocpi:
        await ocpi.handshake()
        await ocpi.close_registration()
    assert not ocpi.registered


async def test_close_registration_reports_other_failures() -> None:
    cpo = FakeCpo()
    cpo.delete_status = 500
    async with client(cpo) as ocpi:
        await ocpi.handshake()
        with pytest.raises(OcpiError, match="HTTP 500"):
            await ocpi.close_registration()
    assert not ocpi.registered
