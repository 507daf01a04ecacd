"""The verdict of a load report and its summary lines: what passed, and if not, why.

A run passes when chargers connected, every call they sent was answered (a call the end of the
run cut off — sent in its last seconds and still in flight at the stop — is counted apart, not
against the central system) and nothing failed. A run stopped by a signal or a closed standard
output is ``interrupted``: what it measured is summarised, but it never passes. The same rules
read a merged report, where counters are sums over shards (``interrupted`` counts shards).
Thresholds (``load --threshold``, evaluated into the report's ``thresholds``) that failed fail
the run too.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["NOT_CALLS", "Verdict", "calls", "summary_lines", "verdict"]

#: latency histograms that are not OCPP calls of the chargers
NOT_CALLS = frozenset({"connect+boot", "ocpi_propagation"})
_SHOWN = ("connect+boot", "Heartbeat", "BootNotification", "StatusNotification", "ocpi_propagation")
_RECONNECTS = "connections dropped by the central system (reconnects)"


@dataclass(frozen=True)
class Calls:
    """The chargers' CALLs: ``answered`` (CALLRESULT or CALLERROR), ``refused`` (CALLERROR),
    ``unanswered`` (timed out, lost with a connection, or older than the cut-off at the stop),
    ``in_flight_at_stop`` (cut off by the end of the run)."""

    answered: int
    refused: int
    unanswered: int
    in_flight_at_stop: int

    @property
    def sent(self) -> int:
        return self.answered + self.unanswered + self.in_flight_at_stop


@dataclass(frozen=True)
class Verdict:
    passed: bool
    interrupted: str | None
    reasons: tuple[str, ...]
    errors: dict[str, int]


def calls(metrics: Mapping[str, Any]) -> Calls:
    counters: Mapping[str, int] = metrics.get("counters", {})
    latency: Mapping[str, Any] = metrics.get("latency_s", {})
    return Calls(
        answered=sum(int(v["count"]) for k, v in latency.items() if k not in NOT_CALLS),
        refused=sum(v for k, v in counters.items() if k.startswith("errors.callerror.")),
        unanswered=int(counters.get("unanswered", 0)),
        in_flight_at_stop=int(counters.get("in_flight_at_stop", 0)),
    )


def verdict(report: Mapping[str, Any]) -> Verdict:
    """Pass or fail, and every reason it failed (first the one that matters most)."""
    metrics = report["metrics"]
    counters: Mapping[str, int] = metrics.get("counters", {})
    errors = {k: int(v) for k, v in counters.items() if k.startswith("errors.") and v}
    if counters.get("reconnects"):
        errors[_RECONNECTS] = int(counters["reconnects"])
    made = calls(metrics)
    reasons: list[str] = []
    stopped = report.get("interrupted")
    interrupted = None
    if isinstance(stopped, Mapping):
        interrupted = f"interrupted by {stopped.get('reason', '?')}"
        planned = report.get("plan", {}).get("shape", {}).get("duration_s")
        after = stopped.get("after_s")
        if isinstance(after, int | float):
            interrupted += f" after {after:.1f} s"
            if isinstance(planned, int | float):
                interrupted += f" of {planned:g} s"
    elif counters.get("interrupted"):
        interrupted = f"{counters['interrupted']} shard(s) interrupted"
    if interrupted is not None:
        reasons.append(interrupted)
    connected = int(counters.get("connected", 0))
    if connected == 0:
        failed = sum(v for k, v in counters.items() if k.startswith("errors.connect."))
        still = int(counters.get("connecting_at_stop", 0))
        detail = [f"{failed} connection attempt(s) failed"] if failed else []
        if still:
            detail.append(f"{still} still connecting at the stop")
        reasons.append("nothing connected" + (f" ({', '.join(detail)})" if detail else ""))
    if made.unanswered:
        cut = made.in_flight_at_stop
        reasons.append(
            f"{made.unanswered} of {made.sent} call(s) never answered"
            + (f" (not counting {cut} cut off by the stop)" if cut else "")
        )
    elif made.sent and made.answered == 0:
        reasons.append(f"none of {made.sent} call(s) answered")
    if errors:
        reasons.append(f"{len(errors)} error kind(s)")
    broken = [t["threshold"] for t in report.get("thresholds", ()) if not t.get("passed")]
    if broken:
        reasons.append(f"threshold(s) failed: {', '.join(broken)}")
    return Verdict(not reasons, interrupted, tuple(reasons), errors)


def summary_lines(report: Mapping[str, Any]) -> list[str]:
    """The summary of a load report, last line the verdict (``✓ PASSED`` or ``✗ …``)."""
    metrics = report["metrics"]
    counters: Mapping[str, int] = metrics.get("counters", {})
    made = calls(metrics)
    result = verdict(report)
    lines = [
        f"  chargers connected: {counters.get('connected', 0)}"
        + (
            f", still connecting at the stop: {counters['connecting_at_stop']}"
            if counters.get("connecting_at_stop")
            else ""
        ),
        f"  calls sent: {made.sent}, answered: {made.answered}"
        + (f" ({made.refused} with CALLERROR)" if made.refused else "")
        + f", unanswered: {made.unanswered}, in flight at the stop: {made.in_flight_at_stop}",
    ]
    latency = metrics.get("latency_s", {})
    for name in _SHOWN:
        if name in latency:
            lat = latency[name]
            lines.append(
                f"  {name:<20} n={lat['count']:<7} p50 {lat['p50'] * 1000:.1f} ms  "
                f"p99 {lat['p99'] * 1000:.1f} ms  max {lat['max'] * 1000:.1f} ms"
            )
    for name, value in sorted(result.errors.items()):
        lines.append(f"  {name}: {value}")
    for note in report.get("worker_failures", []):
        lines.append(f"  {note}")
    for threshold in report.get("thresholds", []):
        mark = "✓" if threshold.get("passed") else "✗"
        lines.append(f"  {mark} {threshold['threshold']}  ({threshold.get('shown', '')})")
    if result.passed:
        lines.append(
            f"✓ PASSED: {made.answered} call(s) answered, {counters.get('connected', 0)} "
            "charger(s) connected, no errors"
        )
    elif result.interrupted is not None:
        rest = [reason for reason in result.reasons if reason != result.interrupted]
        measured = "; ".join(rest) if rest else "no errors"
        lines.append(f"✗ INTERRUPTED: {result.interrupted}; until then: {measured}")
    else:
        lines.append(f"✗ ERRORS: {'; '.join(result.reasons)}")
    return lines
