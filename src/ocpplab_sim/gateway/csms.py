"""OCPP central system: the ``/ocpp/{identity}`` websocket endpoint.

Handshake: the identity must belong to a charger of a ``ready`` CPO (else HTTP 404 unknown /
403 not ready); under security profile 1 or 2 it must present HTTP Basic credentials
``identity:password`` (else HTTP 401), under profile 2 over TLS (else HTTP 403); and it must
offer the subprotocol of its OCPP version (else HTTP 400). Every refusal is recorded as a
gateway event. After that, the version's central system from :mod:`.csms_handlers` serves the
socket until it closes; then the charger's EVSEs go offline (unless a newer socket replaced
this one).
"""

from __future__ import annotations

import base64
import binascii
import hmac
import logging
from typing import Annotated

from fastapi import APIRouter, Depends, WebSocket
from starlette.responses import PlainTextResponse
from starlette.websockets import WebSocketDisconnect, WebSocketDisconnected

from .connections import StationSession
from .context import GatewayContext, get_context
from .csms_base import WebSocketConnection
from .csms_handlers import central_system_for
from .station_store import Station

__all__ = ["router"]

logger = logging.getLogger(__name__)

router = APIRouter()


def _basic_auth_refusal(websocket: WebSocket, station: Station) -> tuple[int, str] | None:
    """Security profiles 1/2 (OCPP 1.6 security whitepaper §2.1-2.2, OCPP 2.0.1 Part 2 A00):
    HTTP Basic with the station identity as user name; profile 2 additionally needs TLS."""
    if station.security_profile < 1:
        return None
    if station.security_profile >= 2 and websocket.url.scheme != "wss":
        return 403, "security profile 2 requires TLS (wss://)"
    scheme, _, value = websocket.headers.get("authorization", "").partition(" ")
    try:
        user, _, password = base64.b64decode(value.strip(), validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        user = password = ""
    expected = station.password or ""
    if scheme.lower() != "basic" or not expected or user != station.identity:
        return 401, "HTTP Basic authentication with the station identity required"
    if not hmac.compare_digest(password.encode(), expected.encode()):
        return 401, "wrong password"
    return None


async def _deny(websocket: WebSocket, status: int, reason: str) -> None:
    if "websocket.http.response" in websocket.scope.get("extensions", {}):
        headers = {"WWW-Authenticate": 'Basic realm="ocpp"'} if status == 401 else None
        response = PlainTextResponse(reason, status_code=status, headers=headers)
        await websocket.send_denial_response(response)
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
        await ctx.stations.event(None, "refused", lookup.refusal[1], identity=identity[:64])
        return
    station = lookup.station
    refusal = _basic_auth_refusal(websocket, station)
    if refusal is None and station.subprotocol not in websocket.scope.get("subprotocols", []):
        refusal = 400, f"{identity} speaks only the {station.subprotocol} subprotocol"
    if refusal is not None:
        await _deny(websocket, *refusal)
        await ctx.stations.event(station, "refused", f"HTTP {refusal[0]}: {refusal[1]}")
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
        session.central_system = central_system
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
