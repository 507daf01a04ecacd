"""A minimal OCPP central system for benchmarks: answers every CALL with the smallest valid
result, and echoes frames on ``/echo`` (the raw websocket round trip to compare with).

Run: ``python benchmarks/minimal_csms.py [--heartbeat S]``; prints ``PORT <n>`` once listening
on 127.0.0.1 and serves until stdin closes (so it never outlives its parent).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import resource
import socket
import sys
import time
from typing import Any

from websockets.asyncio.server import ServerConnection, serve

NOW = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
TX_IDS = itertools.count(1)


def answer(action: str, version: str, heartbeat: int) -> dict[str, Any]:
    if action == "BootNotification":
        return {"currentTime": NOW, "interval": heartbeat, "status": "Accepted"}
    if action == "Heartbeat":
        return {"currentTime": NOW}
    if action == "Authorize":
        key = "idTagInfo" if version == "ocpp1.6" else "idTokenInfo"
        return {key: {"status": "Accepted"}}
    if action == "StartTransaction":
        return {"transactionId": next(TX_IDS), "idTagInfo": {"status": "Accepted"}}
    return {}


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--heartbeat", type=int, default=300)
    args = parser.parse_args()
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

    async def handler(ws: ServerConnection) -> None:
        path = ws.request.path if ws.request else ""
        if path.endswith("/echo"):
            async for raw in ws:
                await ws.send(raw)
            return
        version = ws.subprotocol or "ocpp1.6"
        async for raw in ws:
            message = json.loads(raw)
            if message[0] == 2:
                result = answer(message[2], version, args.heartbeat)
                await ws.send(json.dumps([3, message[1], result], separators=(",", ":")))

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    async with serve(
        handler,
        sock=sock,
        subprotocols=["ocpp1.6", "ocpp2.0.1"],  # type: ignore[list-item]
        compression=None,
        ping_interval=None,
        max_size=65536,
        backlog=4096,
    ):
        print(f"PORT {sock.getsockname()[1]}", flush=True)
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, sys.stdin.read)  # until the parent closes stdin


if __name__ == "__main__":
    asyncio.run(main())
