"""A minimal OCPP central system for load runs and benchmarks: fast, permissive, countable.

It accepts any identity on ``ws://HOST:PORT/{identity}`` with subprotocol ``ocpp1.6`` or
``ocpp2.0.1`` and answers every charger-initiated CALL with a schema-valid CALLRESULT built
without the ``ocpp`` library (so the harness, not the sink, dominates what a benchmark measures).
``drop_every`` closes a connection after that many CALLs — a central system that drops
connections, for fault tests. Loopback only by default.

Run it in its own process: ``python -m ocpplab_sim.load.sink [--host H] [--port P]``; the first
line on standard output is ``listening on ws://HOST:PORT``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
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
    ) -> None:
        self._host = host
        self._port = port
        self.heartbeat_interval = heartbeat_interval
        self.drop_every = drop_every
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
        sock.bind((self._host, self._port))
        self._server = await serve(
            self._handle,
            sock=sock,
            subprotocols=["ocpp1.6", "ocpp2.0.1"],  # type: ignore[list-item]
            compression=None,
            max_size=2**20,
            ping_interval=None,
            backlog=4096,
        )
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def _handle(self, ws: ServerConnection) -> None:
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


async def _main(host: str, port: int, heartbeat: int, drop_every: int) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    async with CentralSystemSink(
        host, port, heartbeat_interval=heartbeat, drop_every=drop_every
    ) as sink:
        print(f"listening on {sink.url}", flush=True)
        await stop.wait()
        total = sum(sink.calls.values())
        print(f"answered {total} calls on {sink.connections} connections", file=sys.stderr)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--heartbeat-interval", type=int, default=60)
    parser.add_argument("--drop-every", type=int, default=0)
    args = parser.parse_args(argv)
    run_fast(_main(args.host, args.port, args.heartbeat_interval, args.drop_every))


if __name__ == "__main__":
    main()
