"""Pass/fail thresholds of a load run, as k6 writes them: ``p99<500ms``, ``errors==0``,
``Heartbeat:p95<=200ms``, ``calls_per_s>=100``.

Grammar: ``[ACTION:]METRIC OP VALUE`` with ``OP`` one of ``< <= > >= == !=``.

- latency: ``p50``, ``p90``, ``p95``, ``p99``, ``p999`` (99.9), ``pN`` / ``p(N)`` for any
  percentile N in (0, 100], ``max``; the value is a duration (``ocpplab_sim.units``:
  ``500ms``, ``2s``, plain seconds). Without ``ACTION`` over every call of the chargers, with it
  over that histogram (an OCPP action, ``connect+boot``, ``ocpi_propagation``).
- counts: ``errors`` (every error counted, dropped connections included), ``unanswered``,
  ``connected``, ``calls`` (answered); rate: ``calls_per_s`` (answered calls per second of the
  run). ``calls`` and ``calls_per_s`` take an ``ACTION`` too.

:func:`parse_threshold` refuses anything else with a ``ValueError`` naming the threshold;
:func:`evaluate` checks parsed thresholds against a report's final metrics. A latency threshold
on a histogram with no measurement fails (nothing shows it held).
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ocpplab_sim.load.metrics import LatencyHistogram, LoadMetrics
from ocpplab_sim.load.verdict import NOT_CALLS, calls, verdict
from ocpplab_sim.units import parse_duration

__all__ = ["Threshold", "evaluate", "parse_threshold"]

_OPERATORS: dict[str, Callable[[float, float], bool]] = {
    "<=": operator.le,
    ">=": operator.ge,
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    ">": operator.gt,
}
_SHAPE = re.compile(
    r"^\s*(?:(?P<action>[A-Za-z][\w+.\-]*)\s*:\s*)?(?P<metric>[A-Za-z_][\w().]*)\s*"
    r"(?P<op><=|>=|==|!=|<|>)\s*(?P<value>\S.*?)\s*$"
)
_PERCENTILE = re.compile(r"^p\(?(\d+(?:\.\d+)?)\)?$")
_COUNTS = ("errors", "unanswered", "connected", "calls")
_RATES = ("calls_per_s",)
_PER_ACTION = ("calls", "calls_per_s")
GRAMMAR = (
    "[ACTION:]METRIC OP VALUE, e.g. p99<500ms, errors==0, Heartbeat:p95<=200ms, "
    "calls_per_s>=100; METRIC: p50 p90 p95 p99 p999 pN max (durations) or "
    f"{' '.join(_COUNTS + _RATES)}; OP: {' '.join(sorted(_OPERATORS, key=len))}"
)


@dataclass(frozen=True)
class Threshold:
    text: str
    action: str | None
    metric: str
    op: str
    value: float  # seconds for a latency
    percentile: float | None  # None: max, or not a latency

    @property
    def latency(self) -> bool:
        return self.metric not in _COUNTS + _RATES


def parse_threshold(text: str) -> Threshold:
    """One threshold; ``ValueError`` naming it and saying what is wrong."""
    match = _SHAPE.match(text)
    if match is None:
        raise ValueError(f"threshold {text!r}: not {GRAMMAR}")
    action, metric, op, raw = match["action"], match["metric"], match["op"], match["value"]
    percentile: float | None = None
    if metric in _COUNTS + _RATES:
        if action is not None and metric not in _PER_ACTION:
            raise ValueError(
                f"threshold {text!r}: {metric} is over the whole run; only "
                f"{', '.join(_PER_ACTION)} and latencies take an ACTION: prefix"
            )
        try:
            value = float(raw)
        except ValueError:
            raise ValueError(f"threshold {text!r}: {raw!r} is not a number") from None
        if value != value or value in (float("inf"), float("-inf")):
            raise ValueError(f"threshold {text!r}: {raw!r} is not a finite number")
        return Threshold(text.strip(), action, metric, op, value, None)
    if metric != "max":
        found = _PERCENTILE.match(metric)
        if found is None:
            raise ValueError(f"threshold {text!r}: unknown metric {metric!r}; {GRAMMAR}")
        percentile = 99.9 if found[1] == "999" else float(found[1])
        if not 0 < percentile <= 100:
            raise ValueError(f"threshold {text!r}: percentile {percentile:g} not in (0, 100]")
    try:
        seconds = parse_duration(raw)
    except ValueError as exc:
        raise ValueError(f"threshold {text!r}: {exc}") from None
    return Threshold(text.strip(), action, metric, op, seconds, percentile)


def _histogram(metrics: LoadMetrics, action: str | None) -> LatencyHistogram:
    if action is not None:
        return metrics.histograms.get(action) or LatencyHistogram()
    every = LatencyHistogram()
    for name, histogram in metrics.histograms.items():
        if name not in NOT_CALLS:
            every.add_encoded(histogram.encode())
    return every


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def evaluate(thresholds: Sequence[Threshold], report: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Each threshold against the report's final metrics: ``{"threshold", "passed", "value",
    "shown"}`` (``value`` in seconds for a latency, None when nothing was measured)."""
    metrics = LoadMetrics.from_dict(report["metrics"])
    counters: Mapping[str, int] = report["metrics"].get("counters", {})
    duration = float(report.get("duration_s") or 0.0)
    results: list[dict[str, Any]] = []
    for threshold in thresholds:
        value: float | None
        if threshold.latency:
            histogram = _histogram(metrics, threshold.action)
            if histogram.count == 0:
                value, shown = None, "nothing measured"
            else:
                value = (
                    histogram.max
                    if threshold.percentile is None
                    else histogram.percentile(threshold.percentile)
                )
                shown = f"{threshold.metric} {_ms(value)}"
        else:
            if threshold.metric == "errors":
                value = float(sum(verdict(report).errors.values()))
            elif threshold.metric in ("unanswered", "connected"):
                value = float(counters.get(threshold.metric, 0))
            else:
                answered = (
                    metrics.histograms[threshold.action].count
                    if threshold.action in metrics.histograms
                    else 0
                    if threshold.action is not None
                    else calls(report["metrics"]).answered
                )
                value = float(answered)
                if threshold.metric == "calls_per_s":
                    value = answered / duration if duration > 0 else 0.0
            shown = f"{threshold.metric} {value:g}"
        passed = value is not None and _OPERATORS[threshold.op](value, threshold.value)
        results.append(
            {"threshold": threshold.text, "passed": passed, "value": value, "shown": shown}
        )
    return results
