"""OCPP central system: the ``/ocpp/{identity}`` websocket endpoint.

Handshake: the identity must belong to a charger of a ``ready`` CPO (else HTTP 404 unknown /
403 not ready) and the charger must offer the subprotocol of its OCPP version (else HTTP 400).
After that, the version's central system from :mod:`.csms_handlers` serves the socket until it
closes; then the charger's EVSEs go offline (unless a newer socket replaced this one).
"""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, Depends, WebSocket
from starlette.responses import PlainTextResponse
from starlette.websockets import WebSocketDisconnect, WebSocketDisconnected

from .connections import StationSession
from .context import GatewayContext, get_context
from .csms_base import WebSocketConnection
from .csms_handlers import central_system_for

__all__ = ["router"]

logger = logging.getLogger(__name__)

router = APIRouter()


async def _deny(websocket: WebSocket, status: int, reason: str) -> None:
    if "websocket.http.response" in websocket.scope.get("extensions", {}):
        await websocket.send_denial_response(PlainTextResponse(reason, status_code=status))
    else:
        # Without the denial-response extension the server answers the handshake with 403.
        await websocket.close(code=1008, reason=reason)


@router.websocket("/ocpp/{identity}")
async def ocpp_websocket(
    websocket: WebSocket, identity: str, ctx: Annotated[GatewayContext, Depends(get_context)]
) -> None:
    """OCPP-J endpoint of one charging station (OCPP-J 1.6 §3, OCPP 2.0.1 Part 4 §3)."""
    lookup = await ctx.stations.lookup(identity)
    if lookup.station is None:
        assert lookup.refusal is not None
        await _deny(websocket, *lookup.refusal)
        return
    station = lookup.station
    if station.subprotocol not in websocket.scope.get("subprotocols", []):
        await _deny(websocket, 400, f"{identity} speaks only the {station.subprotocol} subprotocol")
        return
    await websocket.accept(subprotocol=station.subprotocol)
    session = StationSession(websocket, station)
    previous = ctx.registry.register(session)
    try:
        if previous is not None:
            await ctx.registry.close([previous], 1000, "replaced by a new connection")
        await ctx.stations.connected(station)
        # The CPO may have been deleted between the lookup and the registration above.
        if (await ctx.stations.lookup(identity)).station is None:
            await session.close(1000, "CPO no longer ready")
        central_system = central_system_for(station, WebSocketConnection(websocket), ctx)
        await central_system.serve()
    except (WebSocketDisconnect, WebSocketDisconnected):
        pass
    except Exception:
        logger.exception("%s: websocket session failed", identity)
    finally:
        still_current = ctx.registry.release(session)
        try:
            await ctx.stations.disconnected(station, still_current=still_current)
        except Exception:
            logger.exception("%s: could not record the disconnect", identity)
        finally:
            session.ended.set()
