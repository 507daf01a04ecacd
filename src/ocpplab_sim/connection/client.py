"""The websocket of one charge point: open it, keep it open, write frames in order.

OCPP-J over websockets (OCPP-J 1.6 §3, 2.0.1 Part 4 §3): the charge point connects to
``{csms_url}/{identity}`` offering one subprotocol and reconnects with backoff when the central
system closes the connection or it breaks. :class:`LinkKeeper` knows nothing of OCPP messages:
it hands each received message and each open or loss of the socket to its owner (a sans-I/O
charge point's driver) and writes the frames the owner gives it, in the order given. The
socket itself is a :class:`~ocpplab_sim.connection.links.Link` over the chosen library.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import ssl
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from ocpplab_sim.connection.links import (
    Link,
    LinkClosed,
    LinkError,
    LinkOptions,
    Transport,
    open_link,
)
from ocpplab_sim.connection.reconnect import ReconnectPolicy
from ocpplab_sim.errors import CsmsUnreachable

__all__ = ["BasicAuth", "LinkKeeper"]

log = logging.getLogger(__name__)

# HTTP statuses with which a central system refuses a charge point's credentials (Basic auth
# of security profiles 1/2, or a client certificate it does not accept).
_REFUSED = frozenset({401, 403})


@dataclass(frozen=True, slots=True)
class BasicAuth:
    """HTTP Basic credentials (OCPP security profile 1/2): user is normally the identity."""

    username: str
    password: str

    def header(self) -> str:
        token = base64.b64encode(f"{self.username}:{self.password}".encode()).decode("ascii")
        return f"Basic {token}"


def _ignore(_raw: str | bytes) -> None:
    pass


class _Wire:
    """Holds what a link delivers before it is attached (a frame right behind the handshake,
    or an early close) and routes its close to the keeper."""

    __slots__ = ("attached", "closed", "early", "keeper", "link")

    def __init__(self, keeper: LinkKeeper) -> None:
        self.keeper = keeper
        self.link: Link | None = None
        self.attached = False
        self.early: list[str | bytes] = []
        self.closed = False

    def on_message(self, raw: str | bytes) -> None:
        self.early.append(raw)

    def on_closed(self) -> None:
        self.closed = True
        if self.attached and self.link is not None:
            self.keeper._link_closed(self.link)


class LinkKeeper:
    """One charge point's websocket and its reconnects.

    Contract: :meth:`open` once (raises :class:`CsmsUnreachable`); then ``on_open()`` runs after
    every attach (the first included), ``on_message(raw)`` for every message, ``on_lost()`` once
    per attached socket that goes away (also on :meth:`close`). :meth:`send` writes frames in
    the order given across calls. :meth:`hold` / :meth:`release` simulate a network outage;
    :meth:`close` ends everything and never raises. ``on_refused(status)`` hears of every
    connect attempt the central system refuses with HTTP 401 or 403.
    """

    def __init__(
        self,
        url: str,
        subprotocol: str,
        *,
        on_open: Callable[[], None],
        on_message: Callable[[str | bytes], None],
        on_lost: Callable[[], None],
        reconnect: ReconnectPolicy | None = None,
        auth: BasicAuth | None = None,
        ssl_context: ssl.SSLContext | None = None,
        open_timeout_s: float = 10.0,
        max_size: int = 65536,
        write_limit: int = 4096,
        source_address: str | None = None,
        transport: Transport = "websockets",
        on_refused: Callable[[int], None] | None = None,
    ) -> None:
        self.url = url
        self.subprotocol = subprotocol
        self._on_open = on_open
        self._on_message = on_message
        self._on_lost = on_lost
        self._policy = reconnect or ReconnectPolicy()
        self._auth = auth
        self._ssl = ssl_context
        self._open_timeout_s = open_timeout_s
        self._max_size = max_size
        self._write_limit = write_limit
        #: local IP address every (re)connect binds to (None: the system chooses)
        self.source_address = source_address
        self.transport: Transport = transport
        self.on_refused = on_refused
        self._ws: Link | None = None
        self._backlog: deque[bytes] | None = None
        self._writer: asyncio.Task[None] | None = None
        self._reconnector: asyncio.Task[None] | None = None
        self._held = False
        self._closing = False
        self.reconnects = 0

    @property
    def connected(self) -> bool:
        return self._ws is not None and not self._closing

    async def open(self) -> None:
        """Connect once; raises :class:`CsmsUnreachable` (no retry: the caller decides)."""
        if self._closing:
            raise CsmsUnreachable(f"{self.url}: connection already closed")
        self._attach(await self._connect())

    def send(self, frames: list[bytes]) -> None:
        """Write ``frames`` after every frame given before; dropped when no socket is open
        (the owner hears of the loss through ``on_lost``). The list is not kept: the caller
        may reuse it."""
        ws = self._ws
        if ws is None:
            return
        if self._backlog is not None:
            self._backlog.extend(frames)
            return
        if len(frames) == 1:  # the common case: one CALL or one answer
            try:
                if not ws.send_nowait(frames[0]):
                    self._write_later(ws, frames)
            except LinkClosed:
                pass
            return
        for index, data in enumerate(frames):
            try:
                if not ws.send_nowait(data):
                    self._write_later(ws, frames[index:])
                    return
            except LinkClosed:
                return

    def _write_later(self, ws: Link, frames: list[bytes]) -> None:
        """The socket takes no more at once: a writer task sends ``frames`` and what follows."""
        self._backlog = deque(frames)
        self._writer = asyncio.get_running_loop().create_task(
            self._write(ws), name=f"ocpp-writer {self.url}"
        )

    async def _write(self, ws: Link) -> None:
        backlog = self._backlog
        try:
            while backlog:
                await ws.send(backlog.popleft())
        except LinkClosed:
            pass
        finally:
            if self._backlog is backlog:
                self._backlog = None

    async def restart(self) -> bool:
        """Close the socket as a rebooting charge point does and connect again at once; when
        that fails the reconnect loop takes over. True when connected again now."""
        await self.hold()
        await self.release()
        return self.connected

    async def hold(self) -> None:
        """Close the socket (code 1000) and stay offline until :meth:`release`."""
        self._held = True
        if self._reconnector is not None:
            self._reconnector.cancel()
            with contextlib.suppress(BaseException):
                await self._reconnector
            self._reconnector = None
        ws = self._ws
        if ws is not None:
            await ws.close(code=1000, reason="charge point going offline")
            self._link_closed(ws)

    async def release(self) -> None:
        """End :meth:`hold`: connect now; on failure, reconnect with backoff."""
        if not self._held or self._closing:
            return
        self._held = False
        try:
            self._attach(await self._connect())
        except CsmsUnreachable as exc:
            log.info("%s: connect after hold failed: %s", self.url, exc)
            self._start_reconnecting()

    async def close(self) -> None:
        """Stop reconnecting, close the socket with code 1000. Never raises."""
        if self._closing:
            return
        self._closing = True
        current = asyncio.current_task()
        tasks = [t for t in (self._reconnector, self._writer) if t is not None and t is not current]
        for task in tasks:
            task.cancel()
        ws = self._ws
        if ws is not None:
            self._link_closed(ws)
            with contextlib.suppress(Exception):
                await ws.close(code=1000, reason="charge point stopping")
        for task in tasks:
            with contextlib.suppress(BaseException):
                await task

    # -- internals -------------------------------------------------------------------------

    async def _connect(self) -> _Wire:
        """Open a link; its wire holds what arrives until :meth:`_attach`."""
        headers = {"Authorization": self._auth.header()} if self._auth else {}
        options = LinkOptions(
            self.url,
            self.subprotocol,
            headers=headers,
            ssl_context=self._ssl,
            open_timeout_s=self._open_timeout_s,
            max_size=self._max_size,
            write_limit=self._write_limit,
            source_address=self.source_address,
        )
        wire = _Wire(self)
        try:
            link = await open_link(self.transport, options, wire.on_message, wire.on_closed)
        except LinkError as exc:
            if exc.http_status in _REFUSED and self.on_refused is not None:
                self.on_refused(exc.http_status)
            raise CsmsUnreachable(f"{self.url}: {exc}") from (exc.__cause__ or exc)
        wire.link = link
        if link.subprotocol != self.subprotocol:
            await link.close(code=1002, reason="subprotocol not accepted")
            raise CsmsUnreachable(
                f"{self.url}: server did not accept subprotocol {self.subprotocol}"
            )
        return wire

    def _attach(self, wire: _Wire) -> None:
        ws = wire.link
        assert ws is not None
        self._ws = ws
        self._backlog = None
        wire.attached = True
        ws.on_message = self._on_message  # no hop through the wire
        self._on_open()
        early, wire.early = wire.early, []
        for raw in early:
            if self._ws is not ws:
                break
            self._on_message(raw)
        if wire.closed:
            self._link_closed(ws)

    def _link_closed(self, ws: Link) -> None:
        """The attached socket is gone: tell the owner once and reconnect (unless closing or
        held). A socket already replaced changes nothing."""
        if self._ws is not ws:
            return
        self._ws = None
        self._backlog = None
        ws.on_message = _ignore  # what a closing socket still delivers answers nothing sent now
        self._on_lost()
        if not self._closing and not self._held:
            self._start_reconnecting()

    def _start_reconnecting(self) -> None:
        if self._policy.enabled and not self._closing:
            self._reconnector = asyncio.get_running_loop().create_task(
                self._reconnect(), name=f"ocpp-reconnect {self.url}"
            )

    def _is_closing(self) -> bool:
        # A method, not the attribute: close() may flip it while this task awaits.
        return self._closing

    async def _reconnect(self) -> None:
        for delay in self._policy.delays():
            await asyncio.sleep(delay)
            if self._is_closing():
                return
            try:
                wire = await self._connect()
            except CsmsUnreachable as exc:
                log.info(
                    "%s: reconnect failed (%s), next try in up to %.1f s", self.url, exc, delay
                )
                continue
            if self._is_closing() or self._held:  # closed or held during the handshake
                if wire.link is not None:
                    await wire.link.close(code=1000)
                return
            self.reconnects += 1
            self._reconnector = None
            self._attach(wire)
            return
