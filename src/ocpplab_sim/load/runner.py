"""A load run: the shard's chargers split over worker processes (one per core), one report.

Workers publish a snapshot per second through a queue; the parent prints live progress, keeps a
timeline (connected chargers, messages/s, p50/p99 per second, merged exactly from the workers'
interval histograms) and, at the end, merges the workers' metrics into one report. With one worker
everything runs in the calling process (no subprocess), which is what tests use.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import queue
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from typing import Any

from ocpplab_sim.load.metrics import LatencyHistogram, LoadMetrics
from ocpplab_sim.load.shard import Shard
from ocpplab_sim.load.sink import run_fast
from ocpplab_sim.load.worker import WorkerPlan, run_worker

__all__ = ["LOAD_REPORT_KIND", "LoadRunResult", "run_load", "timeline_point"]

LOAD_REPORT_KIND = "ocpplab-sim/load-run"
LOAD_REPORT_VERSION = 1


@dataclass
class LoadRunResult:
    """The merged outcome: ``report`` is the JSON-ready report, ``metrics`` its totals."""

    report: dict[str, Any]
    metrics: LoadMetrics


def _worker_process(plan: WorkerPlan, out: Any) -> None:
    try:
        metrics = run_fast(run_worker(plan, lambda snap: out.put(("snapshot", snap))))
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
) -> LoadRunResult:
    """Run the shard's part of the fleet and return the merged report.

    ``workers="auto"`` uses one process per core. ``observe`` sees every worker snapshot as it
    arrives, and the ``status_only`` ones a worker sends within a tick of a watched charger's
    StatusNotification (what an OCPI probe waits for). Raises RuntimeError if a worker dies.
    """
    shard = shard or Shard()
    count = (os.cpu_count() or 1) if workers == "auto" else int(workers)
    plans = _split(plan, shard, max(1, count))
    started_at = time.time()
    snapshots: dict[int, list[dict[str, Any]]] = {}
    timeline: list[dict[str, Any]] = []
    finals: dict[int, dict[str, Any]] = {}

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
            finals[worker_plan.worker] = asyncio.run(run_worker(worker_plan, take))
    else:
        finals = _run_processes(plans, take)
    for second in sorted(s for s in snapshots if s >= 0):
        timeline.append(timeline_point(second, snapshots.pop(second)))
    totals = LoadMetrics()
    for final in finals.values():
        totals.merge(LoadMetrics.from_dict(final))
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
    return LoadRunResult(report, totals)


def _run_processes(
    plans: list[WorkerPlan], take: Callable[[dict[str, Any]], None]
) -> dict[int, dict[str, Any]]:
    context = multiprocessing.get_context("spawn")
    out = context.Queue()
    processes = [context.Process(target=_worker_process, args=(p, out), daemon=True) for p in plans]
    for process in processes:
        process.start()
    finals: dict[int, dict[str, Any]] = {}
    deadline = time.monotonic() + max(p.shape.duration_s for p in plans) + 120
    try:
        while len(finals) < len(plans):
            try:
                kind, *rest = out.get(timeout=1.0)
            except queue.Empty:
                _check_alive(processes, deadline)
                continue
            if kind == "snapshot":
                take(rest[0])
            elif kind == "done":
                finals[rest[0]] = rest[1]
            else:
                raise RuntimeError(f"load worker {rest[0]} failed: {rest[1]}")
    finally:
        for process in processes:
            process.join(timeout=10)
            if process.is_alive():
                process.terminate()
    return finals


def _check_alive(processes: list[Any], deadline: float) -> None:
    if time.monotonic() > deadline:
        raise RuntimeError("load workers did not finish in time")
    dead = [p for p in processes if p.exitcode not in (None, 0)]
    if dead:
        raise RuntimeError(f"a load worker died (exit code {dead[0].exitcode})")


def _describe(plan: WorkerPlan) -> dict[str, Any]:
    data = asdict(plan)
    data["shape"] = {"kind": type(plan.shape).__name__, **asdict(plan.shape)}  # type: ignore[call-overload]
    for key in ("first", "last", "worker"):
        data.pop(key)
    # counts only: the provisioned chargers carry passwords, and both lists can be long
    data["chargers"] = len(plan.chargers)
    data["watch"] = len(plan.watch)
    return data
