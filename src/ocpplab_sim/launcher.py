"""Start the embedded reference gateway: the one harness module allowed to import it.

The harness then reaches the gateway only through the URL this yields, over the network, exactly as
it reaches a real gateway.
"""

from __future__ import annotations

import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

__all__ = ["embedded_gateway", "serve_gateway"]


@asynccontextmanager
async def embedded_gateway(token: str, *, host: str = "127.0.0.1") -> AsyncIterator[str]:
    """Run the reference gateway on a free loopback port with a throw-away SQLite database.

    Yields its base URL (``http://127.0.0.1:PORT``); stops it and deletes the database on exit.
    """
    from ocpplab_sim.gateway import EmbeddedGateway, GatewaySettings

    with tempfile.TemporaryDirectory(prefix="ocpplab-gateway-") as tmp:
        db_url = f"sqlite+aiosqlite:///{Path(tmp) / 'gateway.db'}"
        settings = GatewaySettings(token=token, db_url=db_url)
        async with EmbeddedGateway(settings, host=host, port=0) as gateway:
            yield gateway.url


def serve_gateway(
    *, host: str, port: int, db_url: str, token: str, heartbeat_interval: int = 300
) -> None:
    """Serve the reference gateway in the foreground until SIGINT or SIGTERM."""
    from ocpplab_sim.gateway import GatewaySettings, serve

    settings = GatewaySettings(token=token, db_url=db_url, heartbeat_interval=heartbeat_interval)
    serve(settings, host, port)
