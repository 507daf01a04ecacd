"""A reverse proxy in front of the reference gateway that misbehaves on purpose.

``profile``: every CPO created through it gets this mapping profile, whatever the request said (a
gateway that maps statuses differently from what the scenario assumes). ``delay_s``: every OCPI EVSE
status the proxy serves is the one it first saw ``delay_s`` earlier (a gateway slow to publish).
Absolute URLs in bodies are rewritten to the proxy, so the OCPI traffic passes through it too.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class _Delayed:
    """Per EVSE uid, the statuses seen with when first seen; answers the one of ``delay_s`` ago."""

    def __init__(self, delay_s: float) -> None:
        self.delay_s = delay_s
        self.seen: dict[str, list[tuple[float, str]]] = {}

    def status(self, uid: str, current: str) -> str:
        now = time.monotonic()
        history = self.seen.setdefault(uid, [])
        if not history or history[-1][1] != current:
            history.append((now, current))
        shown = history[0][1]
        for at, status in history:
            if at <= now - self.delay_s:
                shown = status
        return shown

    def rewrite(self, body: Any) -> None:
        if isinstance(body, dict):
            if isinstance(body.get("uid"), str) and isinstance(body.get("status"), str):
                body["status"] = self.status(body["uid"], body["status"])
            for value in body.values():
                self.rewrite(value)
        elif isinstance(body, list):
            for item in body:
                self.rewrite(item)


@asynccontextmanager
async def faulty_gateway(
    upstream: str, *, profile: str | None = None, delay_s: float = 0.0
) -> AsyncIterator[str]:
    """Serve the proxy on a loopback port; yields its base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    sock.setblocking(False)
    base = f"http://127.0.0.1:{sock.getsockname()[1]}"
    delayed = _Delayed(delay_s)
    http = httpx.AsyncClient(base_url=upstream, timeout=60)

    async def forward(request: Request) -> Response:
        body = await request.body()
        path = request.url.path
        if request.method == "POST" and path == "/ocpi/cpos" and profile is not None:
            data = json.loads(body)
            data["mapping_profile"] = profile
            body = json.dumps(data).encode()
        headers = {
            k: v for k, v in request.headers.items() if k.lower() not in ("host", "content-length")
        }
        answer = await http.request(
            request.method, path, params=request.query_params, content=body, headers=headers
        )
        content = answer.content.replace(upstream.encode(), base.encode())
        if delay_s and "/locations" in path and answer.status_code == 200:
            data = json.loads(content)
            delayed.rewrite(data)
            content = json.dumps(data).encode()
        keep = {
            k: v.replace(upstream, base)
            for k, v in answer.headers.items()
            if k.lower() not in ("content-length", "content-encoding", "transfer-encoding")
        }
        return Response(content, status_code=answer.status_code, headers=keep)

    methods = ["GET", "POST", "PUT", "PATCH", "DELETE"]
    app = Starlette(routes=[Route("/{path:path}", forward, methods=methods)])
    config = uvicorn.Config(app, lifespan="off", log_config=None, log_level="warning")
    server = _Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:
            assert not task.done(), "the proxy did not start"
            await asyncio.sleep(0.005)
        yield base
    finally:
        server.should_exit = True
        await task
        sock.close()
        await http.aclose()
