"""Load metrics: HDR latency histograms per kind, counters, and exact merging across shards.

Latencies are recorded in microseconds into HDR histograms (3 significant digits, 1 µs .. 10 min).
A report carries each histogram encoded (base64 of the HdrHistogram wire format), so shard
reports merge exactly — histograms are added, never averaged.
"""

from __future__ import annotations

import base64
import itertools
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from hdrh.histogram import HdrHistogram

__all__ = ["LatencyHistogram", "LoadMetrics", "merge_reports"]

_LOWEST_US = 1
_HIGHEST_US = 600_000_000
_DIGITS = 3
_FLUSH_AT = 4096
REPORT_KIND = "ocpplab-sim/load"
REPORT_VERSION = 1


class LatencyHistogram:
    """Latencies in seconds in, percentiles in seconds out; encodes and merges exactly.

    :meth:`record` is on the hot path of every call, so it only appends to a buffer; the buffer
    goes into the HDR histogram's counts before anything reads it, and every ``_FLUSH_AT``
    values, with the same counts, total, min and max as ``record_value`` for each value (a test
    holds the two to the same percentiles and encoding).
    """

    __slots__ = ("_buffer", "_h")

    def __init__(self) -> None:
        self._h = HdrHistogram(_LOWEST_US, _HIGHEST_US, _DIGITS)
        self._buffer: list[int] = []

    def record(self, seconds: float) -> None:
        buffer = self._buffer
        buffer.append(int(seconds * 1_000_000))
        if len(buffer) >= _FLUSH_AT:
            self._flush()

    def _flush(self) -> None:
        """Add the buffered values to the HDR counts: what ``record_value`` does for each value
        (the same bucket index, total, min and max), without its per-call overhead."""
        if not self._buffer:
            return
        values, self._buffer = self._buffer, []
        h = self._h
        unit, half_magnitude = h.unit_magnitude, h.sub_bucket_half_count_magnitude
        half, floor_bits = h.sub_bucket_half_count, half_magnitude + 1 + unit
        counts = h.counts
        low, high = _HIGHEST_US, _LOWEST_US
        for micros in values:
            if micros < _LOWEST_US:
                micros = _LOWEST_US
            elif micros > _HIGHEST_US:
                micros = _HIGHEST_US
            if micros < low:
                low = micros
            if micros > high:
                high = micros
            bits = micros.bit_length()
            bucket = bits - floor_bits if bits > floor_bits else 0
            counts[((bucket + 1) << half_magnitude) + (micros >> (bucket + unit)) - half] += 1
        h.total_count += len(values)
        h.min_value = min(h.min_value, low)
        h.max_value = max(h.max_value, high)

    @property
    def count(self) -> int:
        self._flush()
        return int(self._h.get_total_count())

    def percentile(self, p: float) -> float:
        """The ``p``-th percentile in seconds (0.0 when empty)."""
        return float(self._h.get_value_at_percentile(p)) / 1_000_000 if self.count else 0.0

    @property
    def max(self) -> float:
        self._flush()
        return float(self._h.get_max_value()) / 1_000_000 if self.count else 0.0

    def cumulative_counts(self, bounds_s: Sequence[float]) -> list[int]:
        """How many values are at most each bound (seconds, ascending): a Prometheus
        histogram's ``le`` buckets, from the HDR counts themselves.

        A value counts under a bound when the highest value equivalent to it (what
        :meth:`percentile` reports) is at most the bound, so ``le`` buckets and the report's
        percentiles agree; bounds of whole microseconds below 2.048 ms are exact, above within
        the histogram's 0.1 %.
        """
        self._flush()
        h = self._h
        running = list(itertools.accumulate(h.counts))  # counts at most each bin, in C
        result: list[int] = []
        for bound in bounds_s:
            if bound * 1_000_000 >= _HIGHEST_US:  # +Inf too: every value (clamped at record)
                result.append(int(h.get_total_count()))
                continue
            micros = round(bound * 1_000_000)
            if micros < _LOWEST_US:
                result.append(0)
                continue
            index = h._counts_index_for(micros)
            if h.get_highest_equivalent_value(micros) > micros:
                index -= 1  # the bound's own bin holds values above it
            result.append(int(running[index]) if index >= 0 else 0)
        return result

    def total_seconds(self) -> float:
        """The sum of the values (each at the middle of its HDR bin): a histogram's ``_sum``."""
        self._flush()
        h = self._h
        counts = list(h.counts)
        half_magnitude, half, unit = (
            h.sub_bucket_half_count_magnitude,
            h.sub_bucket_half_count,
            h.unit_magnitude,
        )
        total = 0
        for index in (i for i, count in enumerate(counts) if count):
            # HdrHistogram's value at an index, and the middle of that bin
            bucket = (index >> half_magnitude) - 1
            sub = (index & (half - 1)) + half
            if bucket < 0:
                sub -= half
                bucket = 0
            shift = bucket + unit
            total += counts[index] * ((sub << shift) + ((1 << shift) >> 1))
        return total / 1_000_000

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
        self._flush()
        return base64.b64encode(self._h.encode()).decode("ascii") if self.count else ""

    def add_encoded(self, text: str) -> None:
        """Add a histogram produced by :meth:`encode` (exact)."""
        self._flush()
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
