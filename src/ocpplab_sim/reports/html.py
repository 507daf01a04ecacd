"""``--html PATH``: one self-contained HTML page (inline CSS, SVG and a few lines of script; no
external asset, so it opens offline and can be archived as a CI artifact).

It shows the verdict, the checks (with their explanations), a timeline per EVSE of its OCPP
status (from the chargers' StatusNotifications) above its OCPI status (from the polls), and a
histogram of the OCPP → OCPI latencies.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from ocpplab_sim.reports.collector import RunRecord
from ocpplab_sim.reports.json_report import latency_summary
from ocpplab_sim.scenario.execution.events import Outcome

__all__ = ["to_html"]

_WIDTH = 900  # px of the time axis
_LANE = 16
_COLOURS = {
    # OCPI EvseStatus
    "AVAILABLE": "#2e9e4f",
    "CHARGING": "#2a6fdb",
    "RESERVED": "#8e44ad",
    "BLOCKED": "#8d6e63",
    "INOPERATIVE": "#f39c12",
    "OUTOFORDER": "#d62c1a",
    "UNKNOWN": "#9e9e9e",
    "PLANNED": "#bdbdbd",
    "REMOVED": "#616161",
    # OCPP connector statuses (1.6 and 2.0.1)
    "Available": "#2e9e4f",
    "Preparing": "#7fb3f0",
    "Charging": "#2a6fdb",
    "SuspendedEV": "#5d8fd6",
    "SuspendedEVSE": "#5d8fd6",
    "Finishing": "#7fb3f0",
    "Occupied": "#2a6fdb",
    "Reserved": "#8e44ad",
    "Unavailable": "#f39c12",
    "Faulted": "#d62c1a",
}
_OTHER = "#555"  # a status without a colour of its own
_CSS = """
body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222}
h1{font-size:20px;margin:0 0 4px} h2{font-size:16px;margin:24px 0 8px}
.passed{color:#2e7d32}.failed,.error{color:#c62828}.skipped{color:#9e6a00}
table{border-collapse:collapse}td,th{padding:3px 8px;border-bottom:1px solid #eee;text-align:left;
vertical-align:top}pre{margin:4px 0;font-size:12px;white-space:pre-wrap}
.evse text{font-size:11px}.legend span{display:inline-block;margin-right:10px}
.legend i{display:inline-block;width:10px;height:10px;margin-right:4px}
"""
# Counts what the browser actually drew, so a test (or a person) can tell it rendered.
_SCRIPT = """
const lanes = document.querySelectorAll('svg.evse');
const segments = document.querySelectorAll('svg.evse rect.segment');
const note = document.getElementById('render-check');
note.textContent = 'timeline rendered: ' + lanes.length + ' EVSE(s), ' + segments.length +
  ' status segment(s)';
document.body.dataset.rendered = String(segments.length);
"""


def to_html(record: RunRecord) -> str:
    """The report as a complete HTML document."""
    started = record.started
    finished = record.finished
    title = started.scenario if started else "ocpplab-sim run"
    verdict = "PASSED" if finished and finished.exit_code == 0 else "FAILED"
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{escape(title)} — ocpplab-sim</title><style>{_CSS}</style></head><body>",
        f"<h1>{escape(title)}</h1>",
        _header(record, verdict),
        "<h2>Checks</h2>",
        _checks(record),
        "<h2>Timeline per EVSE</h2>",
        '<p id="render-check">timeline not rendered (scripts disabled)</p>',
        _legend(),
        _timelines(record),
        "<h2>OCPP → OCPI latency</h2>",
        _histogram(record.latencies_s),
        f"<script>{_SCRIPT}</script>",
        "</body></html>",
    ]
    return "\n".join(parts) + "\n"


def _header(record: RunRecord, verdict: str) -> str:
    started, finished = record.started, record.finished
    css = "passed" if verdict == "PASSED" else "failed"
    bits = [f'<b class="{css}">{verdict}</b>']
    if finished:
        bits.append(escape(finished.message))
        bits.append(f"exit {finished.exit_code}, {finished.duration_s:.1f}s")
    if started:
        bits.append(f"{escape(started.source)}, seed {started.seed}")
    return "<p>" + " · ".join(bits) + "</p>"


def _checks(record: RunRecord) -> str:
    if not record.checks:
        return "<p>no checks</p>"
    rows = ["<table><tr><th></th><th>check</th><th>took</th><th>result</th></tr>"]
    for check in record.checks:
        css = check.outcome.value
        mark = "✓" if check.outcome is Outcome.PASSED else "✗"
        detail = escape(check.message)
        if check.explanation:
            why = escape(check.explanation)
            detail += f"<details open><summary>why</summary><pre>{why}</pre></details>"
        rows.append(
            f'<tr class="check {css}"><td class="{css}">{mark}</td><td>{escape(check.name)}</td>'
            f"<td>{check.duration_s:.2f}s</td><td>{detail}</td></tr>"
        )
    rows.append("</table>")
    return "\n".join(rows)


def _legend() -> str:
    """Every colour the timeline draws, once, with the statuses (OCPP and OCPI) it stands for."""
    by_colour: dict[str, list[str]] = {}
    for status, colour in _COLOURS.items():
        by_colour.setdefault(colour, []).append(status)
    by_colour.setdefault(_OTHER, []).append("other")
    items = "".join(
        f'<span class="entry" data-colour="{colour}"><i style="background:{colour}"></i>'
        f"{escape(' / '.join(statuses))}</span>"
        for colour, statuses in by_colour.items()
    )
    return f'<p class="legend">{items} (upper lane OCPP, lower lane OCPI)</p>'


def _tick_step(span_s: float) -> float:
    """A round tick interval giving at most about 10 ticks over ``span_s`` seconds."""
    for step in (0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600):
        if span_s / step <= 10:
            return float(step)
    return 3600.0 * max(1, round(span_s / 36000))


def _ticks(span_s: float, scale: float, height: int) -> str:
    """The time axis under the lanes: a tick and its label every round interval."""
    step = _tick_step(span_s)
    parts = []
    count = int(span_s / step + 1e-9)
    for i in range(count + 1):
        t = i * step
        x = 40 + t * scale
        label = f"{t:g}s" if t < 60 or t % 60 else f"{t / 60:g}m"
        parts.append(
            f'<line class="tick" x1="{x:.1f}" y1="{height - 14}" x2="{x:.1f}" y2="{height - 10}" '
            f'stroke="#999"/><text class="tick" data-t="{t:g}" x="{x:.1f}" y="{height}" '
            f'text-anchor="middle">{label}</text>'
        )
    return "".join(parts)


def _timelines(record: RunRecord) -> str:
    uids = record.evse_uids
    if not uids:
        return "<p>no status observed</p>"
    times = [e.at for e in record.ocpp_statuses] + [e.at for e in record.ocpi_statuses]
    start = record.started.at if record.started else min(times)
    end = record.finished.at if record.finished else max(times)
    end = max(end, max(times), start + 0.001)
    scale = _WIDTH / (end - start)
    out = []
    for uid in uids:
        lanes = []
        lanes_data = (
            ("OCPP", [(e.at, e.status) for e in record.ocpp_statuses if e.evse_uid == uid]),
            ("OCPI", [(e.at, e.status) for e in record.ocpi_statuses if e.evse_uid == uid]),
        )
        for row, (source, changes) in enumerate(lanes_data):
            y = 4 + row * (_LANE + 4)
            lanes.append(f'<text x="0" y="{y + 12}">{source}</text>')
            for i, (at, status) in enumerate(changes):
                until = changes[i + 1][0] if i + 1 < len(changes) else end
                x = 40 + (at - start) * scale
                width = max((until - at) * scale, 1.0)
                colour = _COLOURS.get(status, _OTHER)
                lanes.append(
                    f'<rect class="segment" data-source="{source.lower()}" '
                    f'data-status="{escape(status)}" x="{x:.1f}" y="{y}" width="{width:.1f}" '
                    f'height="{_LANE}" fill="{colour}"><title>{source} {escape(status)} from '
                    f"+{at - start:.2f}s to +{until - start:.2f}s</title></rect>"
                )
        height = 2 * (_LANE + 4) + 8 + 18
        lanes.append(_ticks(end - start, scale, height - 2))
        out.append(
            f'<div><b>{escape(uid)}</b><br><svg class="evse" data-evse="{escape(uid)}" '
            f'width="{_WIDTH + 60}" height="{height}" role="img">{"".join(lanes)}</svg></div>'
        )
    out.append(f"<p>time axis: 0 … {end - start:.1f}s after the run started</p>")
    return "\n".join(out)


def _histogram(values: Sequence[float]) -> str:
    summary = latency_summary(list(values))
    if not values:
        return "<p>no latency samples</p>"
    ms = [v * 1000 for v in values]
    bins = 12
    top = max(ms) or 1.0
    width = top / bins
    counts = [0] * bins
    for value in ms:
        counts[min(int(value / width), bins - 1)] += 1
    tallest = max(counts)
    bar_w, height, top_margin = 50, 120, 14
    bars = []
    for i, count in enumerate(counts):
        h = height * count / tallest
        x = i * (bar_w + 4)
        y = top_margin + height - h
        bars.append(
            f'<rect class="bar" data-count="{count}" x="{x}" y="{y:.1f}" width="{bar_w}" '
            f'height="{h:.1f}" fill="#2a6fdb"><title>{i * width:.0f}–{(i + 1) * width:.0f} ms: '
            f"{count}</title></rect>"
            + (
                f'<text class="count" x="{x + bar_w / 2}" y="{y - 3:.1f}" font-size="10" '
                f'text-anchor="middle">{count}</text>'
                if count
                else ""
            )
            + f'<text x="{x}" y="{top_margin + height + 14}" font-size="10">{i * width:.0f}</text>'
        )
    figures = ", ".join(
        f"{key} {float(summary[key] or 0) * 1000:.0f} ms" for key in ("p50", "p95", "p99", "max")
    )
    svg = (
        f'<svg class="histogram" width="{bins * (bar_w + 4)}" height="{top_margin + height + 20}" '
        'role="img">' + "".join(bars) + "</svg>"
    )
    return f"<p>{summary['count']} sample(s): {figures} (bins in ms)</p>{svg}"
