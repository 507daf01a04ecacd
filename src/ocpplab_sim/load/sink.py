"""A minimal OCPP central system for load runs and benchmarks: fast, permissive, countable.

It accepts any identity on ``ws://HOST:PORT/{identity}`` with subprotocol ``ocpp1.6`` or
``ocpp2.0.1`` and answers every charger-initiated CALL with a schema-valid CALLRESULT built
without the ``ocpp`` library (so the harness, not the sink, dominates what a benchmark measures).
``drop_every`` closes a connection after that many CALLs — a central system that drops
connections, for fault tests. A connection on the path ``/echo`` echoes every message back (the
raw websocket round trip a benchmark compares the harness with). Loopback only by default.

The websocket server is picows (Cython, callback based: no task, no queue and no coroutine per
connection or per message), not ``websockets``: in a load benchmark the sink and the load
generator share the machine's cores, so every microsecond the sink spends on a handshake or a
frame is taken from the side being measured. For a connect, three calls and a close on a 2-core
machine the ``websockets`` asyncio server this replaced spent ~0.7–0.9 ms of CPU; this one spends
~0.3–0.4 ms, most of it in the kernel's TCP accept/close and picows' handshake (~30 µs a call).

Run it in its own process: ``python -m ocpplab_sim.load.sink [--host H] [--port P]
[--processes N]``; the first line on standard output is ``listening on ws://HOST:PORT``. With
``--processes N`` N processes share the port through SO_REUSEPORT (the kernel spreads the
connections), for when one process's core is what limits a benchmark.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import itertools
import json
import multiprocessing
import os
import resource
import signal
import socket
import sys
import time
from collections import Counter
from collections.abc import Coroutine
from typing import Any, TypeVar

import orjson
from picows import (
    WSCloseCode,
    WSFrame,
    WSListener,
    WSMsgType,
    WSTransport,
    WSUpgradeRequest,
    WSUpgradeResponse,
    WSUpgradeResponseWithListener,
    ws_create_server,
)

from ocpplab_sim.load.gcfreeze import StormFreezer

T = TypeVar("T")

__all__ = ["CentralSystemSink", "run_fast"]

_SUBPROTOCOLS = ("ocpp1.6", "ocpp2.0.1")
_MAX_MESSAGE = 2**20  # bytes, per frame and per reassembled message
_CLOSE_TIMEOUT = 5.0  # seconds to wait for the peer's CLOSE before dropping the TCP connection
_STOP_TIMEOUT = 2.0  # seconds a stopping sink waits for its peers' CLOSE, then for the server
_GC_TICK_S = 0.1  # how often the sink tells its StormFreezer whether connections came in
_TEXT = WSMsgType.TEXT
_BINARY = WSMsgType.BINARY
_CONTINUATION = WSMsgType.CONTINUATION
_CLOSE = WSMsgType.CLOSE


def run_fast(main: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run`` on uvloop when it is installed (a load generator's own loop matters)."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(main)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(main)


_second = -1  # the last whole second _now formatted
_second_text = ""


def _now() -> str:
    """UTC now as ``YYYY-MM-DDTHH:MM:SS.mmmZ`` (the date and time formatted once a second)."""
    global _second, _second_text
    now = time.time()
    second = int(now)
    if second != _second:
        _second, _second_text = second, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
    return f"{_second_text}.{int((now - second) * 1000):03d}Z"


def _subprotocol(offered: list[str]) -> str | None:
    """The first OCPP subprotocol the client offers (the client's preference, as websockets)."""
    for header in offered:
        for name in header.split(","):
            name = name.strip()
            if name in _SUBPROTOCOLS:
                return name
    return None


class _Connection(WSListener):
    """One accepted websocket: message reassembly, the close handshake, live-connection tracking.

    Subclasses answer whole messages in ``_message``. PING is answered by picows (auto-pong);
    PONG is ignored.
    """

    def __init__(self, sink: CentralSystemSink) -> None:
        super().__init__()
        self._sink = sink
        self._kind: WSMsgType | None = None  # the type of a fragmented message being reassembled
        self._parts: list[bytes] = []
        self._size = 0
        self._closing: asyncio.TimerHandle | None = None  # set once the sink sent its CLOSE

    def on_ws_connected(self, transport: WSTransport) -> None:
        self._sink._live.add(transport)

    def on_ws_disconnected(self, transport: WSTransport) -> None:
        live = self._sink._live
        live.discard(transport)
        if self._closing is not None:
            self._closing.cancel()
        if not live and self._sink._drained is not None:
            self._sink._drained.set()

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        msg_type = frame.msg_type
        if msg_type is _TEXT or msg_type is _BINARY:
            if self._closing is not None:
                return
            if self._kind is not None:
                self._close(transport, WSCloseCode.PROTOCOL_ERROR, b"expected a continuation frame")
            elif not frame.fin:
                self._kind = msg_type
                self._parts = [frame.get_payload_as_bytes()]
                self._size = frame.payload_size
            elif msg_type is _BINARY:
                self._message(transport, frame.get_payload_as_bytes())
            else:
                try:
                    text = frame.get_payload_as_utf8_text()
                except UnicodeDecodeError:
                    self._close(transport, WSCloseCode.INVALID_TEXT, b"invalid UTF-8")
                    return
                self._message(transport, text)
        elif msg_type is _CONTINUATION:
            if self._closing is not None:
                return
            if self._kind is None:
                self._close(transport, WSCloseCode.PROTOCOL_ERROR, b"unexpected continuation frame")
                return
            self._parts.append(frame.get_payload_as_bytes())
            self._size += frame.payload_size
            if self._size > _MAX_MESSAGE:
                self._close(transport, WSCloseCode.MESSAGE_TOO_BIG, b"message too big")
            elif frame.fin:
                self._reassembled(transport)
        elif msg_type is _CLOSE:
            if not transport.is_close_frame_sent:
                # Echo the status code (RFC 6455 §5.5.1); an empty CLOSE is answered empty.
                transport.send(_CLOSE, frame.get_payload_as_bytes()[:2])
            transport.disconnect()

    def _reassembled(self, transport: WSTransport) -> None:
        payload = b"".join(self._parts)
        kind, self._kind, self._parts, self._size = self._kind, None, [], 0
        if kind is _BINARY:
            self._message(transport, payload)
            return
        try:
            text = payload.decode()
        except UnicodeDecodeError:
            self._close(transport, WSCloseCode.INVALID_TEXT, b"invalid UTF-8")
            return
        self._message(transport, text)

    def _message(self, transport: WSTransport, message: str | bytes) -> None:
        """A whole message: ``str`` for a text message (valid UTF-8), ``bytes`` for binary."""
        raise NotImplementedError

    def _close(self, transport: WSTransport, code: WSCloseCode, reason: bytes) -> None:
        """Start the close handshake; drop the connection if the peer does not finish it."""
        transport.send_close(code, reason)
        self._closing = asyncio.get_running_loop().call_later(_CLOSE_TIMEOUT, transport.disconnect)


class _Ocpp(_Connection):
    def __init__(self, sink: CentralSystemSink, version: str) -> None:
        super().__init__(sink)
        self._version = version
        self._handled = 0

    def on_ws_connected(self, transport: WSTransport) -> None:
        self._sink._live.add(transport)
        self._sink.connections += 1

    def _message(self, transport: WSTransport, message: str | bytes) -> None:
        sink = self._sink
        reply = sink._reply(message, self._version)
        if reply is None:
            return
        transport.send(_TEXT, reply)
        self._handled += 1
        if sink.drop_every and self._handled % sink.drop_every == 0:
            sink.dropped += 1
            self._close(transport, WSCloseCode.INTERNAL_ERROR, b"dropped on purpose")


class _Echo(_Connection):
    def _message(self, transport: WSTransport, message: str | bytes) -> None:
        transport.send(_TEXT if type(message) is str else _BINARY, message)


class _Refuse(_Connection):
    """A connection that offered no OCPP subprotocol: upgraded, then closed with 1002."""

    def on_ws_connected(self, transport: WSTransport) -> None:
        self._sink._live.add(transport)
        self._close(transport, WSCloseCode.PROTOCOL_ERROR, b"no OCPP subprotocol")

    def _message(self, transport: WSTransport, message: str | bytes) -> None:
        return


class CentralSystemSink:
    """An always-accepting central system. Use as an async context manager; ``url`` is its base."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        heartbeat_interval: int = 60,
        drop_every: int = 0,
        reuse_port: bool = False,
    ) -> None:
        self._host = host
        self._port = port
        self.heartbeat_interval = heartbeat_interval
        self.drop_every = drop_every
        self.reuse_port = reuse_port
        self.calls: Counter[str] = Counter()
        self.connections = 0
        self.dropped = 0
        self._server: asyncio.Server | None = None
        self._live: set[WSTransport] = set()
        self._drained: asyncio.Event | None = None  # set when the last connection is gone
        self._tx_ids = itertools.count(1)
        # connections accepted in a storm are not walked again by every pass of the cyclic gc
        self._freezer = StormFreezer()
        self._gc_timer: asyncio.TimerHandle | None = None
        self._gc_seen = 0

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the sink is not running")
        sock = next(iter(self._server.sockets))
        host, port = sock.getsockname()[:2]
        return f"ws://{host}:{port}"

    async def __aenter__(self) -> CentralSystemSink:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if self.reuse_port:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            sock.bind((self._host, self._port))
            # picows turns Nagle off on every accepted socket itself.
            self._server = await ws_create_server(
                self._accept,
                sock=sock,
                backlog=8192,
                max_frame_size=_MAX_MESSAGE,
                logger_name="sink",
                # the event loop's own accept: aiofastnet's spins on EMFILE (too many open files)
                use_aiofastnet=False,
            )
        except BaseException:
            sock.close()
            raise
        self._gc_timer = asyncio.get_running_loop().call_later(_GC_TICK_S, self._gc_tick)
        return self

    def _gc_tick(self) -> None:
        self._freezer.tick(self.connections != self._gc_seen)
        self._gc_seen = self.connections
        self._gc_timer = asyncio.get_running_loop().call_later(_GC_TICK_S, self._gc_tick)

    async def __aexit__(self, *exc: object) -> None:
        if self._gc_timer is not None:
            self._gc_timer.cancel()
            self._gc_timer = None
        self._freezer.close()
        server, self._server = self._server, None
        if server is None:
            return
        server.close()
        if self._live:  # 1001 going away, as the websockets server did; bounded
            self._drained = asyncio.Event()
            for transport in list(self._live):
                transport.send_close(WSCloseCode.GOING_AWAY, b"sink stopping")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._drained.wait(), _STOP_TIMEOUT)
            for transport in list(self._live):
                transport.disconnect()
        with contextlib.suppress(TimeoutError):  # connections still in their handshake
            await asyncio.wait_for(server.wait_closed(), _STOP_TIMEOUT)

    def _accept(self, request: WSUpgradeRequest) -> WSListener | WSUpgradeResponseWithListener:
        subprotocol = _subprotocol(request.headers.getall("Sec-WebSocket-Protocol", []))
        listener: _Connection
        if request.path.endswith(b"/echo"):
            listener = _Echo(self)
        elif subprotocol is None:
            return _Refuse(self)
        else:
            listener = _Ocpp(self, "2.0.1" if subprotocol == "ocpp2.0.1" else "1.6")
        if subprotocol is None:
            return listener
        response = WSUpgradeResponse.create_101_response(
            extra_headers=(("Sec-WebSocket-Protocol", subprotocol),)
        )
        return WSUpgradeResponseWithListener(response, listener)

    def _reply(self, raw: str | bytes, version: str) -> str | None:
        try:
            message = orjson.loads(raw)
            kind, unique_id = message[0], message[1]
            if kind != 2:
                return None  # a CALLRESULT / CALLERROR to a call the sink never makes
            action = str(message[2])
        except (ValueError, TypeError, IndexError, KeyError):
            return _FORMAT_VIOLATION
        self.calls[action] += 1
        payload = self._payload(action, version)
        if payload is None:
            return json.dumps([4, unique_id, "NotImplemented", f"{action} not handled", {}])
        # The common case by hand: an id string and (often) an empty payload skip json.dumps.
        uid = _quote(unique_id) if type(unique_id) is str else json.dumps(unique_id)
        return f"[3,{uid},{json.dumps(payload) if payload else '{}'}]"

    def _payload(self, action: str, version: str) -> dict[str, Any] | None:
        accepted = {"status": "Accepted"}
        if action == "BootNotification":
            return {
                "status": "Accepted",
                "currentTime": _now(),
                "interval": self.heartbeat_interval,
            }
        if action == "Heartbeat":
            return {"currentTime": _now()}
        if action == "Authorize":
            return {"idTagInfo": accepted} if version == "1.6" else {"idTokenInfo": accepted}
        if action == "StartTransaction":
            return {"transactionId": next(self._tx_ids), "idTagInfo": accepted}
        if action == "StopTransaction":
            return {"idTagInfo": accepted}
        if action == "DataTransfer":
            return {"status": "UnknownVendorId"}
        if action in _EMPTY_REPLIES:
            return {}
        return None


_FORMAT_VIOLATION = json.dumps([4, "-1", "FormatViolation", "not an OCPP-J frame", {}])
_quote = json.encoder.encode_basestring_ascii  # what json.dumps does to a str, in C

_EMPTY_REPLIES = frozenset(
    {
        "StatusNotification",
        "MeterValues",
        "TransactionEvent",
        "FirmwareStatusNotification",
        "DiagnosticsStatusNotification",
        "LogStatusNotification",
        "NotifyEvent",
        "NotifyReport",
        "SecurityEventNotification",
    }
)


def raise_fd_limit() -> int:
    """Raise RLIMIT_NOFILE as far as allowed (one descriptor per connection); return it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    with contextlib.suppress(ValueError, OSError):
        if hard != resource.RLIM_INFINITY and hard < 1_048_576:
            resource.setrlimit(resource.RLIMIT_NOFILE, (1_048_576, 1_048_576))  # root only
            return 1_048_576
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        return hard
    return soft


async def _main(
    host: str,
    port: int,
    heartbeat: int,
    drop_every: int,
    *,
    reuse_port: bool = False,
    announce: bool = True,
    ready: Any = None,
) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    async with CentralSystemSink(
        host, port, heartbeat_interval=heartbeat, drop_every=drop_every, reuse_port=reuse_port
    ) as sink:
        if ready is not None:
            ready.set()
        if announce:
            print(f"listening on {sink.url}", flush=True)
        await stop.wait()
        total = sum(sink.calls.values())
        cpu = time.process_time()
        print(
            f"answered {total} calls on {sink.connections} connections, {cpu:.2f} s CPU",
            file=sys.stderr,
        )


def _serve_more(host: str, port: int, heartbeat: int, drop_every: int, ready: Any) -> None:
    gc.set_threshold(50_000, 20, 20)  # thousands of long-lived connections: collect rarely
    raise_fd_limit()
    run_fast(_main(host, port, heartbeat, drop_every, reuse_port=True, announce=False, ready=ready))


def _serve(host: str, port: int, heartbeat: int, drop_every: int, processes: int) -> None:
    gc.set_threshold(50_000, 20, 20)  # thousands of long-lived connections: collect rarely
    raise_fd_limit()
    if processes <= 1:
        run_fast(_main(host, port, heartbeat, drop_every))
        return
    if port == 0:  # choose a free port that all the processes then share
        with socket.socket() as probe:
            probe.bind((host, 0))
            port = probe.getsockname()[1]
    context = multiprocessing.get_context("spawn")
    others = []
    for _ in range(processes - 1):
        ready = context.Event()
        process = context.Process(
            target=_serve_more, args=(host, port, heartbeat, drop_every, ready), daemon=True
        )
        process.start()
        ready.wait(30)
        others.append(process)
    try:
        run_fast(_main(host, port, heartbeat, drop_every, reuse_port=True))
    finally:
        for process in others:
            if process.pid is not None:
                os.kill(process.pid, signal.SIGTERM)
        for process in others:
            process.join(10)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--heartbeat-interval", type=int, default=60)
    parser.add_argument("--drop-every", type=int, default=0)
    parser.add_argument(
        "--processes", type=int, default=1, help="processes sharing the port (SO_REUSEPORT)"
    )
    args = parser.parse_args(argv)
    _serve(args.host, args.port, args.heartbeat_interval, args.drop_every, args.processes)


if __name__ == "__main__":
    main()
