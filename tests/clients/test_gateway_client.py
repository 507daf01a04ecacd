"""GatewayClient against a mock transport: requests sent, bodies parsed, errors translated."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from pydantic import ValidationError

from ocpplab_sim.errors import (
    ConnectivityError,
    GatewayApiError,
    GatewayUnreachable,
    ProvisioningError,
)
from ocpplab_sim.gateway_client import GatewayClient, Party

from .payloads import (
    GATEWAY,
    TOKEN,
    Recorder,
    closed_port,
    cpo_payload,
    location_list,
    location_payload,
    report_payload,
    status_payload,
)

Handler = Callable[[httpx.Request], httpx.Response]


def client_for(handler: Handler) -> tuple[GatewayClient, Recorder]:
    recorder = Recorder(handler)
    return GatewayClient(GATEWAY, TOKEN, transport=recorder.transport), recorder


def answer(status: int, body: Any) -> Handler:
    return lambda _request: httpx.Response(status, json=body)


# -- happy paths ----------------------------------------------------------------------------------


async def test_create_cpo_sends_only_given_fields_and_parses_token_a() -> None:
    gw, rec = client_for(answer(202, cpo_payload("101", created=True)))
    async with gw:
        cpo = await gw.create_cpo(
            "small-urban-ac", Party(country_code="FR", party_id="ABC"), name_prefix="demo"
        )
    (request,) = rec.requests
    assert request.method == "POST"
    assert request.url == f"{GATEWAY}/ocpi/cpos"
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert json.loads(request.content) == {
        "template": "small-urban-ac",
        "party": {"country_code": "FR", "party_id": "ABC"},
        "name_prefix": "demo",
    }
    assert cpo.cpo_id == "101"
    assert cpo.token_a == "tok-A-123"
    assert cpo.roam_helper is not None
    assert cpo.roam_helper.versions_url == cpo.ocpi_peer_url
    assert cpo.status == "pending"


async def test_create_cpo_passes_idempotency_key_and_mapping_profile() -> None:
    gw, rec = client_for(answer(202, cpo_payload("7", created=True)))
    async with gw:
        await gw.create_cpo(
            "t", Party(country_code="DE", party_id="XYZ"), idempotency_key="k1", mapping_profile="p"
        )
    body = rec.bodies()[0]
    assert body["idempotency_key"] == "k1"
    assert body["mapping_profile"] == "p"
    assert "name_prefix" not in body


async def test_get_cpo_parses_the_reference_example() -> None:
    gw, rec = client_for(answer(200, cpo_payload("101")))
    async with gw:
        cpo = await gw.get_cpo("101")
    assert rec.requests[0].url.path == "/ocpi/cpos/101"
    assert cpo.token_a is None
    assert cpo.roam_helper is None
    assert cpo.party.role == "CPO"
    assert cpo.topology.evses == 6
    assert cpo.template_version == 1
    assert cpo.expires_at is not None
    assert cpo.expires_at.isoformat() == "2026-04-21T21:00:00+00:00"


async def test_unknown_fields_are_tolerated() -> None:
    body = cpo_payload("5")
    body["brand_new_field"] = {"x": 1}
    body["party"]["extra"] = True
    gw, _ = client_for(answer(200, body))
    async with gw:
        assert (await gw.get_cpo("5")).cpo_id == "5"


async def test_list_cpos_sends_page_and_limit() -> None:
    page = {"data": [cpo_payload("1"), cpo_payload("2")], "total": 12, "page": 2, "limit": 2}
    gw, rec = client_for(answer(200, page))
    async with gw:
        result = await gw.list_cpos(page=2, limit=2)
    assert dict(rec.requests[0].url.params) == {"page": "2", "limit": "2"}
    assert [c.cpo_id for c in result.data] == ["1", "2"]
    assert result.total == 12


async def test_report_is_parsed() -> None:
    gw, rec = client_for(answer(200, report_payload("101")))
    async with gw:
        report = await gw.report("101")
    assert rec.requests[0].url.path == "/ocpi/cpos/101/report"
    assert report.evses[0].ocpi_status == "CHARGING"
    assert [h.ocpi_status for h in report.evses[0].history] == ["UNKNOWN", "CHARGING"]
    assert report.messages["StatusNotification"] == 3
    assert report.transactions[0].transaction_id == 7
    assert report.transactions[0].stopped_at is None


async def test_delete_cpo_succeeds_on_204_and_on_404() -> None:
    gw, rec = client_for(lambda _r: httpx.Response(204))
    async with gw:
        await gw.delete_cpo("101")
    assert rec.requests[0].method == "DELETE"
    gw, _ = client_for(answer(404, {"detail": "CPO not found"}))
    async with gw:
        await gw.delete_cpo("101")


async def test_delete_cpo_raises_on_other_errors() -> None:
    gw, _ = client_for(answer(500, {"detail": "boom"}))
    async with gw:
        with pytest.raises(GatewayApiError, match="DELETE /ocpi/cpos/101 → 500: boom"):
            await gw.delete_cpo("101")


async def test_ids_are_quoted_into_one_path_segment() -> None:
    gw, rec = client_for(answer(404, {"detail": "nope"}))
    async with gw:
        with pytest.raises(GatewayApiError):
            await gw.get_cpo("../admin")
    assert rec.requests[0].url.raw_path == b"/ocpi/cpos/..%2Fadmin"


# -- error translation ----------------------------------------------------------------------------


async def test_connection_refused_is_gateway_unreachable_naming_the_url() -> None:
    url = f"http://127.0.0.1:{closed_port()}"
    async with GatewayClient(url, TOKEN, timeout_s=2.0) as gw:
        with pytest.raises(GatewayUnreachable, match=r"127\.0\.0\.1:\d+/ocpi/cpos/1/status") as ei:
            await gw.cpo_status("1")
    assert isinstance(ei.value, ConnectivityError)
    assert isinstance(ei.value.__cause__, httpx.ConnectError)


async def test_timeout_is_gateway_unreachable() -> None:
    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    gw, _ = client_for(slow)
    async with gw:
        with pytest.raises(GatewayUnreachable, match="ReadTimeout"):
            await gw.get_cpo("1")


@pytest.mark.parametrize(
    ("status", "detail", "expected"),
    [
        (401, "Not authenticated", "GET /ocpi/cpos/9 → 401: Not authenticated"),
        (404, "CPO 9 not found", "GET /ocpi/cpos/9 → 404: CPO 9 not found"),
        (
            422,
            [{"loc": ["path", "cpo_id"], "msg": "String should match pattern", "type": "x"}],
            "GET /ocpi/cpos/9 → 422: cpo_id: String should match pattern",
        ),
    ],
)
async def test_http_errors_become_readable_gateway_api_errors(
    status: int, detail: object, expected: str
) -> None:
    gw, _ = client_for(answer(status, {"detail": detail}))
    async with gw:
        with pytest.raises(GatewayApiError) as ei:
            await gw.get_cpo("9")
    assert str(ei.value) == expected
    assert ei.value.status_code == status
    assert ei.value.detail == detail


async def test_422_on_create_lists_every_field() -> None:
    detail = [
        {"loc": ["body", "party", "country_code"], "msg": "Field required", "type": "missing"},
        {"loc": ["body", "template"], "msg": "unknown template 'x'", "type": "value_error"},
    ]
    gw, _ = client_for(answer(422, {"detail": detail}))
    async with gw:
        with pytest.raises(GatewayApiError) as ei:
            await gw.create_cpo("x", Party(country_code="FR", party_id="ABC"))
    assert str(ei.value) == (
        "POST /ocpi/cpos → 422: party.country_code: Field required; template: unknown template 'x'"
    )


async def test_non_json_error_body_is_kept_as_text() -> None:
    gw, _ = client_for(lambda _r: httpx.Response(502, text="Bad Gateway from proxy"))
    async with gw:
        with pytest.raises(GatewayApiError, match="→ 502: Bad Gateway from proxy"):
            await gw.list_cpos()


async def test_body_missing_required_field_is_gateway_api_error_not_pydantic() -> None:
    body = cpo_payload("101")
    del body["topology"]
    body["template_version"] = "one"
    gw, _ = client_for(answer(200, body))
    async with gw:
        with pytest.raises(GatewayApiError) as ei:
            await gw.get_cpo("101")
    message = str(ei.value)
    assert message.startswith("GET /ocpi/cpos/101 → 200: body is not a valid Cpo:")
    assert "topology: Field required" in message
    assert "template_version" in message
    assert "\n" not in message
    assert isinstance(ei.value.__cause__, ValidationError)


async def test_body_that_is_not_json_is_gateway_api_error() -> None:
    gw, _ = client_for(lambda _r: httpx.Response(200, text="<html>login</html>"))
    async with gw:
        with pytest.raises(GatewayApiError, match="not a valid CpoStatus"):
            await gw.cpo_status("1")


async def test_unknown_provisioning_state_is_rejected() -> None:
    gw, _ = client_for(answer(200, status_payload("exploded")))
    async with gw:
        with pytest.raises(GatewayApiError, match="status"):
            await gw.cpo_status("101")


# -- wait_ready -----------------------------------------------------------------------------------


def status_sequence(*states: str, error: str | None = None) -> Handler:
    """Answer the states in order, then repeat the last one."""
    remaining = list(states)

    def handler(_request: httpx.Request) -> httpx.Response:
        state = remaining.pop(0) if len(remaining) > 1 else remaining[0]
        return httpx.Response(200, json=status_payload(state, error=error))

    return handler


async def test_wait_ready_polls_until_ready() -> None:
    gw, rec = client_for(status_sequence("pending", "provisioning", "provisioning", "ready"))
    async with gw:
        status = await gw.wait_ready("101", timeout_s=5, poll_s=0)
    assert status.status == "ready"
    assert len(rec.requests) == 4
    assert {r.url.path for r in rec.requests} == {"/ocpi/cpos/101/status"}


async def test_wait_ready_raises_on_failed_with_the_reason() -> None:
    gw, rec = client_for(status_sequence("provisioning", "failed", error="template exploded"))
    async with gw:
        with pytest.raises(ProvisioningError) as ei:
            await gw.wait_ready("101", timeout_s=5, poll_s=0)
    assert "failed" in str(ei.value)
    assert "template exploded" in str(ei.value)
    assert len(rec.requests) == 2


async def test_wait_ready_times_out_naming_the_last_status() -> None:
    gw, rec = client_for(status_sequence("provisioning"))
    async with gw:
        with pytest.raises(ProvisioningError) as ei:
            await gw.wait_ready("101", timeout_s=0.05, poll_s=0.01)
    assert "timed out" in str(ei.value)
    assert "last status: provisioning" in str(ei.value)
    assert len(rec.requests) >= 2


# -- location paging ------------------------------------------------------------------------------


def paged_locations(ids: list[str]) -> Handler:
    """A well-behaved server paging ``ids`` by ``page``/``limit``."""

    def handler(request: httpx.Request) -> httpx.Response:
        page = int(request.url.params["page"])
        limit = int(request.url.params["limit"])
        chunk = ids[(page - 1) * limit : page * limit]
        body = location_list(
            [location_payload(i) for i in chunk], total=len(ids), page=page, limit=limit
        )
        return httpx.Response(200, json=body)

    return handler


async def test_iter_locations_walks_three_pages_in_order() -> None:
    ids = ["L1", "L2", "L3", "L4", "L5"]
    gw, rec = client_for(paged_locations(ids))
    async with gw:
        got = [loc.id async for loc in gw.iter_locations("101", limit=2)]
    assert got == ids
    assert [r.url.params["page"] for r in rec.requests] == ["1", "2", "3"]
    assert {r.url.path for r in rec.requests} == {"/ocpi/cpos/101/locations"}


async def test_iter_locations_with_no_locations_makes_one_request() -> None:
    gw, rec = client_for(paged_locations([]))
    async with gw:
        assert [loc async for loc in gw.iter_locations("101")] == []
    assert len(rec.requests) == 1


async def test_iter_locations_stops_when_server_ignores_page() -> None:
    body = location_list([location_payload("L1"), location_payload("L2")], total=9, page=1, limit=2)
    gw, rec = client_for(answer(200, body))
    async with gw:
        with pytest.raises(GatewayApiError, match="repeats location 'L1'"):
            [loc async for loc in gw.iter_locations("101", limit=2)]
    assert len(rec.requests) == 2


async def test_iter_locations_stops_when_server_never_ends() -> None:
    def endless(request: httpx.Request) -> httpx.Response:
        page = int(request.url.params["page"])
        # Fresh locations on every page and a total that keeps moving away.
        data = [location_payload(f"P{page}-{n}") for n in range(2)]
        return httpx.Response(200, json=location_list(data, total=4 + 2 * page, page=page, limit=2))

    gw, rec = client_for(endless)
    async with gw:
        with pytest.raises(GatewayApiError, match="giving up"):
            [loc async for loc in gw.iter_locations("101", limit=2)]
    # total was 6 on page 1 → 3 pages + 1 of slack.
    assert len(rec.requests) == 4


async def test_iter_locations_flags_an_empty_page_before_total() -> None:
    def short(request: httpx.Request) -> httpx.Response:
        page = int(request.url.params["page"])
        data = [location_payload("L1")] if page == 1 else []
        return httpx.Response(200, json=location_list(data, total=3, page=page, limit=1))

    gw, _ = client_for(short)
    async with gw:
        with pytest.raises(GatewayApiError, match="empty after 1 of 3"):
            [loc async for loc in gw.iter_locations("101", limit=1)]


async def test_command_posts_the_call_and_parses_the_result() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        assert request.url.raw_path == b"/ocpi/cpos/7/chargers/CP%2F1/commands"
        assert json.loads(request.content) == {
            "action": "Reset",
            "payload": {"type": "Soft"},
            "timeout_s": 5,
        }
        body = {
            "command_id": 1,
            "station_id": "CP/1",
            "action": "Reset",
            "payload": {"type": "Soft"},
            "status": "answered",
            "message_id": "m1",
            "response": {"status": "Accepted"},
            "response_valid": True,
            "error": None,
            "sent_at": "2025-01-01T00:00:00Z",
            "answered_at": "2025-01-01T00:00:01Z",
        }
        return httpx.Response(200, json=body)

    client, _ = client_for(handler)
    async with client:
        result = await client.command("7", "CP/1", "Reset", {"type": "Soft"}, timeout_s=5)
    assert result.status == "answered"
    assert result.response == {"status": "Accepted"}


async def test_command_refused_by_the_gateway_is_a_422_gateway_api_error() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        detail = [{"loc": ["body", "action"], "msg": "not a 1.6 operation", "type": "value_error"}]
        return httpx.Response(422, json={"detail": detail})

    client, _ = client_for(handler)
    async with client:
        with pytest.raises(GatewayApiError) as caught:
            await client.command("7", "CP1", "RequestStartTransaction", {})
    assert caught.value.status_code == 422
    assert "action: not a 1.6 operation" in str(caught.value)


async def test_chargers_carry_the_security_profile_credentials() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/ocpi/cpos/7/chargers"
        charger = {
            "identity": "CP1",
            "location_id": "7-L1",
            "ocpp_version": "1.6",
            "evse_uids": ["7-L1-01"],
            "security_profile": 1,
            "username": "CP1",
            "password": "p" * 32,
            "ocpp_path": "/ocpp/CP1",
            "online": False,
        }
        return httpx.Response(200, json={"data": [charger]})

    client, _ = client_for(handler)
    async with client:
        (charger,) = await client.chargers("7")
    assert (charger.security_profile, charger.password) == (1, "p" * 32)


async def test_create_cpo_sends_the_security_profile_when_given() -> None:
    sent: list[dict[str, Any]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(json.loads(request.content))
        return httpx.Response(202, json=cpo_payload())

    client, _ = client_for(handler)
    async with client:
        await client.create_cpo("t", Party(country_code="FR", party_id="ABC"))
        await client.create_cpo(
            "t", Party(country_code="FR", party_id="ABC"), ocpp_security_profile=1
        )
    assert "ocpp_security_profile" not in sent[0]
    assert sent[1]["ocpp_security_profile"] == 1


async def test_create_cpo_sends_template_params_only_when_given() -> None:
    sent: list[dict[str, Any]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(json.loads(request.content))
        return httpx.Response(202, json=cpo_payload())

    client, _ = client_for(handler)
    async with client:
        await client.create_cpo("large-network", Party(country_code="FR", party_id="ABC"))
        await client.create_cpo(
            "large-network",
            Party(country_code="FR", party_id="ABC"),
            template_params={"locations": 3, "chargers_per_location": 4},
        )
    assert "template_params" not in sent[0]
    assert sent[1]["template_params"] == {"locations": 3, "chargers_per_location": 4}


def test_csms_url_follows_the_gateway_url() -> None:
    from ocpplab_sim.gateway_client import csms_url_for

    assert csms_url_for("http://127.0.0.1:8080") == "ws://127.0.0.1:8080/ocpp"
    assert csms_url_for("https://gw.example.test/base/") == "wss://gw.example.test/base/ocpp"
