"""Load-generator benchmark (loopback only, bounded, self-stopping).

Against the minimal central system (``python -m ocpplab_sim.load.sink``) in separate processes
it measures, in one run:

1. against a sink of one process (the client measured has a core of its own): CPU µs per OCPP
   call of one load charger (SimulatedChargePoint with the load worker's call observer,
   sequential Heartbeats) next to the raw round trip of the same websocket library to the same
   server (the same Heartbeat frames sent and their answers received, nothing parsed), for both
   libraries the connection layer offers (websockets, picows), and their ratio; then client CPU
   per connect+boot, harness against bare picows;
2. a boot storm: ``--chargers`` chargers (default 20,000) connect and boot through the load
   worker in ``--workers`` processes, source addresses 127.0.0.2, 127.0.0.3, … round-robin;
   connect+boot per second, the CPU per connect+boot of the harness and of the sink, and harness
   memory per charger (RSS growth of the worker processes);
3. a steady hold of ``--hold`` seconds with every charger heartbeating every ``--heartbeat``
   seconds (20,000 / 10 s = 2,000 calls/s): calls/s, p50/p99 call latency, harness CPU per call
   at that load, and lost messages (calls never answered, errors, reconnects).

Run: ``python benchmarks/load_scale.py [--chargers 20000] [--heartbeat 10] [--hold 60]
[--workers 2] [--sink-processes 1] [--source-addresses 16]``. Bounded: it stops after the hold
(plus the boot storm, at most ``--boot-budget`` seconds).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import multiprocessing
import os
import queue
import statistics
import subprocess
import sys
import time
from typing import Any

from picows import WSListener, WSMsgType, ws_connect

from ocpplab_sim.load.metrics import LatencyHistogram, LoadMetrics
from ocpplab_sim.load.shapes import Steady
from ocpplab_sim.load.sink import raise_fd_limit, run_fast
from ocpplab_sim.load.worker import WorkerPlan, rare_gc, rss_kb, run_worker


class Sink:
    """The minimal central system in its own process(es); terminated on close."""

    def __init__(self, heartbeat: int, processes: int) -> None:
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "ocpplab_sim.load.sink",
                "--heartbeat-interval",
                str(heartbeat),
                "--processes",
                str(processes),
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line.startswith("listening on "):
            raise RuntimeError(f"sink did not start: {line!r}")
        self.url = line.split()[-1]

    def cpu_s(self) -> float:
        """CPU seconds (user + system) of the sink's processes so far (Linux /proc)."""
        tick = os.sysconf("SC_CLK_TCK")
        total = 0.0
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/stat", encoding="ascii") as stat:
                    fields = stat.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(entry) == self.proc.pid or int(fields[1]) == self.proc.pid:
                total += (int(fields[11]) + int(fields[12])) / tick
        return total

    def close(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        if self.proc.stdout is not None:
            self.proc.stdout.close()


def heartbeat_frame(number: int) -> str:
    """The frame a charger sends for its ``number``-th Heartbeat (what the harness sends)."""
    return f'[2,"{number}","Heartbeat",{{}}]'


async def _measure(rounds: list[Any], calls: int) -> float:
    """Client CPU µs per call: every round-trip coroutine factory in ``rounds`` runs ``calls``
    sequential calls on its own connection, all at once (the client stays busy, so idle
    wake-ups do not blur the figure); 100 calls each warm up first."""
    await asyncio.gather(*(one(100) for one in rounds))
    cpu = time.process_time()
    await asyncio.gather(*(one(calls) for one in rounds))
    return (time.process_time() - cpu) / (calls * len(rounds)) * 1e6


async def raw_websockets(url: str, connections: int, calls: int) -> float:
    """Plain websockets: the same Heartbeat frames to the same central system as the harness
    sends, with no OCPP machinery on the client (the answer is received, not parsed)."""
    from websockets.asyncio.client import ClientConnection, connect
    from websockets.typing import Subprotocol

    sockets = [
        await connect(
            f"{url}/RAW-WS-{n}",
            subprotocols=[Subprotocol("ocpp1.6")],
            compression=None,
            proxy=None,
            ping_interval=None,
        )
        for n in range(connections)
    ]

    def rounds(ws: ClientConnection) -> Any:
        counter = iter(range(10**9))

        async def run(n: int) -> None:
            for _ in range(n):
                await ws.send(heartbeat_frame(next(counter)))
                await ws.recv()

        return run

    try:
        return await _measure([rounds(ws) for ws in sockets], calls)
    finally:
        await asyncio.gather(*(ws.close() for ws in sockets))


class Waiter(WSListener):  # type: ignore[misc]
    """A bare picows client: the frame handler completes the future the sender awaits."""

    waiter: asyncio.Future[bytes]

    def on_ws_frame(self, transport: Any, frame: Any) -> None:
        if frame.msg_type == WSMsgType.TEXT:
            self.waiter.set_result(frame.get_payload_as_bytes())


async def raw_picows(url: str, connections: int, calls: int) -> float:
    """The same with plain picows (its callback API: the frame handler completes the future
    the sender awaits)."""

    loop = asyncio.get_running_loop()
    links = [
        await ws_connect(
            Waiter, f"{url}/RAW-PICOWS-{n}", extra_headers={"Sec-WebSocket-Protocol": "ocpp1.6"}
        )
        for n in range(connections)
    ]

    def rounds(transport: Any, waiter: Waiter) -> Any:
        counter = iter(range(10**9))

        async def run(n: int) -> None:
            for _ in range(n):
                waiter.waiter = loop.create_future()
                transport.send(WSMsgType.TEXT, heartbeat_frame(next(counter)).encode())
                await waiter.waiter

        return run

    try:
        return await _measure([rounds(t, w) for t, w in links], calls)
    finally:
        for transport, _waiter in links:
            transport.disconnect()


async def harness_call(
    url: str, connections: int, calls: int, validation: str, transport: str
) -> float:
    """The load worker's chargers (SimulatedChargePoint with the worker's call observer, which
    times every call into the histograms) sending Heartbeats."""
    from ocpplab_sim.fleet import SimulatedChargePoint
    from ocpplab_sim.load.worker import _Worker

    plan = WorkerPlan(
        url,
        0,
        connections,
        connections,
        Steady(1, 1),
        validation=validation,  # type: ignore[arg-type]
        transport=transport,  # type: ignore[arg-type]
    )
    worker = _Worker(plan, lambda _snapshot: None)
    points = [
        SimulatedChargePoint(plan.config(n), on_call=worker.on_call) for n in range(connections)
    ]
    await asyncio.gather(*(point.start() for point in points))

    def rounds(point: SimulatedChargePoint) -> Any:
        async def run(n: int) -> None:
            for _ in range(n):
                await point.send_raw("Heartbeat", {})

        return run

    try:
        spent = await _measure([rounds(point) for point in points], calls)
    finally:
        await asyncio.gather(*(point.stop() for point in points))
    assert worker.state.metrics.histograms["Heartbeat"].count >= (calls + 100) * connections
    return spent


def _worker_child(plan: WorkerPlan, out: Any) -> None:
    raise_fd_limit()
    gc.collect()
    out.put(("baseline", plan.worker, (rss_kb(), time.process_time())))
    try:
        final = run_fast(run_worker(plan, lambda snap: out.put(("snap", time.time(), snap))))
        out.put(("done", plan.worker, final))
    except BaseException as exc:
        out.put(("failed", plan.worker, f"{type(exc).__name__}: {exc}"))


def scale_run(args: argparse.Namespace, sink: Sink) -> None:
    url = sink.url
    n, workers = args.chargers, args.workers
    duration = args.boot_budget + args.hold
    shape = Steady(n, duration, connect_rate=args.connect_rate)
    plans = []
    for index in range(workers):
        first, last = n * index // workers, n * (index + 1) // workers
        plans.append(
            WorkerPlan(
                url,
                first,
                last,
                n,
                shape,
                worker=index,
                report_every_s=0.25,
                validation=args.validation,
                source_addresses=args.source_addresses,
                meter_interval_s=3600,
                transport=args.transport,
                max_connecting=args.max_connecting,
            )
        )
    context = multiprocessing.get_context("spawn")
    out = context.Queue()
    processes = [context.Process(target=_worker_child, args=(p, out), daemon=True) for p in plans]
    started = time.time()
    sink_cpu = [(started, sink.cpu_s())]  # (when, sink CPU seconds so far)
    for process in processes:
        process.start()
    baseline: dict[int, tuple[int, float]] = {}  # RSS KB and CPU s before the run
    finals: dict[int, dict[str, Any]] = {}
    snaps: list[tuple[float, dict[str, Any]]] = []
    deadline = time.monotonic() + duration + 120
    while len(finals) < workers:
        if time.monotonic() > deadline:
            raise RuntimeError("workers did not finish")
        try:
            kind, key, value = out.get(timeout=1)
        except queue.Empty:
            if any(p.exitcode not in (None, 0) for p in processes):
                raise RuntimeError("a worker died") from None
            continue
        if kind == "baseline":
            baseline[key] = value
        elif kind == "snap":
            snaps.append((key, value))
            if sink_cpu[-1][0] < key - 0.2:
                sink_cpu.append((key, sink.cpu_s()))
        elif kind == "done":
            finals[key] = value
        else:
            raise RuntimeError(f"worker {key} failed: {value}")
    for process in processes:
        process.join(10)

    # boot storm: when did every worker have its whole slice connected?
    done_at: dict[int, float] = {}
    first_seen: dict[int, float] = {}
    for at, snap in snaps:
        first_seen.setdefault(snap["worker"], at - snap["t"])
        size = plans[snap["worker"]].size
        if snap["connected"] >= size and snap["worker"] not in done_at:
            done_at[snap["worker"]] = at
    run_start = min(first_seen.values())
    totals = LoadMetrics()
    for final in finals.values():
        totals.merge(LoadMetrics.from_dict(final))
    counters = totals.counters
    boot = totals.histograms.get("connect+boot", LatencyHistogram())
    if len(done_at) == workers:
        storm_s = max(done_at.values()) - run_start
        print(
            f"boot storm: {n} chargers connected+booted in {storm_s:.1f} s = "
            f"{n / storm_s:,.0f} connect+boot/s (connect+boot p50 {boot.percentile(50) * 1e3:.0f} ms, "
            f"p99 {boot.percentile(99) * 1e3:.0f} ms; {workers} worker processes, "
            f"{args.sink_processes} sink processes, {args.source_addresses} source addresses)"
        )
        all_connected = max(done_at.values())
        # CPU spent on the storm: the workers' own clocks, the sink's from /proc
        storm_cpu = sum(
            snap["cpu_s"] - baseline[snap["worker"]][1]
            for at, snap in snaps
            if at == done_at.get(snap["worker"])
        )
        sink_then = next((c for at, c in sink_cpu if at >= all_connected), sink.cpu_s())
        sink_storm = sink_then - sink_cpu[0][1]
        print(
            f"CPU per connect+boot in the storm: harness {storm_cpu / n * 1e6:.0f} µs, "
            f"sink {sink_storm / n * 1e6:.0f} µs ({storm_cpu + sink_storm:.1f} CPU s of "
            f"{storm_s * (os.cpu_count() or 1):.1f} on {os.cpu_count()} cores)"
        )
    else:
        print(f"boot storm: NOT all connected ({counters.get('connected', 0)}/{n})")
        all_connected = run_start + args.boot_budget

    # steady window: from 2 s after everyone is connected to 1 s before the end
    end = run_start + duration
    window = [(at, s) for at, s in snaps if all_connected + 2 <= at <= end - 1 and not s["final"]]
    by_worker: dict[int, list[tuple[float, dict[str, Any]]]] = {}
    for at, snap in window:
        by_worker.setdefault(snap["worker"], []).append((at, snap))
    latency = LatencyHistogram()
    messages = 0
    cpu = 0.0
    span = 0.0
    rss_growth = 0
    for worker, items in by_worker.items():
        items.sort(key=lambda item: item[0])
        for _at, snap in items[1:]:
            messages += snap["messages"]
            latency.add_encoded(snap["latency"])
        cpu += items[-1][1]["cpu_s"] - items[0][1]["cpu_s"]
        span = max(span, items[-1][0] - items[0][0])
        rss_growth += max(s["rss_kb"] for _a, s in items) - baseline[worker][0]
    calls = messages / 2
    held = max(1, counters.get("connected", 0) - counters.get("disconnected", 0))
    print(
        f"memory: {rss_growth / held:.1f} KB per connected charger (RSS growth of the worker "
        f"processes, total {rss_growth / 1024:.0f} MB for {held})"
    )
    if span > 0:
        print(
            f"steady hold: {span:.0f} s, {calls / span:,.0f} calls/s answered, "
            f"call latency p50 {latency.percentile(50) * 1e3:.2f} ms, "
            f"p99 {latency.percentile(99) * 1e3:.2f} ms, p99.9 {latency.percentile(99.9) * 1e3:.2f} ms, "
            f"max {latency.max * 1e3:.1f} ms"
        )
        print(
            f"harness CPU at that load: {cpu / calls * 1e6:.0f} µs per call "
            f"({cpu / span * 100:.0f} % of a core for {workers} workers)"
        )
    errors = {k: v for k, v in counters.items() if k.startswith("errors.") and v}
    lost = counters.get("unanswered", 0)
    print(f"counters: {dict(sorted(counters.items()))}")
    print(
        f"lost messages: {lost} unanswered, {counters.get('reconnects', 0)} reconnects, "
        f"errors {errors or 'none'}; {counters.get('in_flight_at_stop', 0)} calls in flight "
        f"when the run stopped; heartbeats answered in total "
        f"{totals.histograms['Heartbeat'].count if 'Heartbeat' in totals.histograms else 0:,}"
    )
    print(f"wall time of the scale run: {time.time() - started:.0f} s")


async def raw_boots(url: str, n: int, concurrency: int) -> float:
    """Client CPU µs per connect+boot with bare picows: connect, then the same three frames a
    1.6 charger with one connector sends (BootNotification, StatusNotification for connectors
    0 and 1), each answer awaited, nothing parsed: the floor under the harness's figure."""

    boot = '[2,"1","BootNotification",{"chargePointVendor":"ocpplab","chargePointModel":"sim"}]'
    status = '[2,"%d","StatusNotification",{"connectorId":%d,"errorCode":"NoError","status":"Available"}]'
    frames = [boot.encode(), (status % (2, 0)).encode(), (status % (3, 1)).encode()]

    loop = asyncio.get_running_loop()
    opened: list[Any] = []
    numbers = iter(range(n))

    async def boots() -> None:
        for number in numbers:
            transport, waiter = await ws_connect(
                Waiter,
                f"{url}/RAW-BOOT-{number}",
                extra_headers={"Sec-WebSocket-Protocol": "ocpp1.6"},
                use_aiofastnet=False,
            )
            for frame in frames:
                waiter.waiter = loop.create_future()
                transport.send(WSMsgType.TEXT, frame)
                await waiter.waiter
            opened.append(transport)

    cpu = time.process_time()
    await asyncio.gather(*(boots() for _ in range(concurrency)))
    spent = (time.process_time() - cpu) / n * 1e6
    for transport in opened:
        transport.disconnect()
    await asyncio.sleep(0.5)
    return spent


async def harness_boots(url: str, n: int, concurrency: int) -> float:
    """The same through the load worker's connect (SimulatedChargePoint.start, the frame hook,
    the connect+boot histogram)."""
    from ocpplab_sim.load.worker import _Worker

    plan = WorkerPlan(url, 0, n, n, Steady(1, 1), meter_interval_s=3600, validation="off")
    worker = _Worker(plan, lambda _snapshot: None)
    numbers = iter(range(n))

    async def boots() -> None:
        for number in numbers:
            worker.connecting += 1
            await worker.connect(number)

    cpu = time.process_time()
    await asyncio.gather(*(boots() for _ in range(concurrency)))
    spent = (time.process_time() - cpu) / n * 1e6
    assert len(worker.connected) == n, worker.state.metrics.counters
    await asyncio.gather(*(point.stop() for point in worker.connected.values()))
    return spent


def boot_cpu(url: str, n: int, concurrency: int) -> None:
    with rare_gc():  # as in a load worker, for both
        raw = run_fast(raw_boots(url, n, concurrency))
        mine = run_fast(harness_boots(url, n, concurrency))
    print(
        f"client CPU per connect+boot ({n} chargers, {concurrency} at a time, one process): "
        f"bare picows {raw:.0f} µs, harness {mine:.0f} µs = {mine / raw:.2f}×"
    )


def _rounds(
    url: str,
    k: int,
    calls: int,
    rounds: int,
    kinds: list[tuple[str, str]],
    seen: dict[tuple[str, str], list[float]],
) -> None:
    for _ in range(rounds):
        for transport, validation in kinds:
            if validation == "raw":
                raw = raw_websockets if transport == "websockets" else raw_picows
                seen[(transport, validation)].append(run_fast(raw(url, k, calls)))
            else:
                figure = run_fast(harness_call(url, k, calls, validation, transport))
                seen[(transport, validation)].append(figure)


def per_call(url: str, k: int, calls: int, rounds: int = 7) -> None:
    """Each of the six measurements ``rounds`` times, interleaved; the median of each. All run
    with the load worker's garbage-collection thresholds (``rare_gc``), raw ones included."""
    print(
        f"CPU per call: {k} connections, {calls} sequential Heartbeats each, one process, "
        f"median of {rounds} interleaved rounds"
    )
    kinds = [
        (transport, validation)
        for transport in ("websockets", "picows")
        for validation in ("raw", "off", "lenient")
    ]
    seen: dict[tuple[str, str], list[float]] = {kind: [] for kind in kinds}
    with rare_gc():
        _rounds(url, k, calls, rounds, kinds, seen)
    median = {kind: statistics.median(values) for kind, values in seen.items()}
    for transport in ("websockets", "picows"):
        raw = median[(transport, "raw")]
        print(f"  raw {transport:<10} round trip: {raw:6.1f} µs client CPU per call")
        for validation in ("off", "lenient"):
            mine = median[(transport, validation)]
            print(
                f"  harness over {transport:<10} validation {validation:<7}: {mine:6.1f} µs "
                f"client CPU per call = {mine / raw:.2f}× the raw {transport} round trip"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--chargers", type=int, default=20_000)
    parser.add_argument("--heartbeat", type=int, default=10)
    parser.add_argument("--hold", type=float, default=60.0)
    parser.add_argument("--boot-budget", type=float, default=25.0)
    parser.add_argument("--connect-rate", type=float, default=100_000.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--sink-processes", type=int, default=1)
    parser.add_argument("--source-addresses", type=int, default=16)
    parser.add_argument("--validation", choices=("off", "lenient", "strict"), default="off")
    parser.add_argument("--calls", type=int, default=300, help="calls per connection")
    parser.add_argument("--call-connections", type=int, default=50)
    parser.add_argument("--transport", choices=("picows", "websockets"), default="picows")
    parser.add_argument("--max-connecting", type=int, default=1024, help="per worker")
    parser.add_argument("--boot-sample", type=int, default=2000, help="chargers per boot-CPU run")
    parser.add_argument("--skip-scale", action="store_true")
    parser.add_argument("--skip-calls", action="store_true", help="no CPU-per-call comparison")
    args = parser.parse_args()
    limit = raise_fd_limit()
    # one descriptor per connection in the sink too: enough processes to hold them all
    needed = -(-(args.chargers + args.call_connections + 200) // max(1, limit - 200))
    sink_processes = max(args.sink_processes, needed)
    args.sink_processes = sink_processes
    print(f"fd limit raised to {limit}; {sink_processes} sink process(es) for the scale run")
    if not args.skip_calls:
        # One sink process: the client measured has a core of its own, as the sink has, so
        # neither figure carries the cache misses of more busy processes than cores.
        sink = Sink(args.heartbeat, 1)
        try:
            per_call(sink.url, args.call_connections, args.calls)
            boot_cpu(sink.url, args.boot_sample, args.max_connecting)
        finally:
            sink.close()
    if not args.skip_scale:
        sink = Sink(args.heartbeat, sink_processes)
        try:
            scale_run(args, sink)
        finally:
            sink.close()


if __name__ == "__main__":
    main()
