"""Live charger websockets, by identity, so they can be closed from outside their handler.

At most one websocket per identity is current: a charger that reconnects replaces (and closes)
its previous socket. :meth:`ConnectionRegistry.release` tells the closing handler whether it
was still current, so a replaced socket never marks the fresh connection's EVSEs offline.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from typing import Protocol

from starlette.websockets import WebSocket, WebSocketDisconnected, WebSocketState

from .commands import CommandChannel
from .station_store import Station

__all__ = ["ConnectionRegistry", "StationSession"]

logger = logging.getLogger(__name__)


class LiveCentralSystem(Protocol):
    """What the registry needs of the central system serving a session."""

    channel: CommandChannel
    last_seen: datetime


class StationSession:
    """One accepted websocket of one charger. ``central_system`` is set once it serves the
    socket; ``silent_since`` is set while the charger is considered offline for silence."""

    def __init__(self, websocket: WebSocket, station: Station) -> None:
        self.websocket = websocket
        self.station = station
        self.ended = asyncio.Event()
        self.central_system: LiveCentralSystem | None = None
        self.silent_since: datetime | None = None

    async def close(self, code: int, reason: str) -> None:
        """Start the closing handshake; the handler notices and ends. Safe to call twice."""
        if self.websocket.application_state != WebSocketState.CONNECTED:
            return
        try:
            await self.websocket.close(code=code, reason=reason)
        except (OSError, RuntimeError, WebSocketDisconnected):
            # Already closing from the other side: nothing left to do.
            logger.debug("close of %s raced with the peer", self.station.identity)


class ConnectionRegistry:
    """Current :class:`StationSession` per charger identity."""

    def __init__(self) -> None:
        self._sessions: dict[str, StationSession] = {}

    def register(self, session: StationSession) -> StationSession | None:
        """Make ``session`` current for its identity; return the session it replaces."""
        identity = session.station.identity
        previous = self._sessions.get(identity)
        self._sessions[identity] = session
        return previous

    def release(self, session: StationSession) -> bool:
        """Forget ``session``; True if it was still the current one for its identity."""
        identity = session.station.identity
        if self._sessions.get(identity) is session:
            del self._sessions[identity]
            return True
        return False

    def sessions(self, cpo_id: int | None = None) -> list[StationSession]:
        return [s for s in self._sessions.values() if cpo_id is None or s.station.cpo_id == cpo_id]

    def is_online(self, identity: str) -> bool:
        return identity in self._sessions

    def get(self, identity: str) -> StationSession | None:
        """The current session of ``identity``, if it is connected."""
        return self._sessions.get(identity)

    async def close(self, sessions: list[StationSession], code: int, reason: str) -> None:
        """Close ``sessions`` and wait (up to 5 s) until their handlers have finished."""
        await asyncio.gather(*(s.close(code, reason) for s in sessions))
        waits = [asyncio.ensure_future(s.ended.wait()) for s in sessions]
        if waits:
            _done, pending = await asyncio.wait(waits, timeout=5.0)
            for task in pending:
                task.cancel()
            if pending:
                logger.warning("%d charger websocket(s) did not end after close", len(pending))
                await asyncio.gather(*pending, return_exceptions=True)

    async def close_cpo(self, cpo_id: int) -> None:
        """Disconnect every charger of one CPO (it was deleted)."""
        await self.close(self.sessions(cpo_id), 1000, "CPO deleted")

    async def close_all(self) -> None:
        """Disconnect every charger (the gateway is stopping)."""
        await self.close(self.sessions(), 1001, "gateway shutting down")
