"""A load run: the shard's chargers split over worker processes (one per core), one report.

Workers publish a snapshot per second through a queue; the parent prints live progress, keeps a
timeline (connected chargers, messages/s, p50/p99 per second, merged exactly from the workers'
interval histograms) and, at the end, merges the workers' metrics into one report. With one worker
everything runs in the calling process (no subprocess), which is what tests use.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import queue
import signal
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, replace
from typing import Any

from ocpplab_sim.load.cpus import available_cpus
from ocpplab_sim.load.metrics import LatencyHistogram, LoadMetrics
from ocpplab_sim.load.shard import Shard
from ocpplab_sim.load.sink import run_fast
from ocpplab_sim.load.stop import ABORT, STOP, Either, StopFlag, new_flag
from ocpplab_sim.load.worker import INTERRUPTED_WIND_DOWN_S, WorkerPlan, run_worker

__all__ = ["LOAD_REPORT_KIND", "LOAD_REPORT_VERSION", "LoadRunResult", "run_load", "timeline_point"]

LOAD_REPORT_KIND = "ocpplab-sim/load-run"
LOAD_REPORT_VERSION = 1


@dataclass
class LoadRunResult:
    """The merged outcome: ``report`` is the JSON-ready report, ``metrics`` its totals."""

    report: dict[str, Any]
    metrics: LoadMetrics


_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def _worker_process(plan: WorkerPlan, out: Any, parent: StopFlag) -> None:
    # Started with SIGINT and SIGTERM blocked (see _run_processes): a Ctrl-C reaches the whole
    # process group, and must stop this worker like its parent, not end it in a traceback.
    own = new_flag()

    def interrupted(signum: int, frame: object) -> None:
        own.value = ABORT if own.value else STOP

    for signum in _SIGNALS:
        signal.signal(signum, interrupted)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, _SIGNALS)

    def publish(snapshot: dict[str, Any]) -> None:
        out.put(("snapshot", snapshot))

    try:
        metrics = run_fast(run_worker(plan, publish, Either(own, parent)))
        out.put(("done", plan.worker, metrics))
    except BaseException as exc:  # the parent must learn of any death, whatever it was
        out.put(("failed", plan.worker, f"{type(exc).__name__}: {exc}"))


def _split(plan: WorkerPlan, shard: Shard, workers: int) -> list[WorkerPlan]:
    mine = shard.slice(plan.total)
    plans: list[WorkerPlan] = []
    for index in range(workers):
        part = Shard(index, workers).slice(len(mine))
        if len(part) == 0:
            continue
        plans.append(
            replace(
                plan,
                first=mine.start + part.start,
                last=mine.start + part.stop,
                worker=len(plans),
            )
        )
    return plans


def timeline_point(t: int, snapshots: list[dict[str, Any]]) -> dict[str, Any]:
    """One second of the run from the workers' snapshots of that second (exact percentiles)."""
    latency = LatencyHistogram()
    for snap in snapshots:
        latency.add_encoded(snap["latency"])
    return {
        "t": t,
        "connected": sum(s["connected"] for s in snapshots),
        "charging": sum(s["charging"] for s in snapshots),
        "faulted": sum(s.get("faulted", 0) for s in snapshots),
        "messages": sum(s["messages"] for s in snapshots),
        "booted": sum(s.get("booted", 0) for s in snapshots),
        "sessions": sum(s.get("sessions", 0) for s in snapshots),
        "errors": sum(s.get("errors", 0) for s in snapshots),
        "p50_s": latency.percentile(50),
        "p99_s": latency.percentile(99),
        "latency": latency.encode(),
    }


