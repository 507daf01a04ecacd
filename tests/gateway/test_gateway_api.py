"""Gateway API over real HTTP against an EmbeddedGateway on port 0."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import httpx
import pytest

from ocpplab_sim.gateway import EmbeddedGateway

from .support import FIXTURES, assert_utc_timestamp, fixture_validator, provision, wait_until

CPO = fixture_validator("gateway-api.schema.json", "Cpo")
LOCATIONS = fixture_validator("gateway-api.schema.json", "OcpiLocationListResponse")
VALIDATION_ERROR = fixture_validator("gateway-api.schema.json", "HTTPValidationError")
HTTP_ERROR = fixture_validator("gateway-api.schema.json", "HttpErrorResponse")


async def test_create_poll_get_list_lifecycle(client: httpx.AsyncClient, gateway: EmbeddedGateway):
    response = await client.post(
        "/ocpi/cpos",
        json={
            "template": "small-urban-ac",
            "party": {"country_code": "FR", "party_id": "ABC"},
            "name_prefix": "demo",
        },
    )
    assert response.status_code == 202
    created = response.json()
    CPO.validate(created)
    cpo_id = created["cpo_id"]
    assert created["status"] in ("pending", "provisioning", "ready")
    assert created["party"] == {"country_code": "FR", "party_id": "ABC", "role": "CPO"}
    assert created["template"] == "small-urban-ac" and created["template_version"] == 1
    assert created["topology"] == {"locations": 2, "chargers": 6, "evses": 6, "connectors": 6}
    assert created["ocpi_peer_url"] == f"{gateway.url}/ocpi/peer/{cpo_id}/versions"
    assert created["report_url"] == f"/ocpi/cpos/{cpo_id}/report"
    assert created["destroy_url"] == f"/ocpi/cpos/{cpo_id}"
    assert isinstance(created["token_a"], str) and len(created["token_a"]) >= 32
    assert created["roam_helper"] == {
        "versions_url": created["ocpi_peer_url"],
        "token_a": created["token_a"],
        "party": created["party"],
        "ocpi_version": "2.2.1",
    }
    created_at = assert_utc_timestamp(created["created_at"])
    expires_at = assert_utc_timestamp(created["expires_at"])
    assert expires_at - created_at == timedelta(seconds=3600)

    async def status() -> dict[str, Any]:
        return (await client.get(f"/ocpi/cpos/{cpo_id}/status")).json()

    final = await wait_until(status, lambda s: s["status"] in ("ready", "failed"))
    assert final == {
        "cpo_id": cpo_id,
        "status": "ready",
        "error": None,
        "updated_at": final["updated_at"],
    }
    assert_utc_timestamp(final["updated_at"])

    got = (await client.get(f"/ocpi/cpos/{cpo_id}")).json()
    CPO.validate(got)
    assert got["token_a"] is None and got["roam_helper"] is None
    assert got["status"] == "ready"
    assert {
        k: v for k, v in got.items() if k not in ("token_a", "roam_helper", "status", "updated_at")
    } == {
        k: v
        for k, v in created.items()
        if k not in ("token_a", "roam_helper", "status", "updated_at")
    }

    second = await provision(client, "highway-dc", name_prefix="hw")
    listing = (await client.get("/ocpi/cpos", params={"page": 1, "limit": 1})).json()
    assert listing["total"] == 2 and listing["page"] == 1 and listing["limit"] == 1
    assert [c["cpo_id"] for c in listing["data"]] == [cpo_id]
    page2 = (await client.get("/ocpi/cpos", params={"page": 2, "limit": 1})).json()
    assert [c["cpo_id"] for c in page2["data"]] == [second["cpo_id"]]
    for item in listing["data"] + page2["data"]:
        CPO.validate(item)
        assert item["token_a"] is None


async def test_locations_pagination_and_shapes(client: httpx.AsyncClient):
    cpo = await provision(client, "small-urban-ac", name_prefix="pg")
    cpo_id = cpo["cpo_id"]
    everything = (await client.get(f"/ocpi/cpos/{cpo_id}/locations")).json()
    LOCATIONS.validate(everything)
    assert everything["total"] == 2 and everything["page"] == 1 and everything["limit"] == 50
    assert [loc["id"] for loc in everything["data"]] == [f"{cpo_id}-L1", f"{cpo_id}-L2"]

    pages = []
    for page in (1, 2, 3):
        body = (
            await client.get(f"/ocpi/cpos/{cpo_id}/locations", params={"page": page, "limit": 1})
        ).json()
        LOCATIONS.validate(body)
        assert (body["total"], body["page"], body["limit"]) == (2, page, 1)
        pages.append(body["data"])
    assert [len(p) for p in pages] == [1, 1, 0]
    assert pages[0] + pages[1] == everything["data"]

    identities = set()
    for loc in everything["data"]:
        assert loc["country"] == "FRA" and loc["timezone"] == "Europe/Paris"
        assert loc["public"] is True and loc["organization_id"] == cpo_id
        assert -90 <= loc["coordinates"]["latitude"] <= 90
        assert_utc_timestamp(loc["created_at"])
        assert len(loc["chargers"]) == 3
        for index, charger in enumerate(loc["chargers"]):
            assert charger["ocpp_version"] == "1.6"
            assert charger["connector_type"] == "IEC_62196_T2"
            assert charger["identity"] == f"pg-{cpo_id}-{loc['id'].split('-')[1]}-{index + 1:02d}"
            assert (charger["topology_default_id"] is not None) == (index == 0)
            (evse,) = charger["evses"]
            assert evse["ocpi_connector_id"] == "1"
            assert evse["ocpi_evse_id"].startswith(f"FR*ABC*E{cpo_id}")
            assert "_C" not in evse["evse_uid"] and evse["topology_id"] is not None
            identities.add(charger["identity"])
    assert len(identities) == 6


async def test_highway_multi_connector_evses_are_ordered(client: httpx.AsyncClient):
    cpo = await provision(client, "highway-dc")
    body = (await client.get(f"/ocpi/cpos/{cpo['cpo_id']}/locations")).json()
    LOCATIONS.validate(body)
    (loc,) = body["data"]
    dual = loc["chargers"][0]
    assert dual["ocpp_version"] == "2.0.1" and dual["connector_type"] == "IEC_62196_T2_COMBO"
    uids = [e["evse_uid"] for e in dual["evses"]]
    assert len(uids) == 2 and uids[0].endswith("_C1") and uids[1].endswith("_C2")
    assert len({e["ocpi_evse_id"] for e in dual["evses"]}) == 2
    assert sum(len(c["evses"]) for c in loc["chargers"]) == cpo["topology"]["evses"] == 5


@pytest.mark.parametrize(
    ("headers", "detail"),
    [({}, "missing bearer token"), ({"Authorization": "Bearer nope"}, "invalid token")],
)
async def test_401_without_valid_token(
    gateway: EmbeddedGateway, headers: dict[str, str], detail: str
):
    async with httpx.AsyncClient(base_url=gateway.url, headers=headers) as anon:
        for method, path in (
            ("GET", "/ocpi/cpos"),
            ("POST", "/ocpi/cpos"),
            ("GET", "/ocpi/cpos/1"),
        ):
            response = await anon.request(method, path, json={})
            assert response.status_code == 401, (method, path)
            HTTP_ERROR.validate(response.json())
            assert response.json()["detail"] == detail


async def test_404_unknown_id(client: httpx.AsyncClient):
    for path in (
        "/ocpi/cpos/999",
        "/ocpi/cpos/999/status",
        "/ocpi/cpos/999/report",
        "/ocpi/cpos/999/locations",
        "/ocpi/cpos/99999999999999999999999",
    ):
        response = await client.get(path)
        assert response.status_code == 404, path
        HTTP_ERROR.validate(response.json())
    assert (await client.delete("/ocpi/cpos/999")).status_code == 404


async def test_422_bad_input(client: httpx.AsyncClient):
    response = await client.get("/ocpi/cpos/abc")
    assert response.status_code == 422
    VALIDATION_ERROR.validate(response.json())
    assert response.json()["detail"][0]["loc"] == ["path", "cpo_id"]

    response = await client.post(
        "/ocpi/cpos",
        json={"template": "no-such", "party": {"country_code": "FR", "party_id": "ABC"}},
    )
    assert response.status_code == 422
    VALIDATION_ERROR.validate(response.json())
    assert response.json()["detail"][0]["loc"] == ["body", "template"]

    for body in (
        {"template": "highway-dc"},
        {"template": "highway-dc", "party": {"country_code": "France", "party_id": "ABC"}},
        {
            "template": "highway-dc",
            "party": {"country_code": "FR", "party_id": "ABC"},
            "mapping_profile": "nope",
        },
    ):
        response = await client.post("/ocpi/cpos", json=body)
        assert response.status_code == 422, body
        VALIDATION_ERROR.validate(response.json())
    assert (await client.get("/ocpi/cpos", params={"limit": 501})).status_code == 422
    assert (await client.get("/ocpi/cpos/1/locations", params={"page": 0})).status_code == 422


async def test_delete(client: httpx.AsyncClient):
    cpo = await provision(client, "small-urban-ac")
    cpo_id = cpo["cpo_id"]
    assert (await client.delete(f"/ocpi/cpos/{cpo_id}")).status_code == 204
    status = (await client.get(f"/ocpi/cpos/{cpo_id}/status")).json()
    assert status["status"] == "deleted"
    assert (await client.get(f"/ocpi/cpos/{cpo_id}/locations")).status_code == 404
    assert (await client.get("/ocpi/cpos")).json()["total"] == 0
    assert (await client.get(f"/ocpi/cpos/{cpo_id}")).json()["status"] == "deleted"
    assert (await client.delete(f"/ocpi/cpos/{cpo_id}")).status_code == 204


async def test_idempotency_key(client: httpx.AsyncClient):
    body = {
        "template": "highway-dc",
        "party": {"country_code": "DE", "party_id": "XYZ"},
        "idempotency_key": "run-1",
    }
    first = (await client.post("/ocpi/cpos", json=body)).json()
    again = await client.post("/ocpi/cpos", json=body)
    assert again.status_code == 202 and again.json()["cpo_id"] == first["cpo_id"]
    assert (await client.get("/ocpi/cpos")).json()["total"] == 1
    conflict = await client.post("/ocpi/cpos", json={**body, "template": "small-urban-ac"})
    assert conflict.status_code == 409
    HTTP_ERROR.validate(conflict.json())


async def test_ttl_expiry_deletes_the_cpo(client: httpx.AsyncClient):
    cpo = await provision(client, "highway-dc", ttl_seconds=1)

    async def status() -> str:
        return (await client.get(f"/ocpi/cpos/{cpo['cpo_id']}/status")).json()["status"]

    assert await wait_until(status, lambda s: s == "deleted", within=5) == "deleted"


async def test_openapi_matches_seed_components(client: httpx.AsyncClient):
    spec = (await client.get("/openapi.json")).json()
    seed = json.loads((FIXTURES / "gateway-api.schema.json").read_text())["$defs"]
    components = spec["components"]["schemas"]
    for name in (
        "OcpiLocationListResponse",
        "OcpiLocationResponse",
        "ChargerSummary",
        "EvseSummary",
        "OcpiCoordinates",
        "HttpErrorResponse",
    ):
        published = components[name]
        assert set(published["properties"]) == set(seed[name]["properties"]), name
        assert sorted(published.get("required", [])) == sorted(seed[name]["required"]), name
    cpo_fields = set(components["Cpo"]["properties"])
    assert cpo_fields == set(seed["Cpo"]["properties"])
    assert spec["components"]["securitySchemes"]["HTTPBearer"] == {
        "type": "http",
        "scheme": "bearer",
        "description": "Bearer authentication",
    }
    params = spec["paths"]["/ocpi/cpos/{cpo_id}/locations"]["get"]["parameters"]
    by_name = {p["name"]: p for p in params}
    assert by_name["page"]["schema"]["default"] == 1
    assert by_name["limit"]["schema"]["default"] == 50
    assert by_name["cpo_id"]["schema"]["pattern"] == r"^\d+$"
