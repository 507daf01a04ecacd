"""The OCPP-J connection of one charge point: framing, calls, answers and reconnects.

OCPP-J over websockets (OCPP-J 1.6 §3, 2.0.1 Part 4 §3): the charge point connects to
``{csms_url}/{identity}`` offering one subprotocol, keeps at most one CALL of its own in flight
(OCPP-J §4.1.1, "synchronicity"), answers the central system's CALLs, and reconnects with
backoff when the central system closes the connection or it breaks. The socket itself is a
:class:`~ocpplab_sim.connection.links.Link` over the chosen websocket library.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import functools
import logging
import ssl
import time
import weakref
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any, Literal

import orjson

from ocpplab_sim.connection.links import (
    Link,
    LinkClosed,
    LinkError,
    LinkOptions,
    Transport,
    open_link,
)
from ocpplab_sim.connection.reconnect import ReconnectPolicy
from ocpplab_sim.errors import CsmsUnreachable, OcppCallTimeout
from ocpplab_sim.protocol.rpc import (
    Call,
    CallError,
    CallErrorReply,
    CallResult,
    FrameError,
    Message,
    PendingCalls,
    counter_ids,
    decode_array,
    encode_array,
)
from ocpplab_sim.protocol.schemas import SchemaViolation, Version, validate

__all__ = ["BasicAuth", "FrameHook", "IncomingHandler", "OcppConnection", "Reply"]

log = logging.getLogger(__name__)

# HTTP statuses with which a central system refuses a charge point's credentials (Basic auth
# of security profiles 1/2, or a client certificate it does not accept).
_REFUSED = frozenset({401, 403})

Payload = dict[str, Any]
FrameHook = Callable[[Literal["out", "in"], list[Any]], None]
#: Told of every CALL once it is over, cheaper than a frame hook (load runs use it): ``out`` for
#: the charge point's own (seconds from its frame to the answer's frame; outcome None, the
#: CALLERROR code, or ``timeout`` / ``lost`` with the seconds waited) and ``in`` for the
#: central system's (seconds from its frame to the answer; outcome None or the CALLERROR code).
CallObserver = Callable[[Literal["out", "in"], str, float, str | None], None]


@dataclass(frozen=True, slots=True)
class BasicAuth:
    """HTTP Basic credentials (OCPP security profile 1/2): user is normally the identity."""

    username: str
    password: str

    def header(self) -> str:
        token = base64.b64encode(f"{self.username}:{self.password}".encode()).decode("ascii")
        return f"Basic {token}"


@dataclass(frozen=True, slots=True)
class Reply:
    """The answer to an incoming CALL and, optionally, work to start once it has been sent."""

    payload: Payload
    then: Callable[[], Coroutine[Any, Any, None]] | None = None


IncomingHandler = Callable[[str, Payload], Awaitable[Reply]]


class _Expired(Exception):
    """A CALL's answer did not come in time (set on its future by the timer)."""


def _expire(future: asyncio.Future[Payload]) -> None:
    if not future.done():
        future.set_exception(_Expired())


_SWEEP_S = 0.05


class _Deadlines:
    """The timeouts of the CALLs in flight on one event loop, all checked by one timer every
    ``_SWEEP_S`` (a timer per call cost more than the rest of a call's bookkeeping together).
    A CALL times out up to ``_SWEEP_S`` late. Holds no reference to its loop (the registry is
    keyed weakly by the loop), so a closed loop can be collected."""

    def __init__(self) -> None:
        self._due: dict[asyncio.Future[Payload], float] = {}
        self._timer: asyncio.TimerHandle | None = None

    def armed(self, loop: asyncio.AbstractEventLoop) -> dict[Any, float]:
        """Make sure the sweep runs; the caller enters its future in the returned mapping
        (future → ``loop.time()`` it is due) and removes it once the call is over."""
        if self._timer is None:
            self._timer = loop.call_later(_SWEEP_S, self._sweep)
        return self._due

    def _sweep(self) -> None:
        loop = asyncio.get_running_loop()
        now = loop.time()
        for future in [f for f, due in self._due.items() if due <= now]:
            del self._due[future]
            _expire(future)
        self._timer = loop.call_later(_SWEEP_S, self._sweep) if self._due else None


