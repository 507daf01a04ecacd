"""Gateway API route for events that belong to no CPO: ``GET /gateway/events``.

A websocket handshake of an identity no CPO owns is refused (HTTP 404) and recorded with no
CPO, so it shows in no report; this route lists those events (the newest ``limit``, oldest
first). Bearer auth and error shapes as :mod:`.api`.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from sqlalchemy import select

from .api import Ctx, require_token
from .api_models import GatewayEventList, HttpErrorResponse, ReportEvent
from .db import GatewayEvent

__all__ = ["router"]

router = APIRouter(
    prefix="/gateway",
    tags=["gateway"],
    dependencies=[Depends(require_token)],
    responses={401: {"model": HttpErrorResponse, "description": "Missing or invalid token"}},
)


@router.get("/events", response_model=GatewayEventList)
async def list_events(
    ctx: Ctx, limit: Annotated[int, Query(ge=1, le=500)] = 100
) -> GatewayEventList:
    """Refused handshakes of unknown identities (and any other event without a CPO)."""
    await ctx.stations.sync()
    async with ctx.db.read() as session:
        rows = list(
            await session.scalars(
                select(GatewayEvent)
                .where(GatewayEvent.cpo_id.is_(None))
                .order_by(GatewayEvent.pk.desc())
                .limit(limit)
            )
        )
    return GatewayEventList(
        data=[ReportEvent.model_validate(row, from_attributes=True) for row in reversed(rows)]
    )
