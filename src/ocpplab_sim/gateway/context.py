"""The per-app service bundle that routes and websocket handlers reach via ``app.state``."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime

import aiohttp
from starlette.requests import HTTPConnection

from .connections import ConnectionRegistry
from .db import Database
from .provisioning import Provisioner
from .pusher import Pusher
from .settings import GatewaySettings
from .station_store import StationStore
from .templates import Template

__all__ = ["GatewayContext", "get_context"]


@dataclass
class GatewayContext:
    """Everything a running gateway shares; built at start-up, torn down at shutdown."""

    settings: GatewaySettings
    db: Database
    catalog: Mapping[str, Template]
    clock: Callable[[], datetime]
    stations: StationStore
    registry: ConnectionRegistry
    provisioner: Provisioner
    http: aiohttp.ClientSession
    pusher: Pusher

    def base_url(self, conn: HTTPConnection) -> str:
        """Scheme://host[:port] for absolute URLs: ``public_base_url`` or the request's."""
        if self.settings.public_base_url:
            return self.settings.public_base_url.rstrip("/")
        return str(conn.base_url).rstrip("/")


def get_context(conn: HTTPConnection) -> GatewayContext:
    """FastAPI dependency: the running gateway's context (HTTP requests and websockets)."""
    ctx = getattr(conn.app.state, "gateway", None)
    if not isinstance(ctx, GatewayContext):
        raise RuntimeError("gateway not started: lifespan did not run")
    return ctx
