"""OCPI 2.2.1, CPO side: versions, credentials and the Locations sender, per CPO.

Mounted under ``/ocpi/peer/{cpo_id}``. Authentication (transport_and_format §4.1.3):
``Authorization: Token <base64(token)>``; the raw token is accepted too. Token A works on
versions, version details and credentials only (else HTTP 401); after registration it is void
and token C works everywhere. Every body is the OCPI envelope; errors use HTTP 4xx with an OCPI
``status_code`` (2001 bad parameters, 2003 unknown object).
"""

from __future__ import annotations

import base64
import binascii
import hmac
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal
from urllib.parse import urlencode

import httpx
from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from . import ocpi_models as m
from . import views
from .api_models import CPO_ID_PATTERN
from .context import GatewayContext, get_context
from .db import Cpo, Evse, Location, OcpiCredentials
from .provisioning import new_token

__all__ = ["OcpiError", "ocpi_error_response", "router"]

logger = logging.getLogger(__name__)

VERSION = "2.2.1"


class OcpiError(Exception):
    """An OCPI-level failure, answered as an envelope with HTTP ``http_status``."""

    def __init__(self, http_status: int, status_code: int, message: str) -> None:
        super().__init__(message)
        self.http_status = http_status
        self.status_code = status_code
        self.message = message


def _envelope_json(ctx: GatewayContext, status_code: int, message: str) -> dict[str, object]:
    return m.OcpiResponse[None](
        status_code=status_code, status_message=message, timestamp=ctx.clock()
    ).model_dump(mode="json", exclude_none=True)


def ocpi_error_response(request: Request, exc: OcpiError) -> JSONResponse:
    """Render :class:`OcpiError` (registered as an exception handler by the app)."""
    body = _envelope_json(get_context(request), exc.status_code, exc.message)
    headers = {"WWW-Authenticate": "Token"} if exc.http_status == 401 else None
    return JSONResponse(body, status_code=exc.http_status, headers=headers)


@dataclass(frozen=True)
class Caller:
    """Who is calling: the CPO addressed and which of its tokens was presented."""

    cpo: Cpo
    token_kind: Literal["A", "C"]
    token: str


def _candidates(header: str | None) -> list[str]:
    if not header:
        return []
    scheme, _, value = header.strip().partition(" ")
    if scheme.lower() != "token" or not value.strip():
        return []
    value = value.strip()
    found = [value]
    try:
        decoded = base64.b64decode(value, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return found
    # 2.2.1 clients send Base64; try the decoded form first.
    return [decoded, value]


async def _caller(
    request: Request,
    cpo_id: Annotated[str, Path(pattern=CPO_ID_PATTERN)],
    ctx: Annotated[GatewayContext, Depends(get_context)],
) -> Caller:
    candidates = _candidates(request.headers.get("authorization"))
    if not candidates or len(cpo_id) > 18:
        raise OcpiError(401, 2000, "missing or malformed Authorization: Token header")
    async with ctx.db.read() as session:
        cpo = await session.get(Cpo, int(cpo_id))
        creds = await session.get(OcpiCredentials, int(cpo_id))
    if cpo is None or creds is None or cpo.status == "deleted":
        raise OcpiError(401, 2000, "unknown token")
    for token in candidates:
        for kind, known in (("A", creds.token_a), ("C", creds.token_c)):
            if known is not None and hmac.compare_digest(token.encode(), known.encode()):
                return Caller(cpo, kind, token)  # type: ignore[arg-type]
    raise OcpiError(401, 2000, "unknown token")


async def _registered(request: Request, caller: Annotated[Caller, Depends(_caller)]) -> Caller:
    """Token C only: module endpoints are closed to token A (credentials §7.2.1)."""
    if caller.token_kind != "C":
        raise OcpiError(401, 2000, "token A is valid for versions and credentials only")
    return caller


AnyToken = Annotated[Caller, Depends(_caller)]
TokenC = Annotated[Caller, Depends(_registered)]
Ctx = Annotated[GatewayContext, Depends(get_context)]

_ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": m.OcpiResponse[None], "description": text}
    for code, text in (
        (400, "OCPI status_code 2001: invalid or missing parameters"),
        (401, "OCPI status_code 2000: missing or unknown token"),
        (404, "OCPI status_code 2003: unknown location, EVSE or connector"),
        (405, "OCPI status_code 2000: credentials method not allowed in this state"),
        (413, "request body too large"),
    )
}

