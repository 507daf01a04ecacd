"""Gateway API routes (``/ocpi/cpos``): provision, inspect and delete CPO networks.

Bearer auth on every route (401 ``{"detail"}`` when missing or wrong). ``cpo_id`` must match
``^\\d+$`` (else FastAPI's 422); an unknown id is 404. A deleted CPO stays readable through
``/status``, ``GET /ocpi/cpos/{id}`` and ``/report`` (status ``deleted``); its ``/locations`` is
404 and it no longer appears in the list.
"""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, Response, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import func, select

from . import views
from .api_models import (
    CPO_ID_PATTERN,
    Cpo,
    CpoCreate,
    CpoList,
    CpoReport,
    CpoStatus,
    HttpErrorResponse,
    Lease,
    LeaseRequest,
    OcpiLocationListResponse,
)
from .context import GatewayContext, get_context
from .db import Cpo as CpoRow
from .provisioning import ConflictError

__all__ = ["CpoId", "Ctx", "load_cpo", "require_token", "router"]

_bearer = HTTPBearer(auto_error=False, description="Bearer authentication")


async def require_token(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> None:
    """401 unless ``Authorization: Bearer <settings.token>``."""
    ctx = get_context(request)
    if credentials is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "missing bearer token",
            headers={"WWW-Authenticate": "Bearer"},
        )
    if not hmac.compare_digest(credentials.credentials.encode(), ctx.settings.token.encode()):
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED, "invalid token", headers={"WWW-Authenticate": "Bearer"}
        )


_errors: dict[int | str, dict[str, object]] = {
    code: {"model": HttpErrorResponse, "description": text}
    for code, text in (
        (401, "Missing or invalid bearer token"),
        (404, "CPO not found"),
        (413, "Request body too large"),
        (500, "Internal server error"),
    )
}

router = APIRouter(
    prefix="/ocpi/cpos",
    tags=["ocpiCpos"],
    dependencies=[Depends(require_token)],
    responses=_errors,
)

CpoId = Annotated[
    str,
    Path(
        pattern=CPO_ID_PATTERN,
        description="CPO identifier: the stringified integer returned by POST /ocpi/cpos.",
    ),
]
Ctx = Annotated[GatewayContext, Depends(get_context)]


async def load_cpo(ctx: GatewayContext, cpo_id: str) -> CpoRow:
    """The CPO row (also deleted ones); 404 when there is none."""
    # Ids beyond 64-bit cannot exist; checking avoids an integer overflow in the driver.
    if len(cpo_id) > 18:
        raise HTTPException(404, f"CPO {cpo_id} not found")
    async with ctx.db.read() as session:
        cpo = await session.get(CpoRow, int(cpo_id))
    if cpo is None:
        raise HTTPException(404, f"CPO {cpo_id} not found")
    return cpo


@router.post(
    "",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=Cpo,
    summary="Create CPO (durable)",
    responses={409: {"model": HttpErrorResponse, "description": "idempotency_key reused"}},
)
async def create_cpo(body: CpoCreate, request: Request, ctx: Ctx) -> Cpo:
    """Write the CPO as ``pending`` and provision it in the background; poll ``/status``.

    The answer carries ``token_a`` and ``roam_helper`` (shown only here). Repeating a request
    with the same ``idempotency_key`` returns the same CPO; a different request with a used key
    is 409.
    """
    try:
        cpo, creds = await ctx.provisioner.create(body)
    except ConflictError as exc:
        raise HTTPException(409, str(exc)) from exc
    return views.cpo_view(cpo, ctx.base_url(request), token_a=creds.token_a)


