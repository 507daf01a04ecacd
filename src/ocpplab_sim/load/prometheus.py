"""Live Prometheus metrics of a load run (``--prometheus [HOST:]PORT``) and a push at the end
(``--pushgateway URL``), through ``prometheus_client``.

The workers' snapshots carry (with ``WorkerPlan.live_metrics``) their whole run's HDR latency
histograms and counters so far; the exporter keeps each worker's latest and, at every scrape,
merges them exactly and turns them into Prometheus histograms with fixed buckets, so
``histogram_quantile`` works across shards (``sum by (le)``). Families, each labelled with the
``shard``:

- ``ocpplab_load_call_latency_seconds`` (histogram, per ``action``) and
  ``ocpplab_load_connect_boot_seconds`` (histogram): ``_bucket``, ``_sum``, ``_count``;
- ``ocpplab_load_calls_total`` (answered calls, per ``action``),
  ``ocpplab_load_unanswered_calls_total``, ``ocpplab_load_errors_total`` (per ``kind``: a
  CALLERROR per action, a failed connect per exception), ``ocpplab_load_reconnects_total``,
  ``ocpplab_load_booted_total``, ``ocpplab_load_sessions_started_total``,
  ``ocpplab_load_messages_total``;
- gauges ``ocpplab_load_connected``, ``_charging``, ``_faulted``, ``_reconnecting``,
  ``_elapsed_seconds``.
"""

from __future__ import annotations

import argparse
import ipaddress
import threading
import urllib.parse
from collections.abc import Iterator, Mapping
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest, push_to_gateway, start_http_server
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from ocpplab_sim.load.metrics import LatencyHistogram

__all__ = [
    "BUCKETS_S",
    "LoadCollector",
    "PrometheusExporter",
    "bind_address",
    "pushgateway_url",
]

_PREFIX = "ocpplab_load"
_CONNECT = "connect+boot"
#: ``le`` bounds in seconds: whole microseconds, the same for every shard (so buckets add up)
BUCKETS_S: tuple[float, ...] = (
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
    60.0,
)
_GAUGES = (
    ("connected", "connected", "Chargers connected now."),
    ("charging", "charging", "Chargers in a charging session now."),
    ("faulted", "faulted", "Chargers faulted now (injected faults)."),
    ("reconnecting", "reconnecting", "Connected chargers reconnecting now."),
)
_COUNTERS = (
    ("booted", "booted", "Chargers connected and booted since the start."),
    ("sessions_started", "sessions", "Charging sessions started."),
)


def bind_address(text: str) -> tuple[str, int]:
    """An argparse type: ``PORT`` (loopback), ``HOST:PORT`` or ``[IPv6]:PORT``."""
    host, _, port = text.rpartition(":")
    host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    if not (port.isascii() and port.isdigit()):
        raise argparse.ArgumentTypeError(f"takes [HOST:]PORT, got {text!r}")
    if int(port) > 65535:
        raise argparse.ArgumentTypeError(f"port must be at most 65,535, got {int(port):,}")
    if not host and ":" in text:
        raise argparse.ArgumentTypeError(f"takes [HOST:]PORT, got {text!r}")
    if host and not _is_host(host):
        raise argparse.ArgumentTypeError(f"{host!r} is not an IP address or host name")
    return host or "127.0.0.1", int(port)


def _is_host(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        labels = host.rstrip(".").split(".")
        return all(
            label and len(label) <= 63 and label.replace("-", "").isalnum() and label.isascii()
            for label in labels
        )
    return True


def pushgateway_url(text: str) -> str:
    """An argparse type: an ``http(s)://host[:port][/path]`` Pushgateway address."""
    try:
        parts = urllib.parse.urlsplit(text)
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r}: {exc}") from exc
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise argparse.ArgumentTypeError(f"takes http(s)://HOST[:PORT], got {text!r}")
    if parts.query or parts.fragment:
        raise argparse.ArgumentTypeError(f"{text!r}: no ?query or #fragment")
    return text.rstrip("/")


