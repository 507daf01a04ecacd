"""Scale benchmark of the simulated charge points (loopback only, bounded, self-stopping).

Against ``benchmarks/minimal_csms.py`` in another process it measures, in this one run:

1. CPU µs per OCPP call on the charger side (sequential Heartbeat and 1.6 MeterValues CALLs of
   one SimulatedChargePoint) next to the raw round trip of the same websocket library
   (``websockets``: one client echoing a 60-byte frame on the same server process);
2. memory per idle connected charger (RSS growth / N after connect + boot) next to the memory
   per raw idle ``websockets`` connection, each measured in a fresh child process;
3. N chargers connected and heartbeating in one process (heartbeats answered in a window).

Run: ``python benchmarks/chargepoints_scale.py [--calls 3000] [--idle 1000] [--scale 5000]``
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
FRAME = json.dumps([2, "000001", "Heartbeat", {"pad": "x" * 24}])  # ~60 bytes


def rss_kb() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024


def raise_fd_limit() -> None:
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


class Csms:
    """The minimal central system in a child process; stops when this process closes stdin."""

    def __init__(self, heartbeat: int) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, str(HERE / "minimal_csms.py"), "--heartbeat", str(heartbeat)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().split()
        self.port = int(line[1])

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def _raw_connect(port: int) -> Any:
    from websockets.asyncio.client import connect
    from websockets.typing import Subprotocol

    return connect(
        f"ws://127.0.0.1:{port}/echo",
        compression=None,
        proxy=None,
        subprotocols=[Subprotocol("ocpp1.6")],
    )


async def raw_round_trip(port: int, calls: int) -> tuple[float, float]:

    async with _raw_connect(port) as ws:
        for _ in range(200):
            await ws.send(FRAME)
            await ws.recv()
        cpu, wall = time.process_time(), time.perf_counter()
        for _ in range(calls):
            await ws.send(FRAME)
            await ws.recv()
        return (
            (time.process_time() - cpu) / calls * 1e6,
            (time.perf_counter() - wall) / calls * 1e6,
        )


async def harness_calls(port: int, calls: int, version: str, validation: str) -> dict[str, float]:
    from ocpplab_sim.fleet import ChargePointConfig, SimulatedChargePoint

    config = ChargePointConfig(
        "BENCH-1",
        version,
        1,
        f"ws://127.0.0.1:{port}/ocpp",
        validation=validation,  # type: ignore[arg-type]
    )
    cp = SimulatedChargePoint(config)
    await cp.start()
    out: dict[str, float] = {}
    meter: dict[str, Any] = {
        "connectorId": 1,
        "meterValue": [
            {
                "timestamp": "2025-01-01T00:00:00Z",
                "sampledValue": [
                    {"value": "1234", "measurand": "Energy.Active.Import.Register", "unit": "Wh"},
                    {"value": "7200.0", "measurand": "Power.Active.Import", "unit": "W"},
                    {"value": "10.40", "measurand": "Current.Import", "unit": "A"},
                    {"value": "230.1", "measurand": "Voltage", "unit": "V"},
                ],
            }
        ],
    }
    cases = [("Heartbeat", {})]
    if version == "1.6":
        cases.append(("MeterValues", meter))
    for action, payload in cases:
        for _ in range(200):
            await cp.send_raw(action, payload)
        cpu, wall = time.process_time(), time.perf_counter()
        for _ in range(calls):
            await cp.send_raw(action, payload)
        out[f"{action} cpu"] = (time.process_time() - cpu) / calls * 1e6
        out[f"{action} wall"] = (time.perf_counter() - wall) / calls * 1e6
    await cp.stop()
    return out


async def idle_memory(port: int, count: int, kind: str, window_s: float) -> dict[str, float]:
    """RSS growth per connection; for ``harness`` also heartbeats answered in ``window_s``."""
    raise_fd_limit()
    import websockets  # noqa: F401 - import cost outside the measurement

    from ocpplab_sim.fleet import ChargePointConfig, Fleet

    gc.collect()
    before = rss_kb()
    began = time.perf_counter()
    result: dict[str, float] = {}
    if kind == "raw":
        sockets = []
        for start in range(0, count, 200):
            batch = [_raw_connect(port) for _ in range(min(200, count - start))]
            sockets += await asyncio.gather(*batch)
        gc.collect()
        result["kb per connection"] = (rss_kb() - before) / count
        for ws in sockets:
            await ws.close()
        return result
    configs = [
        ChargePointConfig(f"IDLE-{n:05d}", "1.6", 1, f"ws://127.0.0.1:{port}/ocpp", seed=n)
        for n in range(count)
    ]
    fleet = Fleet(configs, max_concurrent_starts=200)
    await fleet.start_all()
    result["connect+boot per s"] = count / (time.perf_counter() - began)
    gc.collect()
    result["kb per charger"] = (rss_kb() - before) / count
    answered = sum(cp.calls_answered for cp in fleet)
    await asyncio.sleep(window_s)
    result["connected"] = sum(cp.connected for cp in fleet)
    result["heartbeats answered in window"] = sum(cp.calls_answered for cp in fleet) - answered
    result["rss MB"] = rss_kb() / 1024
    await fleet.stop_all()
    return result


def child(kind: str, port: int, count: int, window: float) -> dict[str, float]:
    """Run one memory measurement in a fresh interpreter (RSS never shrinks back)."""
    code = (
        f"import asyncio, json, sys; sys.path.insert(0, {str(HERE)!r}); "
        "import chargepoints_scale as b; "
        f"print(json.dumps(asyncio.run(b.idle_memory({port}, {count}, {kind!r}, {window}))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600)
    if out.returncode != 0:
        raise RuntimeError(out.stderr[-2000:])
    loaded: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return loaded


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=3000)
    parser.add_argument("--idle", type=int, default=1000)
    parser.add_argument("--scale", type=int, default=5000)
    parser.add_argument("--heartbeat", type=int, default=5, help="interval for the scale run")
    args = parser.parse_args()
    raise_fd_limit()
    csms = Csms(args.heartbeat)
    try:
        raw_cpu, raw_wall = asyncio.run(raw_round_trip(csms.port, args.calls))
        print(f"raw websockets round trip: {raw_cpu:7.1f} µs CPU (client)  {raw_wall:7.1f} µs wall")
        for version in ("1.6", "2.0.1"):
            for validation in ("strict", "off"):
                figures = asyncio.run(harness_calls(csms.port, args.calls, version, validation))
                for key in [k for k in figures if k.endswith("cpu")]:
                    action = key.split()[0]
                    print(
                        f"harness {version:5} {action:11} {validation:6}: "
                        f"{figures[key]:7.1f} µs CPU  {figures[action + ' wall']:7.1f} µs wall  "
                        f"ratio CPU/raw CPU {figures[key] / raw_cpu:4.2f}"
                    )
        raw = child("raw", csms.port, args.idle, 0)
        cps = child("harness", csms.port, args.idle, 0)
        print(
            f"idle memory: raw websockets {raw['kb per connection']:.1f} KB/connection, "
            f"harness {cps['kb per charger']:.1f} KB/charger "
            f"(ratio {cps['kb per charger'] / raw['kb per connection']:.2f}, N={args.idle})"
        )
        window = 2.5 * args.heartbeat
        scale = child("harness", csms.port, args.scale, window)
        print(
            f"scale: {int(scale['connected'])}/{args.scale} connected, "
            f"{scale['connect+boot per s']:.0f} connect+boot/s, "
            f"{scale['kb per charger']:.1f} KB/charger, RSS {scale['rss MB']:.0f} MB, "
            f"{int(scale['heartbeats answered in window'])} heartbeats answered in {window:.1f} s "
            f"(expected ~{int(args.scale * window / args.heartbeat)})"
        )
    finally:
        csms.close()


if __name__ == "__main__":
    main()
