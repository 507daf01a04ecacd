"""A load report as one self-contained HTML page: the run over time at a glance.

Inline SVG line charts (connected chargers, messages per second, p50/p99 call latency) and the
latency table per OCPP action; no script, no external asset, opens offline.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

__all__ = ["to_html"]

_W, _H, _PAD = 640, 180, 36


def _chart(title: str, xs: Sequence[float], series: dict[str, Sequence[float]], unit: str) -> str:
    colours = ("#1f77b4", "#d62728", "#2ca02c")
    top = max((max(values, default=0.0) for values in series.values()), default=0.0) or 1.0
    right = max(xs, default=0.0) or 1.0

    def x(value: float) -> float:
        return _PAD + (value / right) * (_W - 2 * _PAD)

    def y(value: float) -> float:
        return _H - _PAD + 10 - (value / top) * (_H - 2 * _PAD)

    parts = [
        f"<figure><figcaption>{html.escape(title)}</figcaption>"
        f'<svg viewBox="0 0 {_W} {_H}" width="{_W}" height="{_H}" role="img" '
        f'aria-label="{html.escape(title)}">',
        f'<line x1="{_PAD}" y1="{y(0):.1f}" x2="{_W - _PAD}" y2="{y(0):.1f}" stroke="#999"/>',
        f'<text x="4" y="{y(top):.1f}" font-size="10">{top:.4g} {html.escape(unit)}</text>',
        f'<text x="{_W - _PAD}" y="{_H - 4}" font-size="10" text-anchor="end">{right:g} s</text>',
    ]
    for (name, values), colour in zip(series.items(), colours, strict=False):
        points = " ".join(f"{x(t):.1f},{y(v):.1f}" for t, v in zip(xs, values, strict=True))
        parts.append(
            f'<polyline class="series" data-name="{html.escape(name)}" fill="none" '
            f'stroke="{colour}" stroke-width="1.5" points="{points}"/>'
        )
    legend = " ".join(
        f'<span style="color:{c}">■ {html.escape(n)}</span>'
        for n, c in zip(series, colours, strict=False)
    )
    parts.append(f"</svg><div class=legend>{legend}</div></figure>")
    return "".join(parts)


def to_html(report: dict[str, Any]) -> str:
    """The report as an HTML document (text)."""
    timeline = report.get("timeline", [])
    xs = [float(p["t"]) for p in timeline]
    metrics = report["metrics"]
    rows = "".join(
        f"<tr><td>{html.escape(name)}</td><td>{lat['count']}</td>"
        f"<td>{lat['p50'] * 1000:.1f}</td><td>{lat['p95'] * 1000:.1f}</td>"
        f"<td>{lat['p99'] * 1000:.1f}</td><td>{lat['max'] * 1000:.1f}</td></tr>"
        for name, lat in metrics["latency_s"].items()
    )
    counters = "".join(
        f"<tr><td>{html.escape(k)}</td><td>{v}</td></tr>" for k, v in metrics["counters"].items()
    )
    plan = report.get("plan", {})
    shard = report.get("shard", {})
    title = f"ocpplab-sim load: {plan.get('shape', {}).get('chargers', '?')} chargers"
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>
body{{font:14px system-ui,sans-serif;margin:2em;color:#222}} table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:2px 8px;text-align:right}} td:first-child{{text-align:left}}
figure{{margin:1em 0}} figcaption{{font-weight:600}} .legend span{{margin-right:1em}}
</style></head><body>
<h1>{html.escape(title)}</h1>
<p>Shard {shard.get("index", 0)}/{shard.get("count", 1)} · {report.get("workers", 1)} worker(s) ·
{report.get("duration_s", 0):.1f} s · OCPP {html.escape(str(plan.get("ocpp_version", "?")))}</p>
{
        _chart(
            "Connected chargers",
            xs,
            {
                "connected": [p["connected"] for p in timeline],
                "charging": [p["charging"] for p in timeline],
            },
            "",
        )
    }
{_chart("Messages per second", xs, {"messages/s": [p["messages"] for p in timeline]}, "msg/s")}
{
        _chart(
            "Call latency",
            xs,
            {
                "p50": [p["p50_s"] * 1000 for p in timeline],
                "p99": [p["p99_s"] * 1000 for p in timeline],
            },
            "ms",
        )
    }
<h2>Latency by OCPP action (ms)</h2>
<table id="latency"><tr><th>action</th><th>count</th><th>p50</th><th>p95</th><th>p99</th>
<th>max</th></tr>{rows}</table>
<h2>Counters</h2><table id="counters">{counters}</table>
</body></html>
"""
