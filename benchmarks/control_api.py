"""Control-API benchmark (loopback only, bounded, self-stopping).

``--chargers`` chargers (default 1,000; one EVSE each) run in this process against the minimal
central system of the project (``python -m ocpplab_sim.load.sink``, its own process), with the
websocket library of load runs (``--transport picows``, or ``websockets``). A
:class:`ControlServer` serves the control API over them in this process, as ``ocpplab-sim
chargers --control-port`` does (its registry is the chargers' frame observer); an httpx client,
also in this process, sends one request at a time and times each, spread over ``--rounds``
chargers evenly spaced through the fleet:

- per charger: ``health``, ``plug-connector``, ``authorize-and-start``, ``power-update``,
  ``ev-state``, ``stop-transaction``, ``unplug-connector`` (each charger goes through the
  whole sequence, so every action is valid and causes its OCPP traffic);
- ``GET /chargers`` pages of 100 at offsets spread over the fleet.

The actions that reach the central system are then done again on the same chargers directly on
their :class:`SimulatedChargePoint` (no HTTP); the ratio API p50 / direct p50 and the difference
are the API's overhead: HTTP, routing, validation, the answer's JSON and the request's own
client, all on the one event loop the chargers use too.

Run: ``python benchmarks/control_api.py [--chargers 1000] [--rounds 400]
[--transport picows|websockets] [--ocpp-version 1.6|2.0.1] [--budget 300]``. Bounded: at most
``--rounds`` requests per action, and the whole run is cut at ``--budget`` seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import gc
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any, Literal

import httpx

from ocpplab_sim.control import ChargerRegistry, ControlServer
from ocpplab_sim.fleet import ChargePointConfig, Fleet, SimulatedChargePoint
from ocpplab_sim.load.sink import raise_fd_limit, run_fast

#: the actions timed on the charger directly as well (those that reach the central system)
DIRECT: dict[str, Callable[[SimulatedChargePoint], Awaitable[Any]]] = {
    "plug-connector": lambda cp: cp.plug_in(1),
    "authorize-and-start": lambda cp: cp.start_charging(1, "BENCH-TAG"),
    "power-update": lambda cp: cp.set_ev_power(1, 7000),
    "stop-transaction": lambda cp: cp.stop_charging(1, "Local"),
    "unplug-connector": lambda cp: cp.unplug(1),
}

#: the per-charger requests, in the order each charger goes through them
REQUESTS: list[tuple[str, str, str, dict[str, Any]]] = [
    ("health", "GET", "health", {}),
    ("plug-connector", "POST", "plug-connector", {"evse_id": 1}),
    ("authorize-and-start", "POST", "authorize-and-start", {"evse_id": 1, "id_tag": "BENCH-TAG"}),
    ("power-update", "POST", "power-update", {"evse_id": 1, "power_w": 7000}),
    ("ev-state", "GET", "ev-state", {"evse_id": 1}),
    ("stop-transaction", "POST", "stop-transaction", {"connector_id": 1}),
    ("unplug-connector", "POST", "unplug-connector", {"evse_id": 1}),
]


class Sink:
    """The minimal central system in its own process (as in ``load_scale.py``)."""

    def __init__(self) -> None:
        command = [sys.executable, "-m", "ocpplab_sim.load.sink", "--heartbeat-interval", "3600"]
        self.proc = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line.startswith("listening on "):
            self.close()
            raise RuntimeError(f"sink did not start: {line!r}")
        self.url = line.split()[-1]

    def close(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        if self.proc.stdout is not None:
            self.proc.stdout.close()


def percentiles(samples_s: list[float]) -> tuple[float, float]:
    """p50 and p99 in ms."""
    cuts = statistics.quantiles(samples_s, n=100, method="inclusive")
    return cuts[49] * 1e3, cuts[98] * 1e3


async def timed(work: Callable[[], Awaitable[Any]]) -> float:
    start = time.perf_counter()
    await work()
    return time.perf_counter() - start


async def run(args: argparse.Namespace) -> None:
    transport: Literal["websockets", "picows"] = args.transport
    sink = Sink()
    try:
        configs = [
            ChargePointConfig(
                identity=f"BENCH-{n:05d}",
                ocpp_version=args.ocpp_version,
                evse_count=1,
                csms_url=sink.url,
                meter_interval_s=3600.0,
                seed=n,
                transport=transport,
            )
            for n in range(1, args.chargers + 1)
        ]
        registry = ChargerRegistry()
        fleet = Fleet(configs, on_frame=registry)
        registry.add(fleet)
        points = list(fleet)
        step = max(1, len(points) // args.rounds)
        sample = points[::step][: args.rounds]
        try:
            async with (
                ControlServer(registry) as server,
                httpx.AsyncClient(base_url=server.url, timeout=30) as http,
            ):
                began = time.perf_counter()
                await fleet.start_all()
                boot_s = time.perf_counter() - began
                print(
                    f"{len(points)} chargers ({args.ocpp_version}, {transport}) connected and "
                    f"booted in {boot_s:.1f} s; control API at {server.url}; "
                    f"{len(sample)} chargers sampled (1 in {step})"
                )
                for _ in range(50):  # warm up: the first requests build FastAPI's caches
                    (await http.get(f"/chargers/{sample[0].identity}/health")).raise_for_status()
                gc.collect()
                await measure(http, fleet, sample, len(points))
        finally:
            await fleet.stop_all()
    finally:
        sink.close()


async def measure(
    http: httpx.AsyncClient, fleet: Fleet, sample: list[SimulatedChargePoint], total: int
) -> None:
    async def request(method: str, url: str, params: dict[str, Any]) -> httpx.Response:
        answer = await http.request(method, url, params=params)
        answer.raise_for_status()
        return answer

    api: dict[str, list[float]] = {}
    for name, method, path, params in REQUESTS:
        api[name] = [
            await timed(
                functools.partial(request, method, f"/chargers/{cp.identity}/{path}", params)
            )
            for cp in sample
        ]
    offsets = [(i * 100) % max(1, total - 99) for i in range(len(sample))]
    api["GET /chargers (100)"] = [
        await timed(functools.partial(request, "GET", "/chargers", {"offset": o, "limit": 100}))
        for o in offsets
    ]

    direct: dict[str, list[float]] = {name: [] for name in DIRECT}
    for name, act in DIRECT.items():
        for cp in sample:
            direct[name].append(await timed(functools.partial(act, cp)))

    for cp in sample:  # every charger came back to where it began
        assert cp.status(1) == "Available", (cp.identity, cp.status(1))

    print()
    print(
        f"{'action':<22}{'n':>5}{'API p50':>10}{'API p99':>10}"
        f"{'direct p50':>12}{'direct p99':>12}{'ratio':>7}{'overhead':>10}"
    )
    for name, samples in api.items():
        p50, p99 = percentiles(samples)
        row = f"{name:<22}{len(samples):>5}{p50:>10.2f}{p99:>10.2f}"
        if name in direct:
            d50, d99 = percentiles(direct[name])
            row += f"{d50:>12.2f}{d99:>12.2f}{p50 / d50:>7.1f}{p50 - d50:>10.2f}"
        print(row)
    print("(ms; ratio = API p50 / direct p50; overhead = API p50 - direct p50, in ms)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--chargers", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=400, help="chargers sampled per action")
    parser.add_argument("--transport", choices=("picows", "websockets"), default="picows")
    parser.add_argument("--ocpp-version", choices=("1.6", "2.0.1"), default="1.6")
    parser.add_argument("--budget", type=float, default=300.0, help="seconds, at most")
    args = parser.parse_args()
    if args.chargers < 1 or args.rounds < 2:
        parser.error("--chargers >= 1 and --rounds >= 2")
    args.rounds = min(args.rounds, args.chargers)
    raise_fd_limit()
    print(
        f"control API benchmark: Python {platform.python_version()}, "
        f"{platform.machine()}, {len(os.sched_getaffinity(0))} CPU(s)"
    )

    async def bounded() -> None:
        async with asyncio.timeout(args.budget):
            await run(args)

    run_fast(bounded())


if __name__ == "__main__":
    main()