def run_load(
    plan: WorkerPlan,
    *,
    shard: Shard | None = None,
    workers: int | str = "auto",
    progress: Callable[[dict[str, Any]], None] | None = None,
    settings: dict[str, Any] | None = None,
    observe: Callable[[dict[str, Any]], None] | None = None,
    stop: StopFlag | None = None,
) -> LoadRunResult:
    """Run the shard's part of the fleet and return the merged report.

    ``workers="auto"`` uses one process per usable CPU (affinity and cgroup quota).
    ``observe`` sees every worker snapshot as it arrives, and the ``status_only`` ones a worker
    sends within a tick of a watched charger's StatusNotification (what an OCPI probe waits
    for). ``stop`` ends the run early when raised
    (``STOP``: wind down and report what was measured; ``ABORT``: stop waiting for that too).
    A worker that dies or does not finish is counted (``errors.worker_failed``) and named in
    the report's ``worker_failures``; the other workers' metrics are kept.
    """
    shard = shard or Shard()
    count = available_cpus() if workers == "auto" else int(workers)
    plans = _split(plan, shard, max(1, count))
    started_at = time.time()
    snapshots: dict[int, list[dict[str, Any]]] = {}
    timeline: list[dict[str, Any]] = []
    finals: dict[int, dict[str, Any]] = {}
    failures: list[str] = []

    def take(snapshot: dict[str, Any]) -> None:
        if observe is not None:
            observe(snapshot)
        if snapshot.get("status_only"):
            return
        second = int(snapshot["t"] + 0.5) if not snapshot["final"] else -1
        bucket = snapshots.setdefault(second, [])
        bucket.append(snapshot)
        if second >= 0 and len(bucket) == len(plans):
            point = timeline_point(second, snapshots.pop(second))
            timeline.append(point)
            if progress is not None:
                progress(point)

    if len(plans) <= 1:
        for worker_plan in plans:
            finals[worker_plan.worker] = asyncio.run(run_worker(worker_plan, take, stop))
    else:
        finals, failures = _run_processes(plans, take, stop if stop is not None else new_flag())
    for second in sorted(s for s in snapshots if s >= 0):
        timeline.append(timeline_point(second, snapshots.pop(second)))
    totals = LoadMetrics()
    for final in finals.values():
        totals.merge(LoadMetrics.from_dict(final))
    if failures:
        totals.count("errors.worker_failed", len(failures))
    report = {
        "kind": LOAD_REPORT_KIND,
        "version": LOAD_REPORT_VERSION,
        "started_at": started_at,
        "duration_s": time.time() - started_at,
        "shard": {"index": shard.index, "count": shard.count},
        "workers": len(plans),
        "plan": _describe(plan),
        "settings": settings or {},
        "metrics": totals.to_dict(),
        "timeline": sorted(timeline, key=lambda point: point["t"]),
    }
    if failures:
        report["worker_failures"] = failures
    return LoadRunResult(report, totals)


def _run_processes(
    plans: list[WorkerPlan], take: Callable[[dict[str, Any]], None], stop: StopFlag
) -> tuple[dict[int, dict[str, Any]], list[str]]:
    """Run each plan in its own process; their final metrics by worker, and what failed."""
    context = multiprocessing.get_context("spawn")
    out = context.Queue()
    shared = context.RawValue("i", 0)  # the parent's word to every worker: lock-free
    processes = [
        context.Process(target=_worker_process, args=(p, out, shared), daemon=True) for p in plans
    ]
    with _signals_blocked():  # held pending, not lost; the workers inherit the mask
        for process in processes:
            process.start()
    finals: dict[int, dict[str, Any]] = {}
    failed: dict[int, str] = {}
    deadline = time.monotonic() + max(p.shape.duration_s for p in plans) + 120
    stopped = False
    try:
        while len(finals) + len(failed) < len(plans):
            level = stop.value
            if level > shared.value:
                shared.value = level
            if level >= STOP and not stopped:
                stopped = True
                deadline = min(deadline, time.monotonic() + INTERRUPTED_WIND_DOWN_S + 5)
            if level >= ABORT:
                deadline = min(deadline, time.monotonic() + 2)
            if time.monotonic() > deadline:
                for number in range(len(plans)):
                    if number not in finals and number not in failed:
                        failed[number] = f"load worker {number} did not finish in time"
                break
            try:
                kind, *rest = out.get(timeout=0.2)
            except queue.Empty:
                for number, process in enumerate(processes):
                    if process.exitcode not in (None, 0) and number not in finals:
                        failed.setdefault(
                            number, f"load worker {number} died (exit code {process.exitcode})"
                        )
                continue
            if kind == "snapshot":
                take(rest[0])
            elif kind == "done":
                finals[rest[0]] = rest[1]
            else:
                failed[rest[0]] = f"load worker {rest[0]} failed: {rest[1]}"
    finally:
        shared.value = max(shared.value, STOP)  # whatever ended the wait: the workers stop too
        for process in processes:
            process.join(timeout=10 if stop.value < ABORT else 1)
            if process.is_alive():
                process.terminate()
                process.join(timeout=5)
    return finals, [failed[number] for number in sorted(failed)]


@contextlib.contextmanager
def _signals_blocked() -> Iterator[None]:
    old = signal.pthread_sigmask(signal.SIG_BLOCK, _SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def _describe(plan: WorkerPlan) -> dict[str, Any]:
    data = asdict(plan)
    data["shape"] = {"kind": type(plan.shape).__name__, **asdict(plan.shape)}  # type: ignore[call-overload]
    for key in ("first", "last", "worker", "live_metrics"):
        data.pop(key)
    # counts only: the provisioned chargers carry passwords, and both lists can be long
    data["chargers"] = len(plan.chargers)
    data["watch"] = len(plan.watch)
    return data
