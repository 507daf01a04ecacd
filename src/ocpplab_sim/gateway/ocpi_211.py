"""OCPI 2.1.1, CPO side: version details, credentials and the Locations sender.

Mounted under ``/ocpi/peer/{cpo_id}/2.1.1`` next to 2.2.1 (the versions list offers both).
What differs from 2.2.1 (sections of the 2.1.1 documents): the token travels raw in
``Authorization: Token <token>`` (transport_and_format §4.1.3; the Base64 form is accepted
too), endpoints have no ``role`` (version_information_endpoint §6.2.2), the Credentials object
describes one party without ``roles`` (credentials §7.3.1), and Location/Connector carry the
2.1.1 required fields (mod_locations §8.3: Location ``type`` and ``postal_code``, Connector
``voltage``/``amperage``). Tokens, envelope, status codes and paging are shared with 2.2.1.
A party registered through 2.1.1 receives its status pushes in 2.1.1 (raw token header).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from . import ocpi_models as m
from . import views
from .db import Cpo
from .ocpi import (
    AnyToken,
    Ctx,
    OcpiError,
    PageQuery,
    TokenC,
    find_evse,
    find_location,
    locations_page,
    module_url,
    ok,
    register,
    unregister,
)
from .ocpi import router as router_221
from .ocpi_models import OcpiResponse

__all__ = ["router"]

V = "2.1.1"

router = APIRouter(
    prefix=f"/ocpi/peer/{{cpo_id}}/{V}", tags=["ocpi-2.1.1"], responses=router_221.responses
)


@router.get("", response_model=OcpiResponse[m.VersionDetails211], response_model_exclude_none=True)
async def get_version_details(request: Request, caller: AnyToken, ctx: Ctx) -> dict[str, object]:
    """version_information_endpoint §6.2: modules of 2.1.1 (credentials, locations)."""
    endpoints = [
        m.Endpoint211(
            identifier=module, url=module_url(ctx, request, caller.cpo, module, version=V)
        )
        for module in ("credentials", "locations")
    ]
    return ok(ctx, m.VersionDetails211(version=V, endpoints=endpoints))


def _own(ctx: Ctx, request: Request, cpo: Cpo, token: str) -> m.Credentials211:
    return m.Credentials211(
        token=token,
        url=views.versions_url(ctx.base_url(request), cpo.id),
        business_details=m.BusinessDetails(
            name=f"{cpo.country_code}*{cpo.party_id} (OCPPLab reference CPO {cpo.id})"
        ),
        party_id=cpo.party_id,
        country_code=cpo.country_code,
    )


async def _register(
    ctx: Ctx, request: Request, caller: AnyToken, body: m.Credentials211, *, update: bool
) -> dict[str, object]:
    role = {
        "role": "EMSP",
        "business_details": body.business_details.model_dump(mode="json", exclude_none=True),
        "party_id": body.party_id,
        "country_code": body.country_code,
    }
    token_c = await register(
        ctx, caller, token_b=body.token, url=body.url, roles=[role], version=V, update=update
    )
    return ok(ctx, _own(ctx, request, caller.cpo, token_c))


@router.get(
    "/credentials",
    response_model=OcpiResponse[m.Credentials211],
    response_model_exclude_none=True,
)
async def get_credentials(request: Request, caller: AnyToken, ctx: Ctx) -> dict[str, object]:
    """credentials §7.2.1 GET: the credentials the caller uses to reach this CPO."""
    return ok(ctx, _own(ctx, request, caller.cpo, caller.token))


@router.post(
    "/credentials",
    response_model=OcpiResponse[m.Credentials211],
    response_model_exclude_none=True,
)
async def post_credentials(
    request: Request, body: m.Credentials211, caller: AnyToken, ctx: Ctx
) -> dict[str, object]:
    """credentials §7.2.1 POST: store token B, answer token C, void token A; 405 if registered."""
    return await _register(ctx, request, caller, body, update=False)


@router.put(
    "/credentials",
    response_model=OcpiResponse[m.Credentials211],
    response_model_exclude_none=True,
)
async def put_credentials(
    request: Request, body: m.Credentials211, caller: TokenC, ctx: Ctx
) -> dict[str, object]:
    """credentials §7.2.1 PUT: replace token B/url, issue a new token C; 405 if unregistered."""
    return await _register(ctx, request, caller, body, update=True)


@router.delete("/credentials", response_model=OcpiResponse[None], response_model_exclude_none=True)
async def delete_credentials(caller: TokenC, ctx: Ctx) -> dict[str, object]:
    """credentials §7.2.1 DELETE: unregister; token C stops working. 405 if unregistered."""
    await unregister(ctx, caller)
    return ok(ctx, None)


@router.get(
    "/locations", response_model=OcpiResponse[list[m.Location211]], response_model_exclude_none=True
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
    """mod_locations §8.2.1.1 Sender GET list, paginated as in 2.2.1."""
    query = PageQuery(offset, limit, date_from, date_to)
    return await locations_page(request, response, caller, ctx, query, views.ocpi_locations_211)


@router.get(
    "/locations/{location_id}",
    response_model=OcpiResponse[m.Location211],
    response_model_exclude_none=True,
)
async def get_location(location_id: str, caller: TokenC, ctx: Ctx) -> dict[str, object]:
    """mod_locations §8.2.1.2 Sender GET one Location."""
    async with ctx.db.read() as session:
        loc = await find_location(session, caller.cpo, location_id)
        (data,) = await views.ocpi_locations_211(session, caller.cpo, [loc])
    return ok(ctx, data)


@router.get(
    "/locations/{location_id}/{evse_uid}",
    response_model=OcpiResponse[m.Evse211],
    response_model_exclude_none=True,
)
async def get_evse(location_id: str, evse_uid: str, caller: TokenC, ctx: Ctx) -> dict[str, object]:
    """mod_locations §8.2.1.2 Sender GET one EVSE."""
    async with ctx.db.read() as session:
        evse = await find_evse(session, caller.cpo, location_id, evse_uid)
    return ok(ctx, views.ocpi_evse_211(evse))


@router.get(
    "/locations/{location_id}/{evse_uid}/{connector_id}",
    response_model=OcpiResponse[m.Connector211],
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
    return ok(ctx, views.ocpi_connector_211(evse))
