"""Contract tests: every Gateway API endpoint's success and error bodies checked against the
seed-transcribed fixture schemas (``fixtures/gateway-api.schema.json``) and, for resources the
seeds do not describe, against the response schema the gateway publishes in its OpenAPI
document. The endpoint table must cover every published Gateway API operation."""

from __future__ import annotations

from typing import Any

import httpx
import jsonschema
import pytest
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from ocpplab_sim.gateway import EmbeddedGateway, GatewaySettings

from .support import fixture_validator, fresh_postgres, postgres_url, provision

SEED_ERROR = fixture_validator("gateway-api.schema.json", "HttpErrorResponse")
SEED_422 = fixture_validator("gateway-api.schema.json", "HTTPValidationError")
SEED: dict[str, Any] = {
    name: fixture_validator("gateway-api.schema.json", name)
    for name in ("Cpo", "OcpiLocationListResponse")
}

CMD = {"action": "Reset", "payload": {"type": "Soft"}, "timeout_s": 1}
# (method, OpenAPI path, JSON body, success status, seed definition or None, 404 possible)
ENDPOINTS: list[tuple[str, str, dict[str, Any] | None, int, str | None, bool]] = [
    ("POST", "/ocpi/cpos", {"template": "small-urban-ac", "party": {}}, 202, "Cpo", False),
    ("GET", "/ocpi/cpos", None, 200, None, False),
    ("GET", "/ocpi/cpos/{cpo_id}", None, 200, "Cpo", True),
    ("GET", "/ocpi/cpos/{cpo_id}/status", None, 200, None, True),
    ("GET", "/ocpi/cpos/{cpo_id}/report", None, 200, None, True),
    ("GET", "/ocpi/cpos/{cpo_id}/locations", None, 200, "OcpiLocationListResponse", True),
    ("GET", "/ocpi/cpos/{cpo_id}/chargers", None, 200, None, True),
    ("GET", "/ocpi/cpos/{cpo_id}/chargers/{identity}", None, 200, None, True),
    ("POST", "/ocpi/cpos/{cpo_id}/chargers/{identity}/commands", CMD, 200, None, True),
    ("GET", "/ocpi/cpos/{cpo_id}/chargers/{identity}/commands", None, 200, None, True),
    ("POST", "/ocpi/cpos/{cpo_id}/lease", {"ttl_seconds": 600}, 200, None, True),
    ("GET", "/gateway/events", None, 200, None, False),
    ("DELETE", "/ocpi/cpos/{cpo_id}", None, 204, None, True),  # last: it deletes the CPO
]
PARTY = {"country_code": "FR", "party_id": "ABC"}
DATABASES = ["sqlite", *(["postgresql"] if postgres_url() else [])]


@pytest.fixture(params=DATABASES)
async def settings(
    request: pytest.FixtureRequest, settings: GatewaySettings, worker_id: str
) -> GatewaySettings:
    """The contract holds on SQLite and, with ``OCPPLAB_TEST_POSTGRES_URL``, on PostgreSQL."""
    if request.param == "sqlite":
        return settings
    url = postgres_url()
    assert url is not None
    return settings.model_copy(update={"db_url": await fresh_postgres(url, worker_id)})


class OpenApi:
    """Validators for the response schemas of the published OpenAPI 3.1 document."""

    def __init__(self, doc: dict[str, Any]) -> None:
        self.doc = doc
        self._registry: Registry[Any] = Registry().with_resource(
            "urn:openapi", Resource.from_contents(doc, default_specification=DRAFT202012)
        )

    def validate(self, method: str, path: str, status: int, body: Any) -> None:
        responses = self.doc["paths"][path][method.lower()]["responses"]
        assert str(status) in responses, f"{method} {path}: {status} is not documented"
        pointer = "/".join(
            p.replace("~", "~0").replace("/", "~1")
            for p in ("paths", path, method.lower(), "responses", str(status))
        )
        content = responses[str(status)].get("content", {})
        if "application/json" not in content:
            assert body is None, f"{method} {path} {status}: undocumented body"
            return
        ref = f"urn:openapi#/{pointer}/content/application~1json/schema"
        jsonschema.Draft202012Validator({"$ref": ref}, registry=self._registry).validate(body)


def _fill(path: str, cpo_id: str, identity: str) -> str:
    return path.replace("{cpo_id}", cpo_id).replace("{identity}", identity)


async def _call(
    http: httpx.AsyncClient, method: str, url: str, body: dict[str, Any] | None
) -> httpx.Response:
    return await http.request(method, url, json=body)


async def test_every_endpoint_success_and_error_shapes(
    client: httpx.AsyncClient, gateway: EmbeddedGateway
):
    api = OpenApi((await client.get("/openapi.json")).json())
    published = {
        (method.upper(), path)
        for path, ops in api.doc["paths"].items()
        if path.startswith(("/ocpi/cpos", "/gateway"))
        for method in ops
    }
    assert {(m, p) for m, p, *_ in ENDPOINTS} == published

    cpo = await provision(client, "small-urban-ac")
    cpo_id, identity = cpo["cpo_id"], f"demo-{cpo['cpo_id']}-L1-01"
    async with httpx.AsyncClient(base_url=gateway.url) as anonymous:
        for method, path, body, ok_status, seed, can_404 in ENDPOINTS:
            if body is not None and "party" in body:
                body = {**body, "party": PARTY}
            where = f"{method} {path}"

            # 401 without the bearer token.
            denied = await _call(anonymous, method, _fill(path, cpo_id, identity), body)
            assert denied.status_code == 401, where
            SEED_ERROR.validate(denied.json())
            api.validate(method, path, 401, denied.json())

            # 422: a cpo_id that is not digits, or (no id in the path) a bad body / query.
            if "{cpo_id}" in path:
                bad = await _call(client, method, _fill(path, "abc", identity), body)
            elif method == "POST":
                bad = await _call(client, method, path, {"template": "small-urban-ac"})
            else:
                bad = await client.get(path, params={"limit": 0})
            assert bad.status_code == 422, where
            SEED_422.validate(bad.json())
            api.validate(method, path, 422, bad.json())

            if can_404:
                for missing in (_fill(path, "999999", identity), _fill(path, cpo_id, "nobody")):
                    if missing == _fill(path, cpo_id, identity):
                        continue
                    gone = await _call(client, method, missing, body)
                    assert gone.status_code == 404, f"{where} {missing}"
                    SEED_ERROR.validate(gone.json())
                    api.validate(method, path, 404, gone.json())

            ok = await _call(client, method, _fill(path, cpo_id, identity), body)
            assert ok.status_code == ok_status, f"{where}: {ok.text}"
            payload = ok.json() if ok.content else None
            if seed is not None:
                SEED[seed].validate(payload)
            api.validate(method, path, ok_status, payload)

    # The checks bite: a body missing fields or with wrong types is rejected.
    with pytest.raises(jsonschema.ValidationError):
        api.validate("GET", "/ocpi/cpos/{cpo_id}/status", 200, {"cpo_id": 1})
    with pytest.raises(jsonschema.ValidationError):
        SEED_ERROR.validate({"detail": 5})
