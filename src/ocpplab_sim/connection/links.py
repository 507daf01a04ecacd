"""Websocket links: one open OCPP-J websocket, over either of two websocket libraries.

A :class:`Link` delivers every received message to ``on_message`` (as ``str`` or as its UTF-8
``bytes``, whichever the library hands over more cheaply) and calls ``on_closed`` exactly once
when the socket is gone, whoever closed it.
:func:`open_link` opens one:

- ``websockets`` (the default): the pure-Python library, every feature; its data frames are
  delivered from the protocol callback (no reader task);
- ``picows``: a compiled library with a callback API and no reader task. It connects and
  answers with about half the CPU of ``websockets``, which is what limits a load run's
  connect rate and calls per second on a few cores.

Both offer one subprotocol, HTTP headers (Basic auth), TLS with an ``SSLContext`` (security
profiles 2 and 3) and a local source address, and both report a refused handshake's HTTP status
in :class:`LinkError`. Messages arrive whole: ``picows`` fragments are reassembled here.

A source address is bound with ``IP_BIND_ADDRESS_NO_PORT`` where the system has it: the local
port is then chosen by ``connect()`` per destination, not by ``bind()`` across every port in
use, which at tens of thousands of sockets cost more than the rest of a connect.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import socket
import ssl
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import urlsplit

from picows import (
    WSCloseCode,
    WSError,
    WSFrame,
    WSInvalidStatusError,
    WSListener,
    WSMsgType,
    WSTransport,
    WSUpgradeResponse,
    ws_connect,
)

__all__ = [
    "TRANSPORTS",
    "Link",
    "LinkClosed",
    "LinkError",
    "LinkOptions",
    "OnClosed",
    "OnMessage",
    "Transport",
    "open_link",
]

try:  # the OPEN state of websockets' sans-I/O protocol, for the link's send_nowait
    from websockets.protocol import State as _WsState

    _WS_OPEN: Any = _WsState.OPEN
except ImportError:  # pragma: no cover - an older websockets: send_nowait always declines
    _WS_OPEN = object()

log = logging.getLogger(__name__)

Transport = Literal["websockets", "picows"]
TRANSPORTS: tuple[Transport, ...] = ("websockets", "picows")
OnMessage = Callable[[str | bytes], None]
OnClosed = Callable[[], None]


class LinkError(Exception):
    """The websocket could not be opened. ``http_status`` is the status of a refused handshake
    (e.g. 401 for credentials the central system does not accept)."""

    def __init__(self, message: str, *, http_status: int | None = None) -> None:
        self.http_status = http_status
        super().__init__(message)


class LinkClosed(Exception):
    """A send on a link whose socket is gone."""


@dataclass(frozen=True, slots=True)
class LinkOptions:
    """How to open a link: ``url`` is the whole websocket URL, ``subprotocol`` the one offered."""

    url: str
    subprotocol: str
    headers: dict[str, str] = field(default_factory=dict)
    ssl_context: ssl.SSLContext | None = None
    open_timeout_s: float = 10.0
    max_size: int = 65536
    write_limit: int = 4096
    source_address: str | None = None


class Link(ABC):
    """One open websocket (see the module docstring)."""

    #: the subprotocol the server accepted (None: it accepted none)
    subprotocol: str | None
    #: where every received message goes; the owner may point it elsewhere at any time
    on_message: OnMessage

    @abstractmethod
    async def send(self, message: bytes) -> None:
        """Send one text message given as its UTF-8 bytes; raises :class:`LinkClosed` when the
        socket is gone."""

    def send_nowait(self, message: bytes) -> bool:
        """Send at once when the socket takes it without waiting (True); False: use
        :meth:`send`. Raises :class:`LinkClosed` when the socket is gone."""
        return False

    @abstractmethod
    async def close(self, code: int = 1000, reason: str = "") -> None:
        """Close the socket with ``code`` and wait until it is gone. Never raises."""

    @abstractmethod
    async def wait_closed(self) -> None:
        """Return once the socket is gone and ``on_closed`` has run."""


async def open_link(
    transport: Transport, options: LinkOptions, on_message: OnMessage, on_closed: OnClosed
) -> Link:
    """Open a websocket with ``transport``; raises :class:`LinkError` when that fails."""
    if transport == "picows":
        return await _open_picows(options, on_message, on_closed)
    if transport == "websockets":
        return await _open_websockets(options, on_message, on_closed)
    raise ValueError(f"unknown websocket transport {transport!r} (one of {', '.join(TRANSPORTS)})")


def _bound_socket(source: str) -> socket.socket:
    """A non-blocking TCP socket bound to ``source``, its port left to ``connect()``."""
    family = socket.AF_INET6 if ":" in source else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        no_port = getattr(socket, "IP_BIND_ADDRESS_NO_PORT", None)
        if no_port is not None:
            with contextlib.suppress(OSError):  # an old kernel: bind() picks the port
                sock.setsockopt(socket.IPPROTO_IP, no_port, 1)
        sock.bind((source, 0))
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock


async def _connected_socket(options: LinkOptions, source: str) -> socket.socket:
    """A socket from ``source`` connected to the host and port of ``options.url``."""
    split = urlsplit(options.url)
    host = split.hostname or "localhost"
    port = split.port or (443 if split.scheme == "wss" else 80)
    sock = _bound_socket(source)
    try:
        async with asyncio.timeout(options.open_timeout_s):
            await asyncio.get_running_loop().sock_connect(sock, (host, port))
    except BaseException:
        sock.close()
        raise
    return sock


# -- websockets ------------------------------------------------------------------------------


class _WebsocketsLink(Link):
    """A ``websockets`` connection whose data frames reach ``on_message`` from the protocol
    callback itself (see :func:`_delivering_connection`): no reader task, no message queue."""

    def __init__(self, ws: Any, on_message: OnMessage, on_closed: OnClosed) -> None:
        self._ws = ws
        self.subprotocol = ws.subprotocol
        self.on_message = on_message
        self._on_closed = on_closed
        self._closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        early, ws.early = ws.early, []
        ws.link = self
        for message in early:  # arrived right behind the handshake, before this link existed
            self.deliver(message)
        if ws.lost:
            self.lost()

    def deliver(self, message: bytes) -> None:
        try:
            self.on_message(message)
        except Exception:
            log.exception("websocket receive handler failed; closing")
            self._spawn_close(1011, "internal error")

    def lost(self) -> None:
        if not self._closed.done():
            self._closed.set_result(None)
            self._on_closed()

    def _spawn_close(self, code: int, reason: str) -> None:
        task = asyncio.ensure_future(self._ws.close(code=code, reason=reason))
        task.add_done_callback(lambda t: t.cancelled() or t.exception())

    def send_nowait(self, message: bytes) -> bool:
        """What ``send()`` does when nothing would make it wait: the connection open, no
        fragmented message on its way, the transport not paused (websockets' own protocol
        object frames the message, its ``send_data`` writes it). Otherwise False: ``send()``
        waits, or raises as it should."""
        ws = self._ws
        protocol = ws.protocol
        if protocol.state is not _WS_OPEN or ws.send_in_progress is not None or ws.paused:
            return False
        protocol.send_text(message)
        ws.send_data()
        return True

    async def send(self, message: bytes) -> None:
        from websockets.exceptions import ConnectionClosed

        try:
            await self._ws.send(message, text=True)
        except ConnectionClosed as exc:
            raise LinkClosed(str(exc)) from exc

    async def close(self, code: int = 1000, reason: str = "") -> None:
        with contextlib.suppress(Exception):
            await self._ws.close(code=code, reason=reason)
        await self.wait_closed()

    async def wait_closed(self) -> None:
        await asyncio.shield(self._closed)


@functools.cache
def _delivering_connection() -> type[Any]:
    """A ``websockets`` client connection that hands every whole data message (its bytes) to
    its link as the frames arrive, instead of queueing it for a reader task: one task switch
    less per message, and no task per charge point. The protocol still answers pings, closes,
    and enforces ``max_size`` across fragments. Made on first use (``websockets`` is imported
    lazily)."""
    from websockets.asyncio.client import ClientConnection
    from websockets.frames import Frame, Opcode

    text, binary, cont = Opcode.TEXT, Opcode.BINARY, Opcode.CONT

    class DeliveringConnection(ClientConnection):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.link: _WebsocketsLink | None = None
            self.early: list[bytes] = []
            self.lost = False
            self._parts: list[bytes] | None = None

        def process_event(self, event: Any) -> None:
            if self.response is None or not isinstance(event, Frame):
                super().process_event(event)  # the handshake response
                return
            opcode = event.opcode
            if opcode is text or opcode is binary:
                if not event.fin:
                    self._parts = [bytes(event.data)]
                    return
                message = bytes(event.data)
            elif opcode is cont and self._parts is not None:
                self._parts.append(bytes(event.data))
                if not event.fin:
                    return
                message, self._parts = b"".join(self._parts), None
            else:
                super().process_event(event)  # ping, pong, close: the protocol's business
                return
            if self.link is None:
                self.early.append(message)
            else:
                self.link.deliver(message)

        def connection_lost(self, exc: Exception | None) -> None:
            super().connection_lost(exc)
            self.lost = True
            if self.link is not None:
                self.link.lost()

    return DeliveringConnection


async def _open_websockets(
    options: LinkOptions, on_message: OnMessage, on_closed: OnClosed
) -> Link:
    import websockets
    from websockets.asyncio.client import connect
    from websockets.typing import Subprotocol

    extra: dict[str, Any] = {}
    loop = asyncio.get_running_loop()
    deadline = loop.time() + options.open_timeout_s  # TCP connect and handshake together
    try:
        if options.source_address is not None:
            extra["sock"] = await _connected_socket(options, options.source_address)
        ws = await connect(
            options.url,
            subprotocols=[Subprotocol(options.subprotocol)],
            additional_headers=options.headers or None,
            ssl=options.ssl_context,
            open_timeout=max(0.001, deadline - loop.time()),
            proxy=None,
            compression=None,
            max_size=options.max_size,
            write_limit=options.write_limit,
            ping_interval=None,
            create_connection=_delivering_connection(),
            **extra,
        )
    except BaseException as exc:
        if "sock" in extra:  # not adopted by a transport (closing it again is harmless)
            extra["sock"].close()
        if isinstance(exc, websockets.exceptions.InvalidStatus):
            status = exc.response.status_code
            raise LinkError(f"{type(exc).__name__}: {exc}", http_status=status) from exc
        if isinstance(exc, OSError | TimeoutError | websockets.exceptions.WebSocketException):
            raise LinkError(f"{type(exc).__name__}: {exc}") from exc
        if isinstance(exc, ValueError) and "redirect" in str(exc):
            # websockets follows no redirect on a socket it did not open (a source address)
            raise LinkError(f"{exc} (redirects are not followed from a source address)") from exc
        raise
    return _WebsocketsLink(ws, on_message, on_closed)


# -- picows ----------------------------------------------------------------------------------


_CLOSE_WAIT_S = 5.0
# module constants: an enum member looked up on its class runs a descriptor every time
_TEXT = WSMsgType.TEXT
_BINARY = WSMsgType.BINARY
_CONTINUATION = WSMsgType.CONTINUATION
_CLOSE = WSMsgType.CLOSE


class _PicowsLink(WSListener, Link):
    """A picows listener that is also the :class:`Link` (callbacks, no reader task)."""

    def __init__(self, on_message: OnMessage, on_closed: OnClosed, max_size: int) -> None:
        super().__init__()
        self.on_message = on_message
        self._on_closed = on_closed
        self._max_size = max_size
        self._transport: WSTransport | None = None
        self._parts: list[bytes] | None = None
        self._closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._writable: asyncio.Future[None] | None = None
        self.subprotocol = None

    # picows callbacks
    def on_ws_connected(self, transport: WSTransport) -> None:
        self._transport = transport

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        kind = frame.msg_type
        if kind is _TEXT or kind is _BINARY:
            if frame.fin:
                try:  # inline, not a helper: this is every message's path
                    self.on_message(frame.get_payload_as_bytes())
                except Exception:
                    self._failed(transport)
            else:
                self._parts = [frame.get_payload_as_bytes()]
        elif kind is _CONTINUATION and self._parts is not None:
            self._parts.append(frame.get_payload_as_bytes())
            if sum(map(len, self._parts)) > self._max_size:
                self._parts = None
                transport.send_close(WSCloseCode.MESSAGE_TOO_BIG, b"message too big")
                transport.disconnect()
                return
            if frame.fin:
                whole, self._parts = b"".join(self._parts), None
                try:
                    self.on_message(whole)
                except Exception:
                    self._failed(transport)
        elif kind is _CLOSE:
            if not transport.is_close_frame_sent:
                transport.send_close(frame.get_close_code())
            transport.disconnect()

    def _failed(self, transport: WSTransport) -> None:
        """The receive handler raised (called from its ``except``): log it and close (1011)."""
        log.exception("websocket receive handler failed; closing")
        if not transport.is_close_frame_sent:
            transport.send_close(WSCloseCode.INTERNAL_ERROR, b"internal error")
        transport.disconnect()

    def on_ws_disconnected(self, transport: WSTransport) -> None:
        if self._writable is not None and not self._writable.done():
            self._writable.set_result(None)
        if not self._closed.done():
            self._closed.set_result(None)
            self._on_closed()

    def pause_writing(self) -> None:
        if self._writable is None or self._writable.done():
            self._writable = asyncio.get_running_loop().create_future()

    def resume_writing(self) -> None:
        if self._writable is not None and not self._writable.done():
            self._writable.set_result(None)

    # Link
    def send_nowait(self, message: bytes) -> bool:
        transport = self._transport
        if transport is None or self._closed.done() or transport.is_close_frame_sent:
            raise LinkClosed("websocket closed")
        if self._writable is not None and not self._writable.done():
            return False  # paused: send() waits until the transport drains
        transport.send(_TEXT, message)
        return True

    async def send(self, message: bytes) -> None:
        transport = self._transport
        if transport is None or self._closed.done() or transport.is_close_frame_sent:
            raise LinkClosed("websocket closed")
        if self._writable is not None and not self._writable.done():
            await self._writable
            if self._closed.done():
                raise LinkClosed("websocket closed")
        transport.send(_TEXT, message)

    async def close(self, code: int = 1000, reason: str = "") -> None:
        transport = self._transport
        if transport is not None and not self._closed.done():
            if not transport.is_close_frame_sent:
                transport.send_close(WSCloseCode(code), reason.encode())
            try:
                await asyncio.wait_for(asyncio.shield(self._closed), _CLOSE_WAIT_S)
            except TimeoutError:
                transport.disconnect()
        await self.wait_closed()

    async def wait_closed(self) -> None:
        await asyncio.shield(self._closed)


async def _open_picows(options: LinkOptions, on_message: OnMessage, on_closed: OnClosed) -> Link:
    headers = {"Sec-WebSocket-Protocol": options.subprotocol, **options.headers}
    extra: dict[str, Any] = {}
    source = options.source_address
    made: list[socket.socket] = []
    if source is not None:  # picows connects it

        def bound(_url: Any) -> socket.socket:
            made.append(_bound_socket(source))
            return made[-1]

        extra["socket_factory"] = bound
    try:
        transport, link = await ws_connect(
            lambda: _PicowsLink(on_message, on_closed, options.max_size),
            options.url,
            ssl_context=options.ssl_context,
            websocket_handshake_timeout=options.open_timeout_s,
            logger_name="ocpplab_sim.connection.picows",
            enable_auto_ping=False,
            max_frame_size=options.max_size,
            extra_headers=headers,
            max_redirects=0,
            read_buffer_init_size=1024,
            use_aiofastnet=False,  # the event loop's own connect: ~60 µs less per connect
            **extra,
        )
    except BaseException as exc:
        for sock in made:  # a socket picows failed to connect is not closed by picows
            sock.close()
        if isinstance(exc, WSInvalidStatusError):
            status = getattr(getattr(exc, "response", None), "status", None)
            raise LinkError(
                f"{type(exc).__name__}: {exc}", http_status=int(status) if status else None
            ) from exc
        if isinstance(exc, OSError | TimeoutError | WSError):
            raise LinkError(f"{type(exc).__name__}: {exc}") from exc
        raise
    response: WSUpgradeResponse | None = transport.response
    if response is None:  # e.g. a TLS peer that dropped the socket during the handshake
        transport.disconnect()
        raise LinkError("websocket handshake failed: the connection closed without a response")
    accepted = response.headers.get("Sec-WebSocket-Protocol")
    assert isinstance(link, _PicowsLink)
    link.subprotocol = accepted.strip() if accepted else None
    return link
