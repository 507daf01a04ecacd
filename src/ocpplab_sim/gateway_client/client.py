"""Async client of the Gateway API (``/ocpi/cpos``).

This is the edge where httpx and pydantic errors become harness errors: callers only ever see
:class:`~ocpplab_sim.errors.GatewayUnreachable`, :class:`~ocpplab_sim.errors.GatewayApiError` and
:class:`~ocpplab_sim.errors.ProvisioningError`.
"""

from __future__ import annotations

import math
import time
from collections.abc import AsyncIterator, Mapping
from types import TracebackType
from typing import Any, Self, TypeVar
from urllib.parse import quote, urlsplit, urlunsplit

import anyio
import httpx
from pydantic import BaseModel, ValidationError

from ocpplab_sim import __version__
from ocpplab_sim.errors import GatewayApiError, GatewayUnreachable, ProvisioningError
from ocpplab_sim.gateway_client.models import (
    ChargerInfo,
    ChargerList,
    CommandResult,
    Cpo,
    CpoPage,
    CpoReport,
    CpoStatus,
    Lease,
    OcpiLocationListResponse,
    OcpiLocationResponse,
    Party,
)
from ocpplab_sim.gateway_client.topology import Topology

__all__ = ["GatewayClient", "describe_detail"]

_M = TypeVar("_M", bound=BaseModel)

# FastAPI prefixes every validation location with where the value came from; the user only cares
# about the field path inside it.
_LOC_SOURCES = frozenset({"body", "query", "path", "header", "cookie"})
_MAX_LISTED_ERRORS = 5


def describe_detail(detail: object) -> str:
    """Render a Gateway API ``detail`` as one readable line.

    A string is returned as is; FastAPI's list of ``{"loc", "msg"}`` becomes
    ``"party.country_code: Field required; ..."``.
    """
    if isinstance(detail, str):
        return detail
    if isinstance(detail, list):
        parts: list[str] = []
        for item in detail:
            if isinstance(item, Mapping) and "msg" in item:
                loc = [str(p) for p in item.get("loc", [])]
                if loc and loc[0] in _LOC_SOURCES:
                    loc = loc[1:]
                parts.append(f"{'.'.join(loc)}: {item['msg']}" if loc else str(item["msg"]))
            else:
                parts.append(str(item))
        return "; ".join(parts)
    return str(detail)


def _describe_validation(exc: ValidationError) -> str:
    errors = exc.errors(include_url=False)
    parts = [
        f"{'.'.join(str(p) for p in err['loc']) or '<body>'}: {err['msg']}"
        for err in errors[:_MAX_LISTED_ERRORS]
    ]
    if len(errors) > _MAX_LISTED_ERRORS:
        parts.append(f"... {len(errors) - _MAX_LISTED_ERRORS} more")
    return "; ".join(parts)


def csms_url_for(gateway_url: str) -> str:
    """The gateway's OCPP central system base (contract: ``ws(s)://HOST:PORT/ocpp``)."""
    parts = urlsplit(gateway_url)
    scheme = "wss" if parts.scheme == "https" else "ws"
    return urlunsplit((scheme, parts.netloc, parts.path.rstrip("/") + "/ocpp", "", ""))