@router.get("", response_model=CpoList, summary="List CPOs")
async def list_cpos(
    request: Request,
    ctx: Ctx,
    page: Annotated[int, Query(ge=1, le=1_000_000, description="One-based page number")] = 1,
    limit: Annotated[int, Query(ge=1, le=500, description="Page size")] = 50,
) -> CpoList:
    """CPOs that are not deleted, oldest first."""
    async with ctx.db.read() as session:
        live = CpoRow.status != "deleted"
        total = await session.scalar(select(func.count()).select_from(CpoRow).where(live))
        rows = await session.scalars(
            select(CpoRow).where(live).order_by(CpoRow.id).offset((page - 1) * limit).limit(limit)
        )
        base = ctx.base_url(request)
        data = [views.cpo_view(cpo, base) for cpo in rows]
    return CpoList(data=data, total=total or 0, page=page, limit=limit)


@router.get("/{cpo_id}/status", response_model=CpoStatus, summary="Get CPO provisioning status")
async def get_status(cpo_id: CpoId, ctx: Ctx) -> CpoStatus:
    """Provisioning state: pending → provisioning → ready | failed (with ``error``); deleted."""
    cpo = await load_cpo(ctx, cpo_id)
    return CpoStatus(
        cpo_id=str(cpo.id),
        status=cpo.status,
        error=cpo.error,
        updated_at=cpo.updated_at,
    )


@router.get("/{cpo_id}", response_model=Cpo, summary="Get CPO")
async def get_cpo(cpo_id: CpoId, request: Request, ctx: Ctx) -> Cpo:
    """Status + metadata for a single CPO (``token_a`` and ``roam_helper`` are null)."""
    return views.cpo_view(await load_cpo(ctx, cpo_id), ctx.base_url(request))


@router.post(
    "/{cpo_id}/lease",
    response_model=Lease,
    summary="Renew the CPO's lease",
    responses={409: {"model": HttpErrorResponse, "description": "the CPO is deleted"}},
)
async def renew_lease(cpo_id: CpoId, body: LeaseRequest, ctx: Ctx) -> Lease:
    """Set the CPO to expire ``ttl_seconds`` from now (a harness renews a short lease while it
    runs, so a harness killed outright leaves its CPO behind for one lease at most). 409 once
    the CPO is deleted."""
    await load_cpo(ctx, cpo_id)
    expires_at = await ctx.provisioner.renew(int(cpo_id), body.ttl_seconds)
    if expires_at is None:
        raise HTTPException(409, f"CPO {cpo_id} is deleted")
    return Lease(cpo_id=cpo_id, expires_at=expires_at)


@router.delete(
    "/{cpo_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    summary="Delete CPO",
)
async def delete_cpo(cpo_id: CpoId, ctx: Ctx) -> Response:
    """Mark the CPO deleted, revoke its OCPI tokens and close its chargers' websockets.

    Deleting an already deleted CPO is accepted again (204).
    """
    await load_cpo(ctx, cpo_id)
    await ctx.provisioner.delete(int(cpo_id))
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/{cpo_id}/report", response_model=CpoReport, summary="Get CPO report")
async def get_report(cpo_id: CpoId, ctx: Ctx) -> CpoReport:
    """EVSE statuses with history, OCPP message counts, connections, transactions, OCPI state."""
    cpo = await load_cpo(ctx, cpo_id)
    await ctx.stations.sync()  # counters and queued writes first: the report is current
    async with ctx.db.read() as session:
        return await views.report_view(session, cpo)


@router.get(
    "/{cpo_id}/locations",
    response_model=OcpiLocationListResponse,
    summary="List locations in a network",
    tags=["ocpiLocations"],
)
async def list_locations(
    cpo_id: CpoId,
    ctx: Ctx,
    page: Annotated[int, Query(ge=1, le=1_000_000, description="One-based page number")] = 1,
    limit: Annotated[int, Query(ge=1, le=500, description="Locations per page")] = 50,
) -> OcpiLocationListResponse:
    """A page of the CPO's locations with chargers and EVSEs (empty until ``ready``)."""
    cpo = await load_cpo(ctx, cpo_id)
    if cpo.status == "deleted":
        raise HTTPException(404, f"CPO {cpo_id} was deleted")
    async with ctx.db.read() as session:
        return await views.gateway_locations(session, cpo, page, limit)
