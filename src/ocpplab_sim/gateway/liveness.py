"""Offline detection by silence: a charger whose socket stays open but which has sent nothing
(no Heartbeat, no other CALL) for ``heartbeat_timeout_factor × heartbeat_interval +
heartbeat_grace`` seconds is treated as offline — its EVSEs become the mapping profile's
offline status (UNKNOWN by default). The next frame it sends marks the charger online again;
each EVSE then waits for its next StatusNotification, as after a reconnect.
"""

from __future__ import annotations

import asyncio
import logging

from .connections import ConnectionRegistry
from .settings import GatewaySettings
from .station_store import StationStore

__all__ = ["silence_limit", "watch_heartbeats"]

logger = logging.getLogger(__name__)


def silence_limit(settings: GatewaySettings) -> float:
    """Seconds of silence after which a connected charger counts as offline."""
    return (
        settings.heartbeat_timeout_factor * settings.heartbeat_interval + settings.heartbeat_grace
    )


async def watch_heartbeats(
    settings: GatewaySettings, registry: ConnectionRegistry, stations: StationStore
) -> None:
    """Check every live session a few times per silence limit, until cancelled."""
    limit = silence_limit(settings)
    period = max(0.05, min(limit / 4, 5.0))
    while True:
        await asyncio.sleep(period)
        try:
            await _check(limit, registry, stations)
        except Exception:
            logger.exception("heartbeat check failed")


async def _check(limit: float, registry: ConnectionRegistry, stations: StationStore) -> None:
    now = stations.now()
    for session in registry.sessions():
        central_system = session.central_system
        if central_system is None:
            continue
        if session.silent_since is None:
            if (now - central_system.last_seen).total_seconds() > limit:
                session.silent_since = now
                await stations.silent(session.station, limit)
        elif central_system.last_seen > session.silent_since:
            session.silent_since = None
            await stations.revived(session.station)
