"""A live Prometheus text endpoint for a load run (``--prometheus PORT``), loopback only.

Plain asyncio HTTP on its own thread and event loop, so it answers whatever the run is doing
(the parent of worker processes blocks on a queue). ``GET /metrics`` returns the text
exposition format (version 0.0.4) of the latest second of the run: gauges for connected and
charging chargers and the last second's latency quantiles, counters for booted chargers,
sessions, messages and errors.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from typing import Any

__all__ = ["PrometheusExporter", "render_metrics"]

_PREFIX = "ocpplab_load"
_METRICS: tuple[tuple[str, str, str, str], ...] = (
    # (name, type, key in the timeline point, help)
    ("connected", "gauge", "connected", "Chargers connected now."),
    ("charging", "gauge", "charging", "Chargers in a charging session now."),
    ("booted_total", "counter", "booted", "Chargers connected and booted since the start."),
    ("sessions_started_total", "counter", "sessions", "Charging sessions started."),
    ("errors_total", "counter", "errors", "Errors counted (connect, session, CALLERROR)."),
    ("messages_total", "counter", "messages_total", "OCPP frames sent and received."),
    ("elapsed_seconds", "gauge", "t", "Seconds since the run started."),
)


def render_metrics(point: dict[str, Any] | None) -> str:
    """The exposition text for one timeline point (``None``: the run has not reported yet)."""
    point = point or {}
    lines: list[str] = []
    for name, kind, key, text in _METRICS:
        lines += [
            f"# HELP {_PREFIX}_{name} {text}",
            f"# TYPE {_PREFIX}_{name} {kind}",
            f"{_PREFIX}_{name} {float(point.get(key, 0)):g}",
        ]
    name = f"{_PREFIX}_call_latency_seconds"
    lines += [f"# HELP {name} OCPP call latency over the last second.", f"# TYPE {name} summary"]
    for quantile, key in (("0.5", "p50_s"), ("0.99", "p99_s")):
        lines.append(f'{name}{{quantile="{quantile}"}} {float(point.get(key, 0.0)):g}')
    return "\n".join(lines) + "\n"


class PrometheusExporter:
    """Serve :func:`render_metrics` of the latest :meth:`update` on ``host:port``.

    ``start()`` returns the bound port (``port=0`` picks a free one); ``close()`` stops the
    thread. Safe to call :meth:`update` from any thread.
    """

    def __init__(self, port: int, host: str = "127.0.0.1") -> None:
        self.host, self.port = host, port
        self._point: dict[str, Any] | None = None
        self._messages = 0
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._stop: asyncio.Event | None = None

    def update(self, point: dict[str, Any]) -> None:
        with self._lock:
            self._messages += int(point.get("messages", 0))
            self._point = {**point, "messages_total": self._messages}

    def text(self) -> str:
        with self._lock:
            return render_metrics(self._point)

    def start(self) -> int:
        ready = threading.Event()
        failure: list[BaseException] = []

        def serve() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            try:
                loop.run_until_complete(self._serve(ready))
            except BaseException as exc:  # reported to start()
                failure.append(exc)
                ready.set()
            finally:
                loop.close()

        self._thread = threading.Thread(target=serve, name="prometheus", daemon=True)
        self._thread.start()
        ready.wait(10)
        if failure:
            raise OSError(f"--prometheus {self.port}: {failure[0]}")
        return self.port

    async def _serve(self, ready: threading.Event) -> None:
        self._stop = asyncio.Event()
        server = await asyncio.start_server(self._handle, self.host, self.port)
        self.port = server.sockets[0].getsockname()[1]
        ready.set()
        async with server:
            await self._stop.wait()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            request = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
            path = request.split(b" ", 2)[1] if request.count(b" ") >= 2 else b""
            if path.split(b"?")[0] in (b"/metrics", b"/"):
                status, body = "200 OK", self.text().encode()
            else:
                status, body = "404 Not Found", b"not found\n"
            writer.write(
                f"HTTP/1.1 {status}\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8"
                f"\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
                + body
            )
            await writer.drain()
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()

    def close(self) -> None:
        loop, stop = self._loop, self._stop
        if loop is not None and stop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(stop.set)
        if self._thread is not None:
            self._thread.join(10)
            self._thread = None