router = APIRouter(prefix="/ocpi/peer/{cpo_id}", tags=["ocpi-2.2.1"], responses=_ERRORS)


def _ok(ctx: GatewayContext, data: object) -> dict[str, object]:
    return {
        "data": data,
        "status_code": 1000,
        "status_message": "Success",
        "timestamp": ctx.clock(),
    }


def _module_url(ctx: GatewayContext, request: Request, cpo: Cpo, module: str = "") -> str:
    return f"{ctx.base_url(request)}/ocpi/peer/{cpo.id}/{VERSION}" + (
        f"/{module}" if module else ""
    )


@router.get(
    "/versions", response_model=m.OcpiResponse[list[m.Version]], response_model_exclude_none=True
)
async def get_versions(request: Request, caller: AnyToken, ctx: Ctx) -> dict[str, object]:
    """version_information_endpoint §6.1: the versions this CPO supports (2.2.1 only)."""
    return _ok(ctx, [m.Version(version=VERSION, url=_module_url(ctx, request, caller.cpo))])


@router.get(
    f"/{VERSION}", response_model=m.OcpiResponse[m.VersionDetails], response_model_exclude_none=True
)
async def get_version_details(request: Request, caller: AnyToken, ctx: Ctx) -> dict[str, object]:
    """version_information_endpoint §6.2: modules of 2.2.1 (credentials, locations)."""
    endpoints = [
        m.Endpoint(
            identifier="credentials",
            role="RECEIVER",
            url=_module_url(ctx, request, caller.cpo, "credentials"),
        ),
        m.Endpoint(
            identifier="locations",
            role="SENDER",
            url=_module_url(ctx, request, caller.cpo, "locations"),
        ),
    ]
    return _ok(ctx, m.VersionDetails(version=VERSION, endpoints=endpoints))


def _own_credentials(ctx: GatewayContext, request: Request, cpo: Cpo, token: str) -> m.Credentials:
    display_name = f"{cpo.country_code}*{cpo.party_id} (OCPPLab reference CPO {cpo.id})"
    return m.Credentials(
        token=token,
        url=views.versions_url(ctx.base_url(request), cpo.id),
        roles=[
            m.CredentialsRole(
                role="CPO",
                business_details=m.BusinessDetails(name=display_name),
                party_id=cpo.party_id,
                country_code=cpo.country_code,
            )
        ],
    )


async def _check_peer(ctx: GatewayContext, url: str, token_b: str) -> tuple[bool, str]:
    """GET the eMSP's versions URL with token B (credentials §7.2.1 step 4); never raises."""
    header = "Token " + base64.b64encode(token_b.encode()).decode()
    try:
        resp = await ctx.http.get(url, headers={"Authorization": header})
    except httpx.HTTPError as exc:
        return False, f"GET {url} failed: {type(exc).__name__}: {exc}"
    if resp.status_code != 200:
        return False, f"GET {url} answered HTTP {resp.status_code}"
    try:
        body = resp.json()
    except ValueError:
        return False, f"GET {url} did not answer JSON"
    if not isinstance(body, dict) or body.get("status_code") != 1000:
        code = body.get("status_code") if isinstance(body, dict) else None
        return False, f"GET {url} answered OCPI status_code {code!r}"
    versions = [v.get("version") for v in body.get("data") or [] if isinstance(v, dict)]
    return True, f"versions offered: {', '.join(str(v) for v in versions) or 'none'}"


