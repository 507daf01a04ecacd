"""Harness CPU per OCPP call in machine instructions (callgrind), for both transports.

The load worker's chargers (``SimulatedChargePoint`` with the worker's call observer, ``rare_gc``
as in a load worker) send sequential Heartbeats (``send_raw``) over ``--connections``
connections to the minimal central system (``python -m ocpplab_sim.load.sink``, its own process
on loopback, not under valgrind). Only the client runs under ``valgrind --tool=callgrind``,
twice per transport: ``--calls`` and three times as many calls per connection. Start-up,
connect, boot and close cost the same in both runs, so

    instructions per call = (Ir(3 × calls) − Ir(calls)) / (2 × calls × connections)

is the harness's own round trip (send, receive, parse, observe), steady and nearly
deterministic: a figure to compare commits with, unlike CPU time on a shared machine.
``--ref GITREF`` measures that commit too (in a temporary git worktree, removed afterwards)
for a before/after in one run.

Run: ``python benchmarks/call_cost.py [--ref GITREF] [--calls 300] [--connections 5]
[--validation lenient]``. Bounded: each client run is killed after ``--timeout`` seconds. Without
valgrind it says so and exits 0.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

TRANSPORTS = ("websockets", "picows")
HERE = Path(__file__).resolve()
REPO = HERE.parent.parent


async def _client(url: str, transport: str, connections: int, calls: int, validation: str) -> None:
    """The measured side (the ``--client`` mode, run under callgrind)."""
    from ocpplab_sim.fleet import SimulatedChargePoint
    from ocpplab_sim.load.shapes import Steady
    from ocpplab_sim.load.worker import WorkerPlan, _Worker

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

    async def run(point: SimulatedChargePoint, n: int) -> None:
        for _ in range(n):
            await point.send_raw("Heartbeat", {})

    try:
        await asyncio.gather(*(run(point, 50) for point in points))  # warm up
        await asyncio.gather(*(run(point, calls) for point in points))
    finally:
        await asyncio.gather(*(point.stop() for point in points))
    assert worker.state.metrics.histograms["Heartbeat"].count == (calls + 50) * connections


def client_main(argv: list[str]) -> None:
    from ocpplab_sim.load.sink import run_fast
    from ocpplab_sim.load.worker import rare_gc

    url, transport, connections, calls, validation = argv
    with rare_gc():
        run_fast(_client(url, transport, int(connections), int(calls), validation))


def instructions(src: Path, url: str, transport: str, calls: int, args: argparse.Namespace) -> int:
    """Ir of one client run under callgrind with ``src`` on PYTHONPATH."""
    with tempfile.TemporaryDirectory(prefix="call-cost-") as tmp:
        out = Path(tmp) / "callgrind.out"
        command = [
            "valgrind",
            "--tool=callgrind",
            f"--callgrind-out-file={out}",
            sys.executable,
            str(HERE),
            "--client",
            url,
            transport,
            str(args.connections),
            str(calls),
            args.validation,
        ]
        env = {**os.environ, "PYTHONPATH": str(src), "PYTHONHASHSEED": "0"}
        for attempt in (1, 2):  # once more: a connect under valgrind on a busy machine may time out
            done = subprocess.run(
                command,
                env=env,
                timeout=args.timeout,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
            )
            if done.returncode == 0:
                break
            tail = [line for line in done.stderr.splitlines() if not line.startswith("==")]
            print(f"  (client run failed, attempt {attempt}: {' | '.join(tail[-2:])})")
        else:
            raise RuntimeError(f"the client failed twice: {' '.join(command)}")
        for line in out.read_text().splitlines():
            if line.startswith(("totals:", "summary:")):
                return int(line.split()[1])
    raise RuntimeError("no totals in the callgrind output")


def per_call(src: Path, url: str, transport: str, args: argparse.Namespace) -> float:
    calls: int = args.calls
    low = instructions(src, url, transport, calls, args)
    high = instructions(src, url, transport, 3 * calls, args)
    connections: int = args.connections
    return (high - low) / (2 * calls * connections)


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--client":
        client_main(sys.argv[2:])
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--ref", help="also measure this commit (a temporary worktree)")
    parser.add_argument("--calls", type=int, default=300, help="calls per connection (low run)")
    parser.add_argument("--connections", type=int, default=5)
    parser.add_argument(
        "--validation",
        choices=("off", "lenient", "strict"),
        default="lenient",
        help="the charger's schema checks (lenient: a charger's and the load worker's default)",
    )
    parser.add_argument("--transport", choices=TRANSPORTS, action="append")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds per client run")
    args = parser.parse_args()
    if shutil.which("valgrind") is None:
        print("valgrind is not installed: nothing measured (apt-get install valgrind)")
        return
    trees = [("this tree", REPO / "src")]
    worktree = None
    if args.ref:
        worktree = Path(tempfile.mkdtemp(prefix="call-cost-ref-"))
        subprocess.run(
            ["git", "-C", str(REPO), "worktree", "add", "--detach", "-q", str(worktree), args.ref],
            check=True,
        )
        trees.insert(0, (args.ref, worktree / "src"))
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    sink = subprocess.Popen(
        [sys.executable, "-m", "ocpplab_sim.load.sink", "--heartbeat-interval", "3600"],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert sink.stdout is not None
        line = sink.stdout.readline()
        if not line.startswith("listening on "):
            raise RuntimeError(f"sink did not start: {line!r}")
        url = line.split()[-1]
        print(
            f"instructions per Heartbeat round trip (callgrind; {args.connections} connections, "
            f"({3 * args.calls} - {args.calls}) calls each, validation {args.validation})"
        )
        for transport in args.transport or TRANSPORTS:
            for name, src in trees:
                figure = per_call(src, url, transport, args)
                print(f"  {transport:<10} {name:<12} {figure / 1000:7.1f} k", flush=True)
    finally:
        sink.terminate()
        try:
            sink.wait(15)
        except subprocess.TimeoutExpired:
            sink.kill()
        if worktree is not None:
            subprocess.run(
                ["git", "-C", str(REPO), "worktree", "remove", "--force", str(worktree)],
                check=False,
            )


if __name__ == "__main__":
    main()
