"""Serve an ASGI app of the harness (the eMSP receiver, the control API) with uvicorn as a task
of the running event loop, on a socket bound before start-up (so port 0 works and the port is
known at once). The embedding program keeps its signal handling and its logging setup.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Iterator
from typing import Any

import uvicorn

from ocpplab_sim.errors import ConnectivityError

__all__ = ["ServedApp"]

_START_TIMEOUT = 10.0


class _Server(uvicorn.Server):
    """uvicorn without its signal capture: the embedding program owns signal handling."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class ServedApp:
    """``await served.start()`` returns once ``app`` accepts connections at :attr:`url`;
    :meth:`stop` ends it (open connections get ``grace_s`` to finish). ``what`` names it in
    errors: a socket that cannot be bound or a server that does not start raise
    :class:`ConnectivityError`."""

    def __init__(
        self,
        app: Any,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        what: str = "server",
        grace_s: int = 1,
    ) -> None:
        self.app = app
        self.host = host
        self.requested_port = port
        self.what = what
        self.grace_s = grace_s
        self.port: int | None = None
        self._server: _Server | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        """``http://HOST:PORT`` of the running server."""
        if self.port is None:
            raise RuntimeError(f"the {self.what} is not running")
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    async def start(self) -> None:
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        # IPPROTO_TCP: asyncio sets TCP_NODELAY only on accepted sockets that say so
        sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((self.host, self.requested_port))
            sock.listen(256)
            sock.setblocking(False)
        except OSError as exc:
            sock.close()
            where = f"{self.host}:{self.requested_port}"
            reason = exc.strerror or str(exc)
            raise ConnectivityError(f"{self.what} cannot listen on {where}: {reason}") from exc
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(
            self.app,
            lifespan="off",
            log_config=None,
            log_level="warning",
            access_log=False,
            timeout_graceful_shutdown=self.grace_s,
        )
        self._server = _Server(config)
        self._task = asyncio.get_running_loop().create_task(self._serve(sock))
        # uvicorn offers no start-up event to wait on: poll its flag, briefly.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(_START_TIMEOUT):
                while not self._server.started:
                    if self._task.done():
                        break
                    await asyncio.sleep(0.005)
        if not self._server.started:
            await self.stop()
            raise ConnectivityError(f"{self.what} did not start")

    async def _serve(self, sock: socket.socket) -> None:
        assert self._server is not None
        try:
            await self._server.serve(sockets=[sock])
        finally:
            sock.close()

    async def stop(self) -> None:
        """Stop serving (idempotent)."""
        if self._server is not None and self._task is not None:
            self._server.should_exit = True
            await asyncio.gather(self._task, return_exceptions=True)
        self._server = self._task = None
        self.port = None
