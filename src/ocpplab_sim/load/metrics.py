"""Load metrics: HDR latency histograms per kind, counters, and exact merging across shards.

Latencies are recorded in microseconds into HDR histograms (3 significant digits, 1 µs .. 10 min).
A report carries each histogram encoded (base64 of the HdrHistogram wire format), so shard
reports merge exactly — histograms are added, never averaged.
"""

from __future__ import annotations

import base64
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

from hdrh.histogram import HdrHistogram

__all__ = ["LatencyHistogram", "LoadMetrics", "merge_reports"]

_LOWEST_US = 1
_HIGHEST_US = 600_000_000
_DIGITS = 3
REPORT_KIND = "ocpplab-sim/load"
REPORT_VERSION = 1


class LatencyHistogram:
    """Latencies in seconds in, percentiles in seconds out; encodes and merges exactly."""

    def __init__(self) -> None:
        self._h = HdrHistogram(_LOWEST_US, _HIGHEST_US, _DIGITS)

    def record(self, seconds: float) -> None:
        micros = min(max(int(seconds * 1_000_000), _LOWEST_US), _HIGHEST_US)
        self._h.record_value(micros)

    @property
    def count(self) -> int:
        return int(self._h.get_total_count())

    def percentile(self, p: float) -> float:
        """The ``p``-th percentile in seconds (0.0 when empty)."""
        return float(self._h.get_value_at_percentile(p)) / 1_000_000 if self.count else 0.0

    @property
    def max(self) -> float:
        return float(self._h.get_max_value()) / 1_000_000 if self.count else 0.0

    def summary(self) -> dict[str, float | int]:
        return {
            "count": self.count,
            "p50": self.percentile(50),
            "p95": self.percentile(95),
            "p99": self.percentile(99),
            "p999": self.percentile(99.9),
            "max": self.max,
        }

    def encode(self) -> str:
        return base64.b64encode(self._h.encode()).decode("ascii") if self.count else ""

    def add_encoded(self, text: str) -> None:
        """Add a histogram produced by :meth:`encode` (exact)."""
        if text:
            self._h.decode_and_add(base64.b64decode(text))


class LoadMetrics:
    """What one load process measured: histograms by name, counters by name."""

    def __init__(self) -> None:
        self.histograms: dict[str, LatencyHistogram] = {}
        self.counters: Counter[str] = Counter()

    def record(self, name: str, seconds: float) -> None:
        histogram = self.histograms.get(name)
        if histogram is None:
            histogram = self.histograms[name] = LatencyHistogram()
        histogram.record(seconds)

    def count(self, name: str, n: int = 1) -> None:
        self.counters[name] += n

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": REPORT_KIND,
            "version": REPORT_VERSION,
            "counters": dict(sorted(self.counters.items())),
            "latency_s": {k: h.summary() for k, h in sorted(self.histograms.items())},
            "histograms": {k: h.encode() for k, h in sorted(self.histograms.items())},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LoadMetrics:
        """Rebuild from :meth:`to_dict` output; ``ValueError`` for anything else."""
        if data.get("kind") != REPORT_KIND or data.get("version") != REPORT_VERSION:
            raise ValueError("not an ocpplab-sim load report (kind/version)")
        metrics = cls()
        for name, value in dict(data.get("counters", {})).items():
            metrics.counters[str(name)] += int(value)
        for name, encoded in dict(data.get("histograms", {})).items():
            histogram = metrics.histograms.setdefault(str(name), LatencyHistogram())
            histogram.add_encoded(str(encoded))
        return metrics

    def merge(self, other: LoadMetrics) -> None:
        self.counters.update(other.counters)
        for name, histogram in other.histograms.items():
            self.histograms.setdefault(name, LatencyHistogram()).add_encoded(histogram.encode())


def merge_reports(reports: Iterable[Mapping[str, Any]]) -> LoadMetrics:
    """Merge shard reports exactly: counters summed, histograms added."""
    total = LoadMetrics()
    for report in reports:
        total.merge(LoadMetrics.from_dict(report))
    return total