class LoadCollector(Collector):
    """The run's metrics from each worker's latest snapshot; thread-safe."""

    def __init__(self, shard: int = 0) -> None:
        self.shard = str(shard)
        self._lock = threading.Lock()
        self._latest: dict[int, Mapping[str, Any]] = {}
        self._messages: dict[int, int] = {}

    def observe(self, snapshot: Mapping[str, Any]) -> None:
        """Take one worker snapshot (those of the OCPI probe's statuses are ignored)."""
        if snapshot.get("status_only"):
            return
        worker = int(snapshot["worker"])
        with self._lock:
            self._latest[worker] = snapshot
            self._messages[worker] = self._messages.get(worker, 0) + int(snapshot["messages"])

    def collect(self) -> Iterator[Metric]:
        with self._lock:
            latest = list(self._latest.values())
            messages = sum(self._messages.values())
        shard = self.shard
        histograms: dict[str, LatencyHistogram] = {}
        counters: dict[str, int] = {}
        for snap in latest:
            for name, encoded in dict(snap.get("histograms", {})).items():
                histograms.setdefault(name, LatencyHistogram()).add_encoded(encoded)
            for name, value in dict(snap.get("counters", {})).items():
                counters[name] = counters.get(name, 0) + int(value)

        calls = HistogramMetricFamily(
            f"{_PREFIX}_call_latency_seconds",
            "OCPP call latency (CALL sent to its answer), since the start.",
            labels=["shard", "action"],
        )
        answered = CounterMetricFamily(
            f"{_PREFIX}_calls",
            "OCPP calls answered (CALLRESULT or CALLERROR).",
            labels=["shard", "action"],
        )
        connect = HistogramMetricFamily(
            f"{_PREFIX}_connect_boot_seconds",
            "Websocket connect plus BootNotification accepted, per charger.",
            labels=["shard"],
        )
        for name in sorted(histograms):
            histogram = histograms[name]
            buckets = _buckets(histogram)
            total = histogram.total_seconds()
            if name == _CONNECT:
                connect.add_metric([shard], buckets, total)
            else:
                calls.add_metric([shard, name], buckets, total)
                answered.add_metric([shard, name], histogram.count)
        yield calls
        yield connect
        yield answered

        errors = CounterMetricFamily(
            f"{_PREFIX}_errors",
            "Errors by kind (callerror.ACTION, connect.EXCEPTION, ...).",
            labels=["shard", "kind"],
        )
        for name in sorted(counters):
            if name.startswith("errors."):
                errors.add_metric([shard, name.removeprefix("errors.")], counters[name])
        yield errors
        for name, key, text in (
            ("unanswered_calls", "unanswered", "OCPP calls never answered (timed out or lost)."),
            ("reconnects", "reconnects", "Websocket reconnects of the chargers."),
        ):
            yield _counter(name, text, shard, counters.get(key, 0))
        for name, key, text in _COUNTERS:
            yield _counter(name, text, shard, sum(int(s.get(key, 0)) for s in latest))
        yield _counter("messages", "OCPP frames sent and received.", shard, messages)
        for name, key, text in _GAUGES:
            gauge = GaugeMetricFamily(f"{_PREFIX}_{name}", text, labels=["shard"])
            gauge.add_metric([shard], sum(int(s.get(key, 0)) for s in latest))
            yield gauge
        elapsed = GaugeMetricFamily(
            f"{_PREFIX}_elapsed_seconds", "Seconds since the run started.", labels=["shard"]
        )
        elapsed.add_metric([shard], max((float(s.get("t", 0.0)) for s in latest), default=0.0))
        yield elapsed


def _counter(name: str, text: str, shard: str, value: float) -> CounterMetricFamily:
    family = CounterMetricFamily(f"{_PREFIX}_{name}", text, labels=["shard"])
    family.add_metric([shard], value)
    return family


def _buckets(histogram: LatencyHistogram) -> list[tuple[str, float]]:
    bounds = (*BUCKETS_S, float("inf"))
    counts = histogram.cumulative_counts(bounds)
    return [
        ("+Inf" if b == float("inf") else repr(b), c) for b, c in zip(bounds, counts, strict=True)
    ]


class PrometheusExporter:
    """A registry with a :class:`LoadCollector`; serves it on ``host:port`` after :meth:`start`
    (``port=0`` picks a free one) and pushes it with :meth:`push`."""

    def __init__(self, port: int = 0, host: str = "127.0.0.1", *, shard: int = 0) -> None:
        self.host, self.port = host, port
        self.collector = LoadCollector(shard)
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(self.collector)
        self._server: Any = None
        self._thread: threading.Thread | None = None

    def observe(self, snapshot: Mapping[str, Any]) -> None:
        self.collector.observe(snapshot)

    def text(self) -> str:
        return generate_latest(self.registry).decode()

    def start(self) -> int:
        """Serve ``/metrics``; the bound port. ``OSError`` when the address cannot be bound."""
        self._server, self._thread = start_http_server(self.port, self.host, self.registry)
        self.port = int(self._server.server_port)
        return self.port

    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/metrics"

    def push(self, gateway: str, job: str, instance: str, timeout: float = 10.0) -> None:
        """PUT the metrics to a Pushgateway, grouped by ``job`` and ``instance`` (``OSError``
        when it cannot be reached or refuses)."""
        push_to_gateway(
            gateway, job, self.registry, grouping_key={"instance": instance}, timeout=timeout
        )

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(10)
            self._thread = None