class GatewayClient:
    """Async client of one gateway, owning its ``httpx.AsyncClient``.

    Use as ``async with GatewayClient(url, token) as gw: ...`` (or call :meth:`aclose`).
    Every method raises :class:`GatewayUnreachable` when nothing answers at ``base_url``
    (connection refused, DNS failure, timeout) and :class:`GatewayApiError` when the answer is an
    HTTP error or a body that does not match the documented shape.
    """

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        timeout_s: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._http = httpx.AsyncClient(
            base_url=self.base_url,
            headers={
                "Authorization": f"Bearer {token}",
                "Accept": "application/json",
                "User-Agent": f"ocpplab-sim/{__version__}",
            },
            timeout=httpx.Timeout(timeout_s),
            transport=transport,
        )

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the underlying connection pool."""
        await self._http.aclose()

    # -- transport and translation -------------------------------------------------------------

    async def _request(
        self,
        method: str,
        path: str,
        *,
        json: object = None,
        params: Mapping[str, str | int] | None = None,
        timeout_s: float | None = None,
    ) -> httpx.Response:
        """Send one request; translate transport failures and HTTP errors."""
        timeout = httpx.Timeout(timeout_s) if timeout_s is not None else httpx.USE_CLIENT_DEFAULT
        try:
            response = await self._http.request(
                method, path, json=json, params=params, timeout=timeout
            )
        except httpx.TransportError as exc:
            url = f"{self.base_url}{path}"
            raise GatewayUnreachable(
                f"gateway unreachable at {url}: {type(exc).__name__}: {exc or 'no detail'}"
            ) from exc
        if response.status_code >= 400:
            detail = _error_detail(response)
            raise GatewayApiError(
                f"{method} {response.request.url.path} → {response.status_code}: "
                f"{describe_detail(detail)}",
                status_code=response.status_code,
                detail=detail,
            )
        return response

    @staticmethod
    def _parse(response: httpx.Response, model: type[_M]) -> _M:
        """Validate a success body against ``model``; a mismatch is a GatewayApiError."""
        where = f"{response.request.method} {response.request.url.path} → {response.status_code}"
        try:
            return model.model_validate_json(response.content)
        except ValidationError as exc:
            raise GatewayApiError(
                f"{where}: body is not a valid {model.__name__}: {_describe_validation(exc)}",
                status_code=response.status_code,
                detail=response.text[:500],
            ) from exc

    # -- CPO lifecycle -------------------------------------------------------------------------

    async def create_cpo(
        self,
        template: str,
        party: Party,
        *,
        name_prefix: str | None = None,
        idempotency_key: str | None = None,
        mapping_profile: str | None = None,
        ocpp_security_profile: int | None = None,
        template_params: Mapping[str, Any] | None = None,
    ) -> Cpo:
        """Create a CPO from a template (``POST /ocpi/cpos``).

        Provisioning continues in the background; follow it with :meth:`wait_ready`. The answer
        carries ``token_a`` and ``roam_helper``. Options left at ``None`` are not sent, so the
        gateway's defaults apply. An unknown template raises :class:`GatewayApiError` (422).
        """
        body: dict[str, Any] = {
            "template": template,
            # role is the gateway's to assign; sending it would invite a 422 from stricter servers.
            "party": {"country_code": party.country_code, "party_id": party.party_id},
        }
        for key, value in (
            ("name_prefix", name_prefix),
            ("idempotency_key", idempotency_key),
            ("mapping_profile", mapping_profile),
            ("ocpp_security_profile", ocpp_security_profile),
            ("template_params", dict(template_params) if template_params else None),
        ):
            if value is not None:
                body[key] = value
        return self._parse(await self._request("POST", "/ocpi/cpos", json=body), Cpo)

    async def renew_lease(self, cpo_id: str, ttl_seconds: int) -> Lease | None:
        """Make the CPO expire ``ttl_seconds`` from now (``POST /ocpi/cpos/{cpo_id}/lease``).

        None when the gateway has no such route (404/405 while the CPO itself exists): a gateway
        without leases keeps the CPO until the ``ttl_seconds`` it was created with.
        """
        try:
            response = await self._request(
                "POST", f"/ocpi/cpos/{_seg(cpo_id)}/lease", json={"ttl_seconds": ttl_seconds}
            )
        except GatewayApiError as exc:
            if exc.status_code not in (404, 405):
                raise
            await self.get_cpo(cpo_id)  # raises when the CPO, not the route, is missing
            return None
        return self._parse(response, Lease)

    async def cpo_status(self, cpo_id: str) -> CpoStatus:
        """Current provisioning status (``GET /ocpi/cpos/{cpo_id}/status``)."""
        return self._parse(
            await self._request("GET", f"/ocpi/cpos/{_seg(cpo_id)}/status"), CpoStatus
        )

    async def wait_ready(
        self, cpo_id: str, *, timeout_s: float = 60.0, poll_s: float = 0.2
    ) -> CpoStatus:
        """Poll the status until the CPO is ``ready`` and return that status.

        Raises :class:`ProvisioningError` when the CPO ends ``failed`` or ``deleted`` (with the
        gateway's ``error``), or when ``timeout_s`` passes first (with the last status seen).
        Gateway errors while polling propagate unchanged.
        """
        deadline = time.monotonic() + timeout_s
        while True:
            status = await self.cpo_status(cpo_id)
            if status.status == "ready":
                return status
            if status.status in ("failed", "deleted"):
                reason = f": {status.error}" if status.error else ""
                raise ProvisioningError(
                    f"CPO {cpo_id} provisioning {status.status}{reason} "
                    f"(last status: {status.status})"
                )
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                error = f", error: {status.error}" if status.error else ""
                raise ProvisioningError(
                    f"CPO {cpo_id} not ready after {timeout_s:g} s: timed out "
                    f"(last status: {status.status}{error})"
                )
            await anyio.sleep(min(poll_s, remaining))

    async def get_cpo(self, cpo_id: str) -> Cpo:
        """One CPO (``GET /ocpi/cpos/{cpo_id}``); ``token_a`` is ``None`` here."""
        return self._parse(await self._request("GET", f"/ocpi/cpos/{_seg(cpo_id)}"), Cpo)

    async def list_cpos(self, page: int = 1, limit: int = 50) -> CpoPage:
        """One page of the organisation's CPOs (``GET /ocpi/cpos``), ``page`` 1-based."""
        response = await self._request("GET", "/ocpi/cpos", params={"page": page, "limit": limit})
        return self._parse(response, CpoPage)

    async def delete_cpo(self, cpo_id: str) -> None:
        """Delete a CPO (``DELETE /ocpi/cpos/{cpo_id}``).

        A 404 counts as success: the CPO is already gone, which is what the caller wants.
        """
        try:
            await self._request("DELETE", f"/ocpi/cpos/{_seg(cpo_id)}")
        except GatewayApiError as exc:
            if exc.status_code != 404:
                raise

    async def report(self, cpo_id: str) -> CpoReport:
        """What the gateway observed for this CPO (``GET /ocpi/cpos/{cpo_id}/report``)."""
        return self._parse(
            await self._request("GET", f"/ocpi/cpos/{_seg(cpo_id)}/report"), CpoReport
        )

    # -- chargers and the command API ----------------------------------------------------------

    async def chargers(self, cpo_id: str) -> list[ChargerInfo]:
        """The CPO's chargers with their credentials (``GET /ocpi/cpos/{cpo_id}/chargers``)."""
        response = await self._request("GET", f"/ocpi/cpos/{_seg(cpo_id)}/chargers")
        return self._parse(response, ChargerList).data

    async def charger(self, cpo_id: str, identity: str) -> ChargerInfo:
        """One charger (``GET /ocpi/cpos/{cpo_id}/chargers/{identity}``); 404 → GatewayApiError."""
        path = f"/ocpi/cpos/{_seg(cpo_id)}/chargers/{_seg(identity)}"
        return self._parse(await self._request("GET", path), ChargerInfo)

    async def command(
        self,
        cpo_id: str,
        identity: str,
        action: str,
        payload: Mapping[str, Any],
        *,
        timeout_s: float = 30.0,
    ) -> CommandResult:
        """Make the central system send ``[2, id, action, payload]`` to a charger and wait for
        the answer (``POST /ocpi/cpos/{cpo_id}/chargers/{identity}/commands``).

        The outcome (answered, callerror, timeout, offline) is in the result; an action the
        charger's OCPP version does not have, or a payload its schema rejects, raises
        :class:`GatewayApiError` (422). The HTTP wait is extended past ``timeout_s``.
        """
        path = f"/ocpi/cpos/{_seg(cpo_id)}/chargers/{_seg(identity)}/commands"
        body = {"action": action, "payload": dict(payload), "timeout_s": timeout_s}
        response = await self._request("POST", path, json=body, timeout_s=timeout_s + 10)
        return self._parse(response, CommandResult)

    # -- locations and topology ----------------------------------------------------------------

    async def location_page(
        self, cpo_id: str, *, page: int = 1, limit: int = 50
    ) -> OcpiLocationListResponse:
        """One page of the CPO's locations (``GET /ocpi/cpos/{cpo_id}/locations``)."""
        response = await self._request(
            "GET", f"/ocpi/cpos/{_seg(cpo_id)}/locations", params={"page": page, "limit": limit}
        )
        return self._parse(response, OcpiLocationListResponse)

    async def iter_locations(
        self, cpo_id: str, *, limit: int = 50
    ) -> AsyncIterator[OcpiLocationResponse]:
        """Yield every location of the CPO, paging ``page=1, 2, ...`` until ``total`` are seen.

        Raises :class:`GatewayApiError` when the server pages inconsistently instead of looping:
        a page repeats a location already seen (the server ignores ``page``), a page comes back
        empty before ``total`` is reached, or more pages arrive than ``total``/``limit`` allows.
        """
        path = f"/ocpi/cpos/{_seg(cpo_id)}/locations"
        seen: set[str] = set()
        max_pages: int | None = None
        page = 1
        while True:
            body = await self.location_page(cpo_id, page=page, limit=limit)
            if max_pages is None:
                # Fixed from the first answer so a total that keeps growing cannot extend the walk
                # forever; one page of slack tolerates a location added mid-walk.
                max_pages = max(1, math.ceil(body.total / limit)) + 1
            if not body.data:
                if len(seen) < body.total:
                    raise GatewayApiError(
                        f"GET {path}: page {page} is empty after {len(seen)} of "
                        f"{body.total} locations",
                        status_code=200,
                    )
                return
            for location in body.data:
                if location.id in seen:
                    raise GatewayApiError(
                        f"GET {path}: page {page} repeats location {location.id!r}; "
                        "the server does not honour paging",
                        status_code=200,
                    )
                seen.add(location.id)
                yield location
            if len(seen) >= body.total:
                return
            page += 1
            if page > max_pages:
                raise GatewayApiError(
                    f"GET {path}: still {body.total - len(seen)} locations missing after "
                    f"{max_pages} pages of {limit}; giving up",
                    status_code=200,
                )

    async def topology(self, cpo_id: str) -> Topology:
        """The CPO's locations → chargers → EVSEs, from every page of its locations.

        Raises :class:`GatewayApiError` when the listing cannot form a topology (a charger whose
        ``ocpp_version`` is not ``"1.6"``/``"2.0.1"``, a repeated EVSE uid or charger identity).
        """
        locations = [loc async for loc in self.iter_locations(cpo_id)]
        try:
            return Topology.from_locations(cpo_id, locations)
        except ValueError as exc:
            # pydantic's ValidationError is a ValueError whose str() spans lines; keep the messages.
            problem = (
                "; ".join(str(err["msg"]) for err in exc.errors(include_url=False))
                if isinstance(exc, ValidationError)
                else str(exc)
            )
            raise GatewayApiError(
                f"GET /ocpi/cpos/{cpo_id}/locations: not a usable topology: {problem}",
                status_code=200,
            ) from exc


def _seg(value: str) -> str:
    """Quote one path segment so an id can never reach another route."""
    return quote(value, safe="")


def _error_detail(response: httpx.Response) -> object:
    """The ``detail`` of an error body, or its text when it is not the documented JSON."""
    try:
        body = response.json()
    except ValueError:
        return response.text.strip()[:500] or response.reason_phrase
    if isinstance(body, dict) and "detail" in body:
        return body["detail"]
    return body