async def _register(
    ctx: GatewayContext, request: Request, caller: Caller, body: m.Credentials, *, update: bool
) -> dict[str, object]:
    ok, detail = await _check_peer(ctx, body.url, body.token)
    token_c = new_token()
    async with ctx.db.write() as session:
        creds = await session.get_one(OcpiCredentials, caller.cpo.id)
        registered = creds.registered_at is not None
        if registered != update:
            # Re-checked under the write lock: a concurrent POST may have registered first.
            raise OcpiError(405, 2000, "already registered" if registered else "not registered")
        now = ctx.clock()
        creds.peer_token_b, creds.peer_url = body.token, body.url
        creds.peer_roles = [role.model_dump(mode="json") for role in body.roles]
        creds.token_a, creds.token_c, creds.registered_at = None, token_c, now
        creds.peer_check_ok, creds.peer_check_detail, creds.peer_check_at = ok, detail, now
    if not ok:
        logger.warning("CPO %s: eMSP versions check failed: %s", caller.cpo.id, detail)
    return _ok(ctx, _own_credentials(ctx, request, caller.cpo, token_c))


@router.get(
    f"/{VERSION}/credentials",
    response_model=m.OcpiResponse[m.Credentials],
    response_model_exclude_none=True,
)
async def get_credentials(request: Request, caller: AnyToken, ctx: Ctx) -> dict[str, object]:
    """credentials §7.2.1 GET: the credentials the caller uses to reach this CPO."""
    return _ok(ctx, _own_credentials(ctx, request, caller.cpo, caller.token))


@router.post(
    f"/{VERSION}/credentials",
    response_model=m.OcpiResponse[m.Credentials],
    response_model_exclude_none=True,
)
async def post_credentials(
    request: Request, body: m.Credentials, caller: AnyToken, ctx: Ctx
) -> dict[str, object]:
    """credentials §7.2.1 POST: store token B, answer token C, void token A; 405 if registered."""
    return await _register(ctx, request, caller, body, update=False)


@router.put(
    f"/{VERSION}/credentials",
    response_model=m.OcpiResponse[m.Credentials],
    response_model_exclude_none=True,
)
async def put_credentials(
    request: Request, body: m.Credentials, caller: TokenC, ctx: Ctx
) -> dict[str, object]:
    """credentials §7.2.1 PUT: replace token B/url and issue a new token C; 405 if unregistered."""
    return await _register(ctx, request, caller, body, update=True)


@router.delete(
    f"/{VERSION}/credentials", response_model=m.OcpiResponse[None], response_model_exclude_none=True
)
async def delete_credentials(caller: TokenC, ctx: Ctx) -> dict[str, object]:
    """credentials §7.2.1 DELETE: unregister; token C stops working. 405 if unregistered."""
    async with ctx.db.write() as session:
        creds = await session.get_one(OcpiCredentials, caller.cpo.id)
        if creds.registered_at is None:
            raise OcpiError(405, 2000, "not registered")
        creds.token_c = creds.peer_token_b = creds.peer_url = None
        creds.peer_roles = None
        creds.registered_at = None
    return _ok(ctx, None)


