"""A minimal OCPP central system for load runs and benchmarks: fast, permissive, countable.

It accepts any identity on ``ws://HOST:PORT/{identity}`` with subprotocol ``ocpp1.6`` or
``ocpp2.0.1`` and answers every charger-initiated CALL with a schema-valid CALLRESULT built
without the ``ocpp`` library (so the harness, not the sink, dominates what a benchmark measures).
``drop_every`` closes a connection after that many CALLs — a central system that drops
connections, for fault tests. A connection on the path ``/echo`` echoes every frame back (the
raw websocket round trip a benchmark compares the harness with). Loopback only by default.

Run it in its own process: ``python -m ocpplab_sim.load.sink [--host H] [--port P]
[--processes N]``; the first line on standard output is ``listening on ws://HOST:PORT``. With
``--processes N`` N processes share the port through SO_REUSEPORT (the kernel spreads the
connections), for when one process's core is what limits a benchmark.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import multiprocessing
import os
import resource
import signal
import socket
import sys
from collections import Counter
from collections.abc import Coroutine
from datetime import UTC, datetime
from typing import Any, TypeVar

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed

T = TypeVar("T")

__all__ = ["CentralSystemSink", "run_fast"]


def run_fast(main: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run`` on uvloop when it is installed (a load generator's own loop matters)."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(main)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(main)


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


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
        self._server: Server | None = None
        self._tx_ids = itertools.count(1)

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the sink is not running")
        sock = next(iter(self._server.sockets))
        host, port = sock.getsockname()[:2]
        return f"ws://{host}:{port}"

    async def __aenter__(self) -> CentralSystemSink:
        # IPPROTO_TCP so that asyncio turns Nagle off on accepted sockets.
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if self.reuse_port:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((self._host, self._port))
        self._server = await serve(
            self._handle,
            sock=sock,
            subprotocols=["ocpp1.6", "ocpp2.0.1"],  # type: ignore[list-item]
            compression=None,
            max_size=2**20,
            ping_interval=None,
            backlog=8192,
        )
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def _handle(self, ws: ServerConnection) -> None:
        if ws.request is not None and ws.request.path.endswith("/echo"):
            with contextlib.suppress(ConnectionClosed):
                async for raw in ws:
                    await ws.send(raw)
            return
        if ws.subprotocol is None:
            await ws.close(1002, "no OCPP subprotocol")
            return
        version = "2.0.1" if ws.subprotocol == "ocpp2.0.1" else "1.6"
        self.connections += 1
        handled = 0
        with contextlib.suppress(ConnectionClosed):
            async for raw in ws:
                reply = self._reply(raw, version)
                if reply is None:
                    continue
                await ws.send(reply)
                handled += 1
                if self.drop_every and handled % self.drop_every == 0:
                    self.dropped += 1
                    await ws.close(1011, "dropped on purpose")
                    return

    def _reply(self, raw: str | bytes, version: str) -> str | None:
        try:
            message = json.loads(raw)
            kind, unique_id = message[0], message[1]
        except (ValueError, TypeError, IndexError, KeyError):
            return json.dumps([4, "-1", "FormatViolation", "not an OCPP-J frame", {}])
        if kind != 2:
            return None  # a CALLRESULT / CALLERROR to a call the sink never makes
        action = str(message[2])
        self.calls[action] += 1
        payload = self._payload(action, version)
        if payload is None:
            return json.dumps([4, unique_id, "NotImplemented", f"{action} not handled", {}])
        return json.dumps([3, unique_id, payload])

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
        print(f"answered {total} calls on {sink.connections} connections", file=sys.stderr)


def _serve_more(host: str, port: int, heartbeat: int, drop_every: int, ready: Any) -> None:
    raise_fd_limit()
    run_fast(_main(host, port, heartbeat, drop_every, reuse_port=True, announce=False, ready=ready))


def _serve(host: str, port: int, heartbeat: int, drop_every: int, processes: int) -> None:
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
