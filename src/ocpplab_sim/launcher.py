"""Start the embedded reference gateway: the one harness module allowed to import it.

The harness then reaches the gateway only through the URL this yields, over the network, exactly as
it reaches a real gateway.
"""

from __future__ import annotations

import sys
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
    *,
    host: str,
    port: int,
    db_url: str,
    token: str,
    heartbeat_interval: int = 300,
    heartbeat_timeout_factor: float | None = None,
    heartbeat_grace: float | None = None,
    public_base_url: str | None = None,
    expiry_sweep_interval: float | None = None,
    ssl_certfile: str | None = None,
    ssl_keyfile: str | None = None,
    log_level: str = "warning",
) -> None:
    """Serve the reference gateway in the foreground until SIGINT or SIGTERM.

    Raises InputError for settings the gateway refuses (e.g. a bad database URL).
    """
    from pydantic import ValidationError

    from ocpplab_sim.errors import InputError
    from ocpplab_sim.gateway import GatewaySettings, GatewayStartError, serve
    from ocpplab_sim.gateway.settings import DEFAULT_TOKEN

    options: dict[str, object] = {
        "token": token,
        "db_url": db_url,
        "heartbeat_interval": heartbeat_interval,
        "public_base_url": public_base_url,
    }
    if heartbeat_timeout_factor is not None:
        options["heartbeat_timeout_factor"] = heartbeat_timeout_factor
    if heartbeat_grace is not None:
        options["heartbeat_grace"] = heartbeat_grace
    if expiry_sweep_interval is not None:
        options["expiry_sweep_interval"] = expiry_sweep_interval
    try:
        settings = GatewaySettings.model_validate(options)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(part) for part in first["loc"])
        flag = _FLAGS.get(field, f"gateway setting {field}")
        message = str(first["msg"]).removeprefix("Value error, ")
        raise InputError(f"{flag}: {message}") from exc
    if (ssl_certfile is None) != (ssl_keyfile is None):
        raise InputError("--ssl-certfile and --ssl-keyfile go together")
    if token == DEFAULT_TOKEN:
        if not _loopback_only(host):
            raise InputError(
                f"--host {host}: refusing the well-known development token on an address "
                "others can reach; give --token (or OCPPLAB_TOKEN)"
            )
        print(
            "ocpplab gateway: WARNING: no --token given, so the Gateway API accepts the "
            f"well-known development token {DEFAULT_TOKEN!r} (fine on loopback only)",
            file=sys.stderr,
            flush=True,
        )
    try:
        serve(
            settings,
            host,
            port,
            ssl_certfile=ssl_certfile,
            ssl_keyfile=ssl_keyfile,
            log_level=log_level,
        )
    except GatewayStartError as exc:
        raise InputError(str(exc)) from exc


_FLAGS = {
    "token": "--token",
    "db_url": "--db",
    "heartbeat_interval": "--heartbeat-interval",
    "heartbeat_timeout_factor": "--heartbeat-timeout-factor",
    "heartbeat_grace": "--heartbeat-grace",
    "public_base_url": "--public-base-url",
    "expiry_sweep_interval": "--expiry-sweep",
}


def _loopback_only(host: str) -> bool:
    """Every address ``host`` names is a loopback one (an unresolvable host: the bind says so)."""
    import ipaddress
    import socket

    try:
        infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        return True
    return all(ipaddress.ip_address(str(info[4][0]).split("%")[0]).is_loopback for info in infos)
