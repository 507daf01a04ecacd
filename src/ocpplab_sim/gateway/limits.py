"""Limits against hostile clients.

:class:`BodySizeLimit`: a request body larger than ``max_bytes`` is answered 413 without being
read into memory (declared by ``Content-Length``) or as soon as the streamed bytes pass the
limit (chunked bodies).

:func:`guarded_http_protocol`: uvicorn's h11 protocol with a request-header timeout and a cap
on connections that have not sent their request headers yet (a websocket handshake is such a
request). uvicorn has neither: a socket that sends nothing, or half a request, is otherwise
held forever, and enough of them exhaust the process's open files for everyone.
"""

from __future__ import annotations

import asyncio
import logging

import h11
from fastapi import HTTPException
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.protocols.http.h11_impl import H11Protocol

__all__ = ["BodySizeLimit", "guarded_http_protocol"]

logger = logging.getLogger(__name__)


class BodyTooLarge(HTTPException):
    """Raised from ``receive`` once a streamed body passes the limit; FastAPI renders it."""

    def __init__(self, max_bytes: int) -> None:
        super().__init__(413, f"request body larger than {max_bytes} bytes")


class BodySizeLimit:
    """ASGI middleware enforcing ``max_bytes`` on HTTP request bodies."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None:
            try:
                size = int(declared)
            except ValueError:
                size = -1
            if size < 0:
                response = JSONResponse({"detail": "invalid Content-Length"}, status_code=400)
                await response(scope, receive, send)
                return
            if size > self.max_bytes:
                detail = f"request body larger than {self.max_bytes} bytes"
                await JSONResponse({"detail": detail}, status_code=413)(scope, receive, send)
                return
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise BodyTooLarge(self.max_bytes)
            return message

        await self.app(scope, limited, send)


#: A connection waiting this long for its request headers is not merely queued behind a
#: connect storm (on any network a client sends its request at once): over the cap it goes.
MIN_EVICTABLE_AGE = 1.0


def _open_files_allowed() -> int:
    try:
        import resource
    except ImportError:  # pragma: no cover - Windows
        return 1 << 20
    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    return soft if soft != resource.RLIM_INFINITY else 1 << 20


class _PendingHeaders:
    """The connections of one server still waiting for request headers, oldest first.

    Over ``cap``, the oldest is closed once it has waited :data:`MIN_EVICTABLE_AGE`; younger
    ones are in a connect storm (thousands of chargers reconnecting after a restart arrive
    faster than the loop reads their requests), not stalling. Over ``hard_cap`` (four times
    ``cap``, at most half the open files the process may have) the oldest goes whatever its
    age, so stalled sockets can never use up the file descriptors.
    """

    def __init__(self, timeout: float, cap: int) -> None:
        self.timeout = timeout
        self.cap = cap
        self.hard_cap = max(cap, min(4 * cap, _open_files_allowed() // 2))
        self.waiting: dict[_GuardedH11Protocol, float] = {}
        self.evicted = 0
        self.timed_out = 0


class _GuardedH11Protocol(H11Protocol):
    """H11Protocol that closes a connection whose request headers do not arrive within
    ``timeout`` (on a new connection and between keep-alive requests once bytes of the next
    one arrive) and, at ``cap`` such connections, closes the oldest to admit a new one (see
    :class:`_PendingHeaders`)."""

    _pending: _PendingHeaders
    _header_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._wait_for_headers()

    def connection_lost(self, exc: Exception | None) -> None:
        self._headers_done()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self.conn.their_state is h11.IDLE and self._header_timer is None:
            # The first bytes of a further keep-alive request: uvicorn just stopped its idle
            # timer, so the headers need their own deadline again.
            self._wait_for_headers()
        super().data_received(data)
        if self.conn.their_state is not h11.IDLE:
            self._headers_done()

    def _wait_for_headers(self) -> None:
        pending = self._pending
        now = self.loop.time()
        while len(pending.waiting) >= pending.cap:
            oldest, since = next(iter(pending.waiting.items()))
            if len(pending.waiting) < pending.hard_cap and now - since < MIN_EVICTABLE_AGE:
                break
            oldest._headers_done()
            pending.evicted += 1
            if pending.evicted == 1 or pending.evicted % 1000 == 0:
                logger.warning(
                    "%d connections were still sending their request headers: closed the oldest"
                    " (%d so far)",
                    len(pending.waiting),
                    pending.evicted,
                )
            oldest.transport.close()
        pending.waiting[self] = now
        self._header_timer = self.loop.call_later(pending.timeout, self._headers_timed_out)

    def _headers_done(self) -> None:
        self._pending.waiting.pop(self, None)
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _headers_timed_out(self) -> None:
        self._header_timer = None
        if self not in self._pending.waiting:
            return
        del self._pending.waiting[self]
        self._pending.timed_out += 1
        logger.debug("request headers not complete within %g s: closing", self._pending.timeout)
        self.transport.close()


def guarded_http_protocol(timeout: float, cap: int) -> type[H11Protocol]:
    """An h11 protocol class for one server: request headers within ``timeout`` seconds, at
    most ``cap`` connections waiting for theirs (a new one closes the oldest)."""
    return type(
        "GuardedH11Protocol", (_GuardedH11Protocol,), {"_pending": _PendingHeaders(timeout, cap)}
    )
