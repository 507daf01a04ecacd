"""Gateway API routes for chargers: credentials and the OCPP command API.

``/ocpi/cpos/{cpo_id}/chargers[/{identity}]`` tells a harness how each charger connects
(security profile, Basic-auth user name and password). ``POST .../chargers/{identity}/commands``
makes the central system send one OCPP CALL to the connected charger and answers what became of
it; every command is recorded and shown in the report. Bearer auth and error shapes as
:mod:`.api`.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Path
from fastapi.exceptions import RequestValidationError
from sqlalchemy import select

from .api import CpoId, Ctx, load_cpo, require_token
from .api_models import (
    ChargerInfo,
    ChargerList,
    CommandList,
    CommandRequest,
    CommandResult,
    HttpErrorResponse,
)
from .commands import CommandOutcome, validate_request
from .context import GatewayContext
from .db import Charger, Cpo, Evse, Location, OcppCommand
from .views import command_view

__all__ = ["router"]

router = APIRouter(
    prefix="/ocpi/cpos/{cpo_id}/chargers",
    tags=["ocpiChargers"],
    dependencies=[Depends(require_token)],
    responses={
        code: {"model": HttpErrorResponse, "description": text}
        for code, text in (
            (401, "Missing or invalid bearer token"),
            (404, "CPO or charger not found"),
            (413, "Request body too large"),
            (500, "Internal server error"),
        )
    },
)

Identity = Annotated[
    str, Path(min_length=1, max_length=64, description="OCPP identity of the charger")
]


async def _live_cpo(ctx: GatewayContext, cpo_id: str) -> Cpo:
    cpo = await load_cpo(ctx, cpo_id)
    if cpo.status == "deleted":
        raise HTTPException(404, f"CPO {cpo_id} was deleted")
    return cpo


async def _chargers(ctx: GatewayContext, cpo: Cpo, identity: str | None) -> list[ChargerInfo]:
    query = (
        select(Charger, Location.ocpi_id)
        .join(Location, Location.pk == Charger.location_pk)
        .where(Charger.cpo_id == cpo.id)
        .order_by(Location.position, Charger.position)
    )
    if identity is not None:
        query = query.where(Charger.identity == identity)
    async with ctx.db.read() as session:
        rows = (await session.execute(query)).all()
        uids: dict[int, list[str]] = {}
        pks = [charger.pk for charger, _ in rows]
        for charger_pk, uid in await session.execute(
            select(Evse.charger_pk, Evse.uid)
            .where(Evse.charger_pk.in_(pks))
            .order_by(Evse.charger_pk, Evse.ocpp_number)
        ):
            uids.setdefault(charger_pk, []).append(uid)
    profile: Literal[0, 1, 2] = cpo.ocpp_security_profile  # type: ignore[assignment]
    return [
        ChargerInfo(
            identity=charger.identity,
            location_id=location_id,
            ocpp_version="1.6" if charger.ocpp_version == "1.6" else "2.0.1",
            evse_uids=uids.get(charger.pk, []),
            security_profile=profile,
            username=charger.identity if profile else None,
            password=charger.password if profile else None,
            ocpp_path=f"/ocpp/{charger.identity}",
            online=ctx.registry.is_online(charger.identity),
        )
        for charger, location_id in rows
    ]


@router.get("", response_model=ChargerList, summary="List chargers with their credentials")
async def list_chargers(cpo_id: CpoId, ctx: Ctx) -> ChargerList:
    """Every charger of the CPO in contract order (empty until ``ready``)."""
    return ChargerList(data=await _chargers(ctx, await _live_cpo(ctx, cpo_id), None))


@router.get("/{identity}", response_model=ChargerInfo, summary="Get one charger")
async def get_charger(cpo_id: CpoId, identity: Identity, ctx: Ctx) -> ChargerInfo:
    """One charger with its connection credentials; 404 if it is not this CPO's."""
    found = await _chargers(ctx, await _live_cpo(ctx, cpo_id), identity)
    if not found:
        raise HTTPException(404, f"charger {identity} not found in CPO {cpo_id}")
    return found[0]


@router.post(
    "/{identity}/commands",
    response_model=CommandResult,
    summary="Send an OCPP command to a charger",
)
async def send_command(
    cpo_id: CpoId, identity: Identity, body: CommandRequest, ctx: Ctx
) -> CommandResult:
    """Send ``action`` with ``payload`` to the charger and wait up to ``timeout_s`` for the
    answer (OCPP 1.6 §5, OCPP 2.0.1 Part 2). 422 when the action is not one the central system
    may send to a charger of this OCPP version or the payload breaks the official schema;
    otherwise 200 with the outcome (also when the charger is offline or times out)."""
    charger = await get_charger(cpo_id, identity, ctx)
    errors = validate_request(charger.ocpp_version, body.action, body.payload)
    if errors:
        raise RequestValidationError(errors)
    sent_at = ctx.clock()
    session = ctx.registry.get(identity)
    outcome = CommandOutcome("offline", error={"description": f"{identity} is not connected"})
    if session is not None and session.central_system is not None:
        outcome = await session.central_system.channel.call(
            body.action, body.payload, body.timeout_s
        )
    row = OcppCommand(
        cpo_id=int(cpo_id),
        station_id=identity,
        action=body.action,
        message_id=outcome.message_id,
        payload=body.payload,
        status=outcome.status,
        response=outcome.response,
        error=outcome.error,
        sent_at=sent_at,
        answered_at=ctx.clock() if outcome.status in ("answered", "callerror") else None,
    )
    async with ctx.db.write() as db_session:
        db_session.add(row)
    return command_view(row)


@router.get(
    "/{identity}/commands", response_model=CommandList, summary="List commands sent to a charger"
)
async def list_commands(cpo_id: CpoId, identity: Identity, ctx: Ctx) -> CommandList:
    """Every command sent to the charger, oldest first."""
    await get_charger(cpo_id, identity, ctx)
    async with ctx.db.read() as session:
        rows = await session.scalars(
            select(OcppCommand)
            .where(OcppCommand.cpo_id == int(cpo_id), OcppCommand.station_id == identity)
            .order_by(OcppCommand.pk)
        )
        return CommandList(data=[command_view(row) for row in rows])
