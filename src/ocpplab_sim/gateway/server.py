"""Running the gateway: :class:`EmbeddedGateway` (inside a caller's event loop) and
:func:`serve` (blocking, for the command line).

Both serve the app with uvicorn on a socket bound before start-up, so the port (also port 0,
"any free port") is known before the first request. Neither installs process-wide signal
handlers except :func:`serve`, which stops cleanly on SIGINT/SIGTERM.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
import socket
import sys
from collections.abc import Iterator
from types import TracebackType

import uvicorn

from .app import create_app
from .context import GatewayContext
from .gcpacer import AUTOMATIC_THRESHOLDS, GcPacer
from .limits import guarded_http_protocol
from .settings import GatewaySettings

__all__ = ["EmbeddedGateway", "GatewayStartError", "serve"]

logger = logging.getLogger(__name__)

_START_TIMEOUT = 30.0


class GatewayStartError(RuntimeError):
    """The embedded gateway did not come up (bad database URL, port in use, ...)."""


class _Server(uvicorn.Server):
    """uvicorn without its signal capture: the embedding program owns signal handling."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto must be IPPROTO_TCP: asyncio only sets TCP_NODELAY on accepted sockets that say so,
    # and without it every small response waits ~40 ms for a delayed ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(2048)
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock


def _check_tls(certfile: str, keyfile: str | None) -> None:
    """Load the certificate and key once before serving: a missing or unreadable file is a
    start error naming it, not a traceback from the first handshake."""
    import ssl

    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        context.load_cert_chain(certfile, keyfile)
    except (OSError, ssl.SSLError) as exc:
        reason = getattr(exc, "strerror", None) or getattr(exc, "reason", None) or str(exc)
        which = f"certificate {certfile}" + (f" / key {keyfile}" if keyfile else "")
        raise GatewayStartError(f"TLS {which}: {reason}") from exc


def _config(
    settings: GatewaySettings,
    *,
    standalone: bool,
    ssl_certfile: str | None = None,
    ssl_keyfile: str | None = None,
    log_level: str = "warning",
) -> uvicorn.Config:
    return uvicorn.Config(
        create_app(settings),
        lifespan="on",
        # uvicorn says every websocket open and close at "info": only on request.
        log_level=log_level,
        # Embedded, leave the host program's logging configuration alone.
        log_config=uvicorn.config.LOGGING_CONFIG if standalone else None,
        http=guarded_http_protocol(settings.handshake_timeout, settings.max_pending_handshakes),
        ws="websockets-sansio",
        ws_max_size=settings.ws_max_message_bytes,
        # OCPP chargers send their own Heartbeat; server pings would only add noise.
        ws_ping_interval=None,
        timeout_graceful_shutdown=5,
        access_log=False,
        # With a certificate the one port speaks only TLS: https:// and wss:// (profile 2).
        ssl_certfile=ssl_certfile,
        ssl_keyfile=ssl_keyfile,
    )