_DEADLINES: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Deadlines] = (
    weakref.WeakKeyDictionary()
)


def _deadlines(loop: asyncio.AbstractEventLoop) -> _Deadlines:
    deadlines = _DEADLINES.get(loop)
    if deadlines is None:
        deadlines = _DEADLINES[loop] = _Deadlines()
    return deadlines


class _CallLock:
    """OCPP-J synchronicity: one CALL of the charge point's own in flight. First come, first
    served, like ``asyncio.Lock``, but an uncontended :meth:`try_acquire` is a plain call (the
    lock's ``acquire`` is a coroutine to create and run on every CALL)."""

    __slots__ = ("_busy", "_waiters")

    def __init__(self) -> None:
        self._busy = False
        self._waiters: deque[asyncio.Future[None]] = deque()

    def try_acquire(self) -> bool:
        if self._busy or self._waiters:
            return False
        self._busy = True
        return True

    async def acquire(self) -> None:
        if self.try_acquire():
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self.release()  # handed the lock while being cancelled: pass it on
            raise
        finally:
            with contextlib.suppress(ValueError):
                self._waiters.remove(waiter)

    def release(self) -> None:
        """Hand the lock to the first waiter still waiting, or free it."""
        waiters = self._waiters
        while waiters:
            waiter = waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)  # it owns the lock now; _busy stays set
                return
        self._busy = False


class _Wire:
    """Holds what a link delivers before it is attached (a frame right behind the handshake,
    or an early close) and routes its close to the connection. Once attached, the link's
    messages go straight to the connection (:meth:`OcppConnection._attach`)."""

    __slots__ = ("attached", "closed", "conn", "early", "link")

    def __init__(self, conn: OcppConnection) -> None:
        self.conn = conn
        self.link: Link | None = None
        self.attached = False
        self.early: list[str | bytes] = []
        self.closed = False

    def on_message(self, raw: str | bytes) -> None:
        self.early.append(raw)

    def on_closed(self) -> None:
        self.closed = True
        if self.attached and self.link is not None:
            self.conn._link_closed(self.link)