@router.get(
    f"/{VERSION}/locations",
    response_model=m.OcpiResponse[list[m.Location]],
    response_model_exclude_none=True,
)
async def list_locations(
    request: Request,
    response: Response,
    caller: TokenC,
    ctx: Ctx,
    offset: Annotated[int, Query(ge=0, le=1_000_000_000)] = 0,
    limit: Annotated[int | None, Query(ge=1, le=1_000_000)] = None,
    date_from: Annotated[datetime | None, Query(description="last_updated ≥ (inclusive)")] = None,
    date_to: Annotated[datetime | None, Query(description="last_updated < (exclusive)")] = None,
) -> dict[str, object]:
    """mod_locations §8.2.1.1 Sender GET list with pagination (transport_and_format §4.1.4)."""
    max_limit = ctx.settings.ocpi_page_limit
    page_size = min(limit or max_limit, max_limit)
    where = [Location.cpo_id == caller.cpo.id, Location.publish.is_(True)]
    start, end = views.as_utc(date_from), views.as_utc(date_to)
    if start is not None:
        where.append(Location.last_updated >= start)
    if end is not None:
        where.append(Location.last_updated < end)
    async with ctx.db.read() as session:
        total = await session.scalar(select(func.count()).select_from(Location).where(*where)) or 0
        rows = list(
            await session.scalars(
                select(Location).where(*where).order_by(Location.pk).offset(offset).limit(page_size)
            )
        )
        data = await views.ocpi_locations(session, caller.cpo, rows)
    response.headers["X-Total-Count"] = str(total)
    response.headers["X-Limit"] = str(max_limit)
    if offset + len(rows) < total:
        params = {k: v for k, v in request.query_params.items() if k not in ("offset", "limit")}
        params |= {"offset": str(offset + len(rows)), "limit": str(page_size)}
        next_url = f"{ctx.base_url(request)}{request.url.path}?{urlencode(params)}"
        response.headers["Link"] = f'<{next_url}>; rel="next"'
    return _ok(ctx, data)


async def _location(session: AsyncSession, cpo: Cpo, location_id: str) -> Location:
    loc = await session.scalar(
        select(Location).where(Location.cpo_id == cpo.id, Location.ocpi_id == location_id)
    )
    if loc is None:
        raise OcpiError(404, 2003, f"unknown location {location_id!r}")
    return loc


async def _evse(session: AsyncSession, cpo: Cpo, location_id: str, evse_uid: str) -> Evse:
    loc = await _location(session, cpo, location_id)
    evse = await session.scalar(
        select(Evse).where(Evse.location_pk == loc.pk, Evse.uid == evse_uid)
    )
    if evse is None:
        raise OcpiError(404, 2003, f"unknown EVSE {evse_uid!r} at location {location_id!r}")
    return evse


@router.get(
    f"/{VERSION}/locations/{{location_id}}",
    response_model=m.OcpiResponse[m.Location],
    response_model_exclude_none=True,
)
async def get_location(location_id: str, caller: TokenC, ctx: Ctx) -> dict[str, object]:
    """mod_locations §8.2.1.2 Sender GET one Location."""
    async with ctx.db.read() as session:
        loc = await _location(session, caller.cpo, location_id)
        (data,) = await views.ocpi_locations(session, caller.cpo, [loc])
    return _ok(ctx, data)


@router.get(
    f"/{VERSION}/locations/{{location_id}}/{{evse_uid}}",
    response_model=m.OcpiResponse[m.Evse],
    response_model_exclude_none=True,
)
async def get_evse(location_id: str, evse_uid: str, caller: TokenC, ctx: Ctx) -> dict[str, object]:
    """mod_locations §8.2.1.2 Sender GET one EVSE."""
    async with ctx.db.read() as session:
        evse = await _evse(session, caller.cpo, location_id, evse_uid)
    return _ok(ctx, views.ocpi_evse(evse))


@router.get(
    f"/{VERSION}/locations/{{location_id}}/{{evse_uid}}/{{connector_id}}",
    response_model=m.OcpiResponse[m.Connector],
    response_model_exclude_none=True,
)
async def get_connector(
    location_id: str, evse_uid: str, connector_id: str, caller: TokenC, ctx: Ctx
) -> dict[str, object]:
    """mod_locations §8.2.1.2 Sender GET one Connector (every EVSE has connector ``"1"``)."""
    async with ctx.db.read() as session:
        evse = await _evse(session, caller.cpo, location_id, evse_uid)
    if connector_id != "1":
        raise OcpiError(404, 2003, f"unknown connector {connector_id!r} of EVSE {evse_uid!r}")
    return _ok(ctx, views.ocpi_connector(evse))