class EmbeddedGateway:
    """The gateway served by uvicorn as a task of the current event loop.

    ``async with EmbeddedGateway(settings) as gw:`` returns once the server accepts
    connections at ``gw.url``; leaving the block closes every charger websocket, stops the
    server and disposes the database engine. Raises :class:`GatewayStartError` if start-up fails.
    With ``ssl_certfile``/``ssl_keyfile`` (PEM) the port speaks TLS only and :attr:`url` is
    ``https://...`` (chargers then use ``wss://``).
    """

    def __init__(
        self,
        settings: GatewaySettings,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        ssl_certfile: str | None = None,
        ssl_keyfile: str | None = None,
    ) -> None:
        self.settings = settings
        self._ssl = (ssl_certfile, ssl_keyfile)
        self._host = host
        self._requested_port = port
        self._port: int | None = None
        self._server: _Server | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        """``http://<host>:<port>`` (``https://`` with TLS) of the running server."""
        if self._port is None:
            raise RuntimeError("EmbeddedGateway is not running")
        host = f"[{self._host}]" if ":" in self._host else self._host
        scheme = "https" if self._ssl[0] else "http"
        return f"{scheme}://{host}:{self._port}"

    async def __aenter__(self) -> EmbeddedGateway:
        sock = _bind(self._host, self._requested_port)
        self._port = sock.getsockname()[1]
        certfile, keyfile = self._ssl
        config = _config(
            self.settings, standalone=False, ssl_certfile=certfile, ssl_keyfile=keyfile
        )
        self._server = _Server(config)
        self._task = asyncio.get_running_loop().create_task(
            self._run(sock), name=f"ocpplab-gateway:{self._port}"
        )
        try:
            async with asyncio.timeout(_START_TIMEOUT):
                while not self._server.started:
                    if self._task.done():
                        break
                    await asyncio.sleep(0.01)
        except TimeoutError:
            await self._stop()
            raise GatewayStartError(f"gateway did not start within {_START_TIMEOUT} s") from None
        except BaseException:
            # cancelled while starting (Ctrl-C): the server finishes starting and stops before
            # its owner moves on (and, say, deletes the database's folder under it)
            await self._stop()
            raise
        if not self._server.started:
            await self._stop()
            raise GatewayStartError("gateway failed to start; see the log for the cause")
        return self

    async def _run(self, sock: socket.socket) -> None:
        assert self._server is not None
        try:
            await self._server.serve(sockets=[sock])
        except SystemExit:
            # uvicorn exits the process when lifespan start-up fails; here it only ends the task.
            logger.error("embedded gateway start-up failed")
        finally:
            sock.close()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._stop()

    async def _stop(self) -> None:
        if self._server is None or self._task is None:
            return
        app = self._server.config.loaded_app
        ctx = getattr(getattr(getattr(app, "app", app), "state", None), "gateway", None)
        if isinstance(ctx, GatewayContext):
            # Close chargers first so uvicorn finds no open websocket to wait for.
            await ctx.registry.close_all()
        self._server.should_exit = True
        await asyncio.gather(self._task, return_exceptions=True)
        self._server = self._task = None
        self._port = None


def serve(
    settings: GatewaySettings,
    host: str,
    port: int,
    *,
    ssl_certfile: str | None = None,
    ssl_keyfile: str | None = None,
    log_level: str = "warning",
) -> None:
    """Serve the gateway until SIGINT or SIGTERM, then shut down cleanly (blocking).
    With ``ssl_certfile``/``ssl_keyfile`` the port speaks TLS only. ``log_level`` is uvicorn's
    (``info`` lists every connection)."""
    if ssl_certfile is not None:
        _check_tls(ssl_certfile, ssl_keyfile)
    try:
        sock = _bind(host, port)
    except (OSError, OverflowError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise GatewayStartError(f"cannot listen on {host} port {port}: {reason}") from exc
    config = _config(
        settings,
        standalone=True,
        ssl_certfile=ssl_certfile,
        ssl_keyfile=ssl_keyfile,
        log_level=log_level,
    )
    scheme = "https" if ssl_certfile else "http"
    server = _Server(config)
    # Standalone, the process is the gateway's: what start-up made (modules, the app, the
    # schemas) lives as long as it does, so the cyclic collector stops scanning it. A full
    # collection then costs what the chargers' objects cost, not that plus the program.
    gc.collect()
    gc.freeze()
    # Young collections on a clock (a few ms each); the automatic collector only for bursts
    # and, hours apart at the soonest, full collections (see .gcpacer).
    gc.set_threshold(*AUTOMATIC_THRESHOLDS)
    pacer = GcPacer()

    async def main() -> None:
        loop = asyncio.get_running_loop()
        pacing = loop.create_task(pacer.run(), name="gc-pacer")
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, _request_exit, server)
        actual = sock.getsockname()[1]
        print(
            f"ocpplab gateway listening on {scheme}://{host}:{actual}", file=sys.stderr, flush=True
        )
        try:
            await server.serve(sockets=[sock])
        finally:
            pacing.cancel()
            for sig in (signal.SIGINT, signal.SIGTERM):
                with contextlib.suppress(NotImplementedError, RuntimeError):
                    loop.remove_signal_handler(sig)

    try:
        asyncio.run(main())
    finally:
        sock.close()


def _request_exit(server: uvicorn.Server) -> None:
    # A second signal skips waiting for open connections.
    if server.should_exit:
        server.force_exit = True
    server.should_exit = True