class OcppConnection:
    """One OCPP-J websocket, its receive path and its reconnects.

    Contract: :meth:`open` once (raises :class:`CsmsUnreachable`), then :meth:`call` as often as
    needed, then :meth:`close` (idempotent, never raises). ``on_connected`` runs after every
    *re*connect, so the owner can re-send statuses and drain its offline queue. With
    ``strict_version`` set, every frame in both directions is checked against the official
    schemas: an invalid outgoing CALL raises :class:`SchemaViolation` before it is sent, an
    invalid answer raises it from :meth:`call`, an invalid incoming CALL is answered with a
    CALLERROR. ``transport`` picks the websocket library (see
    :mod:`~ocpplab_sim.connection.links`); ``on_refused(status)`` hears of every connect
    attempt the central system refuses with HTTP 401 or 403.
    """

    def __init__(
        self,
        url: str,
        subprotocol: str,
        handler: IncomingHandler,
        *,
        on_frame: FrameHook | None = None,
        on_connected: Callable[[], Coroutine[Any, Any, None]] | None = None,
        reconnect: ReconnectPolicy | None = None,
        strict_version: Version | None = None,
        auth: BasicAuth | None = None,
        ssl_context: ssl.SSLContext | None = None,
        open_timeout_s: float = 10.0,
        message_ids: Callable[[], str] | None = None,
        lenient: bool = False,
        max_size: int = 65536,
        write_limit: int = 4096,
        source_address: str | None = None,
        transport: Transport = "websockets",
        on_refused: Callable[[int], None] | None = None,
        on_call: CallObserver | None = None,
    ) -> None:
        self.url = url
        self.subprotocol = subprotocol
        self._handler = handler
        self._on_frame = on_frame
        self._on_connected = on_connected
        self._policy = reconnect or ReconnectPolicy()
        self._strict = strict_version
        self._lenient = lenient
        self._max_size = max_size
        self._write_limit = write_limit
        self._held = False
        #: local IP address every (re)connect binds to (None: the system chooses)
        self.source_address = source_address
        self._auth = auth
        self._ssl = ssl_context
        self._open_timeout_s = open_timeout_s
        self._ids = message_ids or counter_ids()
        self._pending = PendingCalls()
        self._call_lock = _CallLock()
        self.transport: Transport = transport
        self.on_refused = on_refused
        self._on_call = on_call
        self._ws: Link | None = None
        self._deadline_keeper: tuple[asyncio.AbstractEventLoop, _Deadlines] | None = None
        self._reconnector: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._closing = False
        self._connected = asyncio.Event()
        self.reconnects = 0
        self.calls_answered = 0

    @property
    def closing(self) -> bool:
        return self._closing

    @property
    def connected(self) -> bool:
        return self._ws is not None and not self._closing

    async def wait_connected(self, timeout_s: float) -> bool:
        """Wait until the socket is open (e.g. after a drop); False on timeout."""
        try:
            await asyncio.wait_for(self._connected.wait(), timeout_s)
        except TimeoutError:
            return False
        return True

    async def open(self) -> None:
        """Connect once; raises :class:`CsmsUnreachable` (no retry: the caller decides)."""
        if self._closing:
            raise CsmsUnreachable(f"{self.url}: connection already closed")
        self._attach(await self._connect())

    async def restart(self) -> None:
        """Close the socket as a rebooting charge point does and connect again at once.
        When that fails the usual reconnect loop takes over (``on_connected`` then runs);
        raises :class:`CsmsUnreachable` in that case."""
        await self.hold()
        await self.release()
        if not self.connected:
            raise CsmsUnreachable(f"{self.url}: not reachable after restart")

    async def hold(self) -> None:
        """Close the socket (code 1000) and stay offline until :meth:`release`, e.g. to
        simulate a network outage. Pending CALLs fail with :class:`CsmsUnreachable`."""
        self._held = True
        if self._reconnector is not None:
            self._reconnector.cancel()
            with contextlib.suppress(BaseException):
                await self._reconnector
            self._reconnector = None
        ws = self._ws
        if ws is not None:
            await ws.close(code=1000, reason="charge point going offline")

    async def release(self) -> None:
        """End :meth:`hold`: connect now; on failure, reconnect with backoff."""
        if not self._held or self._closing:
            return
        self._held = False
        try:
            self._attach(await self._connect())
        except CsmsUnreachable as exc:
            log.info("%s: connect after hold failed: %s", self.url, exc)
            if self._policy.enabled:
                self._reconnector = asyncio.create_task(
                    self._reconnect(), name=f"ocpp-reconnect {self.url}"
                )

    async def send_raw(self, text: str) -> None:
        """Send one frame as given (no framing or schema check), e.g. to test how a central
        system copes with a malformed message."""
        ws = self._ws
        if ws is None or self._closing:
            raise CsmsUnreachable(f"{self.url}: not connected")
        try:
            await ws.send(text.encode())
        except LinkClosed as exc:
            raise CsmsUnreachable(f"{self.url}: connection lost while sending") from exc

    def _check(self, action: str, kind: Literal["request", "response"], payload: Payload) -> None:
        """Strict: raise :class:`SchemaViolation`; lenient: log it and go on."""
        if self._strict is None:
            return
        try:
            validate(self._strict, action, kind, payload)
        except SchemaViolation as exc:
            if not self._lenient:
                raise
            log.warning("%s: %s", self.url, exc)

    async def call(self, action: str, payload: Payload, *, timeout_s: float) -> Payload:
        """Send a CALL and return the CALLRESULT payload.

        Raises :class:`OcppCallError` (CALLERROR), :class:`OcppCallTimeout` (no answer within
        ``timeout_s``), :class:`CsmsUnreachable` (not connected, or the connection dropped
        before the answer) and :class:`SchemaViolation` (strict mode).
        """
        if self._strict is not None:
            self._check(action, "request", payload)
        lock = self._call_lock
        if not lock.try_acquire():
            await lock.acquire()
        try:
            ws = self._ws
            if ws is None or self._closing:
                raise CsmsUnreachable(f"{self.url}: not connected, cannot send {action}")
            unique_id = self._ids()
            waiting = self._pending.by_id
            if unique_id in waiting:
                raise ValueError(f"message id {unique_id!r} already pending")
            # not asyncio.wait_for nor a timer per call: the same effect, a fraction of the cost
            loop = asyncio.get_running_loop()
            keeper = self._deadline_keeper
            if keeper is None or keeper[0] is not loop:
                keeper = self._deadline_keeper = (loop, _deadlines(loop))
            due = keeper[1].armed(loop)
            future: asyncio.Future[Payload] = loop.create_future()
            sent = time.monotonic()
            waiting[unique_id] = (action, future, sent)
            due[future] = loop.time() + timeout_s
            try:
                # not `await self._send(...)`: one coroutine less on every call
                data = self._send_now(ws, [2, unique_id, action, payload])  # MessageType.CALL
                if data is not None:
                    await self._send_later(ws, data)
                result = await future
            except _Expired:
                self._unanswered(action, sent, "timeout")
                raise OcppCallTimeout(f"{action}: no answer within {timeout_s:g} s") from None
            except (CsmsUnreachable, asyncio.CancelledError):
                self._unanswered(action, sent, "lost")
                raise
            finally:
                due.pop(future, None)
                waiting.pop(unique_id, None)
                if not future.done():
                    future.cancel()
        finally:
            lock.release()
        if self._strict is not None:
            self._check(action, "response", result)
        self.calls_answered += 1
        return result

    def _unanswered(self, action: str, sent: float, outcome: str) -> None:
        if self._on_call is not None:
            self._on_call("out", action, time.monotonic() - sent, outcome)

    async def close(self) -> None:
        """Stop reconnecting, close the socket with code 1000 and end every task. Never raises."""
        if self._closing:
            return
        self._closing = True
        self._connected.clear()
        current = asyncio.current_task()
        tasks = [t for t in (self._reconnector, *self._tasks) if t is not None and t is not current]
        for task in tasks:
            task.cancel()
        ws, self._ws = self._ws, None
        if ws is not None:
            await ws.close(code=1000, reason="charge point stopping")
        for task in tasks:
            with contextlib.suppress(BaseException):
                await task
        self._pending.fail_all(CsmsUnreachable(f"{self.url}: connection closed"))

    # -- internals -------------------------------------------------------------------------

    async def _connect(self) -> _Wire:
        """Open a link; its wire holds what arrives until :meth:`_attach` (or :meth:`_discard`)."""
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
        self._connected.set()
        wire.attached = True
        ws.on_message = functools.partial(self._dispatch, ws)  # no hop through the wire
        early, wire.early = wire.early, []
        for raw in early:
            self._dispatch(ws, raw)
        if wire.closed:
            self._link_closed(ws)

    def _spawn(self, coro: Coroutine[Any, Any, None], name: str) -> None:
        task = asyncio.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error(
                "%s: background task %s failed",
                self.url,
                task.get_name(),
                exc_info=task.exception(),
            )

    async def _send(self, ws: Link, message: Message) -> None:
        data = self._send_now(ws, message.to_array())
        if data is not None:
            await self._send_later(ws, data)

    def _send_now(self, ws: Link, array: list[Any]) -> bytes | None:
        """Tell the frame hook, encode, and send if the socket takes it at once (None); else
        return the bytes for :meth:`_send_later`. Raises :class:`CsmsUnreachable`."""
        if self._on_frame is not None:
            self._on_frame("out", array)
        data = encode_array(array)
        try:
            return None if ws.send_nowait(data) else data
        except LinkClosed as exc:
            raise CsmsUnreachable(f"{self.url}: connection lost while sending") from exc

    async def _send_later(self, ws: Link, data: bytes) -> None:
        try:
            await ws.send(data)
        except LinkClosed as exc:
            raise CsmsUnreachable(f"{self.url}: connection lost while sending") from exc

    def _link_closed(self, ws: Link) -> None:
        """The attached socket is gone: fail the waiting CALLs and reconnect (unless closing
        or held). A socket already replaced or closed by :meth:`close` changes nothing."""
        if self._ws is not ws:
            return
        self._ws = None
        self._connected.clear()
        self._pending.fail_all(CsmsUnreachable(f"{self.url}: connection lost"))
        if not self._closing and not self._held and self._policy.enabled:
            self._reconnector = asyncio.create_task(
                self._reconnect(), name=f"ocpp-reconnect {self.url}"
            )

    def _dispatch(self, ws: Link, raw: str | bytes) -> None:
        try:
            data = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            data = FrameError(f"not JSON: {exc}")
        # the common case first: the CALLRESULT of the CALL in flight
        if type(data) is list and len(data) == 3 and data[0] == 3 and type(data[2]) is dict:
            by_id = self._pending.by_id
            waiting = by_id.get(data[1]) if type(data[1]) is str else None
            if waiting is not None:
                if self._on_frame is not None:
                    self._on_frame("in", data)  # before the pop: a failing hook loses no call
                del by_id[data[1]]
                action, future, sent = waiting
                if future.done():  # timed out a moment ago
                    log.warning("%s: answer to unknown message id %s", self.url, data[1])
                else:
                    future.set_result(data[2])
                    if self._on_call is not None:
                        self._on_call("out", action, time.monotonic() - sent, None)
                return
        try:
            if isinstance(data, FrameError):
                raise data
            message = decode_array(data)
        except FrameError as exc:
            log.warning("%s: dropping bad frame: %s", self.url, exc)
            if exc.unique_id is not None:
                self._spawn(self._send(ws, CallError(exc.unique_id, exc.code, str(exc))), "reply")
            return
        if self._on_frame is not None:
            self._on_frame("in", message.to_array())
        if isinstance(message, Call):
            self._spawn(self._serve(ws, message), f"serve {message.action}")
            return
        entry = self._pending.resolve(message)
        if entry is None:
            log.warning("%s: answer to unknown message id %s", self.url, message.unique_id)
        elif self._on_call is not None:
            code = message.code if isinstance(message, CallError) else None
            self._on_call("out", entry[0], time.monotonic() - entry[1], code)

    async def _serve(self, ws: Link, call: Call) -> None:
        received = time.monotonic()
        reply: Reply | None = None
        answer: Message
        try:
            self._check(call.action, "request", call.payload)
            reply = await self._handler(call.action, call.payload)
            self._check(call.action, "response", reply.payload)
            answer = CallResult(call.unique_id, reply.payload)
        except SchemaViolation as exc:
            reply = None
            code = exc.code if exc.kind == "request" else "InternalError"
            answer = CallError(call.unique_id, code, str(exc)[:255])
        except CallErrorReply as exc:
            answer = CallError(call.unique_id, exc.code, exc.description, exc.details)
        except Exception as exc:
            log.exception("%s: handler for %s failed", self.url, call.action)
            answer = CallError(call.unique_id, "InternalError", f"{type(exc).__name__}")
        with contextlib.suppress(CsmsUnreachable):
            await self._send(ws, answer)
        if self._on_call is not None:
            refused = answer.code if isinstance(answer, CallError) else None
            self._on_call("in", call.action, time.monotonic() - received, refused)
        if reply is not None and reply.then is not None:
            self._spawn(reply.then(), f"after {call.action}")

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
            self._attach(wire)
            if self._on_connected is not None:
                self._spawn(self._on_connected(), "on-connected")
            return
