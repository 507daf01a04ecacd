"""Merge load reports of several shards into one, exactly.

Counters are summed and HDR histograms added — totals and every percentile equal those of one run
of the whole fleet. The timeline is merged second by second the same way.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ocpplab_sim.load.metrics import LatencyHistogram, merge_reports

__all__ = ["merge_load_reports"]

_KIND = "ocpplab-sim/load-run"


def merge_load_reports(reports: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """One report from shard reports; ``ValueError`` for a foreign or repeated shard."""
    reports = list(reports)
    if not reports:
        raise ValueError("nothing to merge")
    seen: set[tuple[int, int]] = set()
    for report in reports:
        if report.get("kind") != _KIND:
            raise ValueError("not an ocpplab-sim load report (kind)")
        shard = (int(report["shard"]["index"]), int(report["shard"]["count"]))
        if shard in seen:
            raise ValueError(f"shard {shard[0]}/{shard[1]} appears twice")
        seen.add(shard)
    metrics = merge_reports(report["metrics"] for report in reports)
    by_second: dict[int, list[Mapping[str, Any]]] = {}
    for report in reports:
        for point in report["timeline"]:
            by_second.setdefault(int(point["t"]), []).append(point)
    timeline = []
    for second in sorted(by_second):
        points = by_second[second]
        latency = LatencyHistogram()
        for point in points:
            latency.add_encoded(point.get("latency", ""))
        timeline.append(
            {
                "t": second,
                "connected": sum(p["connected"] for p in points),
                "charging": sum(p["charging"] for p in points),
                "messages": sum(p["messages"] for p in points),
                "p50_s": latency.percentile(50),
                "p99_s": latency.percentile(99),
                "latency": latency.encode(),
            }
        )
    first = reports[0]
    return {
        "kind": _KIND,
        "version": first["version"],
        "started_at": min(r["started_at"] for r in reports),
        "duration_s": max(r["duration_s"] for r in reports),
        "shard": {"index": 0, "count": 1, "merged_from": sorted(f"{i}/{n}" for i, n in seen)},
        "workers": sum(int(r["workers"]) for r in reports),
        "plan": first["plan"],
        "settings": first.get("settings", {}),
        "metrics": metrics.to_dict(),
        "timeline": timeline,
    }
