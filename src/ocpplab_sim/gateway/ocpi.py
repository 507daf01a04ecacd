"""OCPI 2.2.1, CPO side: versions (2.2.1 and 2.1.1), credentials and the Locations sender.

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
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from . import ocpi_models as m
from . import views
from .api_models import CPO_ID_PATTERN
from .context import GatewayContext, get_context
from .db import Cpo, Evse, Location, OcpiCredentials
from .ocpi_peer import discover
from .provisioning import new_token

__all__ = [
    "VERSIONS",
    "AnyToken",
    "Caller",
    "Ctx",
    "OcpiError",
    "PageQuery",
    "TokenC",
    "find_evse",
    "find_location",
    "locations_page",
    "module_url",
    "ocpi_error_response",
    "ok",
    "register",
    "router",
    "unregister",
]

logger = logging.getLogger(__name__)

VERSION = "2.2.1"
VERSIONS = ("2.2.1", "2.1.1")


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


def ok(ctx: GatewayContext, data: object) -> dict[str, object]:
    return {
        "data": data,
        "status_code": 1000,
        "status_message": "Success",
        "timestamp": ctx.clock(),
    }


def module_url(
    ctx: GatewayContext, request: Request, cpo: Cpo, module: str = "", *, version: str = VERSION
) -> str:
    """Absolute URL of a module (or, without ``module``, the details) of ``version``."""
    return f"{ctx.base_url(request)}/ocpi/peer/{cpo.id}/{version}" + (
        f"/{module}" if module else ""
    )


@router.get(
    "/versions", response_model=m.OcpiResponse[list[m.Version]], response_model_exclude_none=True
)
async def get_versions(request: Request, caller: AnyToken, ctx: Ctx) -> dict[str, object]:
    """version_information_endpoint §6.1: the versions this CPO supports, newest first."""
    versions = [
        m.Version(version=v, url=module_url(ctx, request, caller.cpo, version=v)) for v in VERSIONS
    ]
    return ok(ctx, versions)


@router.get(
    f"/{VERSION}", response_model=m.OcpiResponse[m.VersionDetails], response_model_exclude_none=True
)
async def get_version_details(request: Request, caller: AnyToken, ctx: Ctx) -> dict[str, object]:
    """version_information_endpoint §6.2: modules of 2.2.1 (credentials, locations)."""
    endpoints = [
        m.Endpoint(
            identifier="credentials",
            role="RECEIVER",
            url=module_url(ctx, request, caller.cpo, "credentials"),
        ),
        m.Endpoint(
            identifier="locations",
            role="SENDER",
            url=module_url(ctx, request, caller.cpo, "locations"),
        ),
    ]
    return ok(ctx, m.VersionDetails(version=VERSION, endpoints=endpoints))


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


async def register(
    ctx: GatewayContext,
    caller: Caller,
    *,
    token_b: str,
    url: str,
    roles: list[dict[str, Any]],
    version: str,
    update: bool,
) -> str:
    """Store the eMSP's token B and versions URL, discover its Locations receiver (credentials
    §7.2.1 steps 3-4), void token A, return a new token C. 405 when ``update`` does not match
    the registration state. Discovery failures are recorded, never fatal."""
    check = await discover(ctx.http, url, token_b, version)
    token_c = new_token()
    async with ctx.db.write() as session:
        creds = await session.get_one(OcpiCredentials, caller.cpo.id)
        registered = creds.registered_at is not None
        if registered != update:
            # Re-checked under the write lock: a concurrent POST may have registered first.
            raise OcpiError(405, 2000, "already registered" if registered else "not registered")
        now = ctx.clock()
        creds.peer_token_b, creds.peer_url, creds.peer_roles = token_b, url, roles
        creds.token_a, creds.token_c, creds.registered_at = None, token_c, now
        creds.ocpi_version, creds.peer_locations_url = version, check.locations_url
        creds.peer_check_ok, creds.peer_check_detail, creds.peer_check_at = (
            check.ok,
            check.detail,
            now,
        )
    ctx.pusher.forget(caller.cpo.id)
    if not check.ok:
        logger.warning("CPO %s: eMSP versions check failed: %s", caller.cpo.id, check.detail)
    return token_c


async def unregister(ctx: GatewayContext, caller: Caller) -> None:
    """credentials §7.2.1 DELETE: token C stops working, pushes stop. 405 if unregistered."""
    async with ctx.db.write() as session:
        creds = await session.get_one(OcpiCredentials, caller.cpo.id)
        if creds.registered_at is None:
            raise OcpiError(405, 2000, "not registered")
        creds.token_c = creds.peer_token_b = creds.peer_url = None
        creds.peer_roles = None
        creds.registered_at = None
        creds.ocpi_version = creds.peer_locations_url = None
    ctx.pusher.forget(caller.cpo.id)


async def _register(
    ctx: GatewayContext, request: Request, caller: Caller, body: m.Credentials, *, update: bool
) -> dict[str, object]:
    token_c = await register(
        ctx,
        caller,
        token_b=body.token,
        url=body.url,
        roles=[role.model_dump(mode="json") for role in body.roles],
        version=VERSION,
        update=update,
    )
    return ok(ctx, _own_credentials(ctx, request, caller.cpo, token_c))


@router.get(
    f"/{VERSION}/credentials",
    response_model=m.OcpiResponse[m.Credentials],
    response_model_exclude_none=True,
)
async def get_credentials(request: Request, caller: AnyToken, ctx: Ctx) -> dict[str, object]:
    """credentials §7.2.1 GET: the credentials the caller uses to reach this CPO."""
    return ok(ctx, _own_credentials(ctx, request, caller.cpo, caller.token))


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
    await unregister(ctx, caller)
    return ok(ctx, None)


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
    query = PageQuery(offset, limit, date_from, date_to)
    return await locations_page(request, response, caller, ctx, query, views.ocpi_locations)


@dataclass(frozen=True)
class PageQuery:
    """The Sender list query (mod_locations §8.2.1.1): offset, limit, date_from, date_to."""

    offset: int
    limit: int | None
    date_from: datetime | None
    date_to: datetime | None


async def locations_page(
    request: Request,
    response: Response,
    caller: Caller,
    ctx: GatewayContext,
    query: PageQuery,
    render: Callable[[AsyncSession, Cpo, list[Location]], Awaitable[Sequence[object]]],
) -> dict[str, object]:
    """One page of published Locations rendered by ``render`` (the version's objects), with the
    ``Link``, ``X-Total-Count`` and ``X-Limit`` headers (transport_and_format §4.1.4)."""
    offset, limit, date_from, date_to = query.offset, query.limit, query.date_from, query.date_to
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
        data = await render(session, caller.cpo, rows)
    response.headers["X-Total-Count"] = str(total)
    response.headers["X-Limit"] = str(max_limit)
    if offset + len(rows) < total:
        params = {k: v for k, v in request.query_params.items() if k not in ("offset", "limit")}
        params |= {"offset": str(offset + len(rows)), "limit": str(page_size)}
        next_url = f"{ctx.base_url(request)}{request.url.path}?{urlencode(params)}"
        response.headers["Link"] = f'<{next_url}>; rel="next"'
    return ok(ctx, data)


async def find_location(session: AsyncSession, cpo: Cpo, location_id: str) -> Location:
    loc = await session.scalar(
        select(Location).where(Location.cpo_id == cpo.id, Location.ocpi_id == location_id)
    )
    if loc is None:
        raise OcpiError(404, 2003, f"unknown location {location_id!r}")
    return loc


async def find_evse(session: AsyncSession, cpo: Cpo, location_id: str, evse_uid: str) -> Evse:
    loc = await find_location(session, cpo, location_id)
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
        loc = await find_location(session, caller.cpo, location_id)
        (data,) = await views.ocpi_locations(session, caller.cpo, [loc])
    return ok(ctx, data)


@router.get(
    f"/{VERSION}/locations/{{location_id}}/{{evse_uid}}",
    response_model=m.OcpiResponse[m.Evse],
    response_model_exclude_none=True,
)
async def get_evse(location_id: str, evse_uid: str, caller: TokenC, ctx: Ctx) -> dict[str, object]:
    """mod_locations §8.2.1.2 Sender GET one EVSE."""
    async with ctx.db.read() as session:
        evse = await find_evse(session, caller.cpo, location_id, evse_uid)
    return ok(ctx, views.ocpi_evse(evse))


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
        evse = await find_evse(session, caller.cpo, location_id, evse_uid)
    if connector_id != "1":
        raise OcpiError(404, 2003, f"unknown connector {connector_id!r} of EVSE {evse_uid!r}")
    return ok(ctx, views.ocpi_connector(evse))
