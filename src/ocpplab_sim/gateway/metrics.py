"""``GET /metrics``: the reference gateway in the Prometheus text format (``prometheus_client``).

Read at scrape time from the live state (nothing on the hot path but two counter increments
and two histogram observations per status change):

- ``ocpplab_gateway_connections`` — open OCPP websockets;
- ``ocpplab_gateway_live_chargers`` — chargers with in-memory state (open sockets or writes
  still queued);
- ``ocpplab_gateway_messages_total{action}`` — CALLs received from chargers, by action;
- ``ocpplab_gateway_write_queue_depth`` / ``ocpplab_gateway_writes_committed_total`` — the
  writer's queue and what it committed;
- ``ocpplab_gateway_push_queue_depth`` — OCPI status pushes waiting;
- ``ocpplab_gateway_status_commit_seconds`` — from an OCPP status arriving to the OCPI status
  it gives being committed (visible in the Locations module);
- ``ocpplab_gateway_status_push_seconds`` — from an OCPP status arriving to the eMSP's answer to
  its push.

One registry per gateway (never the process-wide default), so several gateways in one process
keep their figures apart.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime

from prometheus_client import CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

__all__ = ["CONTENT_TYPE", "GatewayMetrics"]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class GatewayMetrics(Collector):
    """The figures of one gateway. The app sets the ``*_now`` readers once its parts exist."""

    def __init__(self, clock: Callable[[], datetime]) -> None:
        self._clock = clock
        self.registry = CollectorRegistry(auto_describe=False)
        self.commit_latency = Histogram(
            "ocpplab_gateway_status_commit_seconds",
            "From an OCPP status arriving to its OCPI status committed",
            buckets=_BUCKETS,
            registry=self.registry,
        )
        self.push_latency = Histogram(
            "ocpplab_gateway_status_push_seconds",
            "From an OCPP status arriving to the eMSP's answer to its OCPI push",
            buckets=_BUCKETS,
            registry=self.registry,
        )
        self.connections_now: Callable[[], int] = lambda: 0
        self.live_chargers_now: Callable[[], int] = lambda: 0
        self.messages_now: Callable[[], dict[str, int]] = dict
        self.write_queue_now: Callable[[], int] = lambda: 0
        self.committed_now: Callable[[], int] = lambda: 0
        self.push_queue_now: Callable[[], int] = lambda: 0
        self.registry.register(self)

    def committed(self, received_at: datetime) -> None:
        self.commit_latency.observe(max(0.0, (self._clock() - received_at).total_seconds()))

    def pushed(self, received_at: datetime) -> None:
        self.push_latency.observe(max(0.0, (self._clock() - received_at).total_seconds()))

    def collect(self) -> Iterator[Metric]:
        yield GaugeMetricFamily(
            "ocpplab_gateway_connections", "Open OCPP websockets", value=self.connections_now()
        )
        yield GaugeMetricFamily(
            "ocpplab_gateway_live_chargers",
            "Chargers with in-memory state (open sockets or queued writes)",
            value=self.live_chargers_now(),
        )
        messages = CounterMetricFamily(
            "ocpplab_gateway_messages", "CALLs received from chargers", labels=["action"]
        )
        for action, count in sorted(self.messages_now().items()):
            messages.add_metric([action], count)
        yield messages
        yield GaugeMetricFamily(
            "ocpplab_gateway_write_queue_depth",
            "Writes queued for the database writer",
            value=self.write_queue_now(),
        )
        yield CounterMetricFamily(
            "ocpplab_gateway_writes_committed",
            "Writes the database writer committed",
            value=self.committed_now(),
        )
        yield GaugeMetricFamily(
            "ocpplab_gateway_push_queue_depth",
            "OCPI status pushes waiting to be sent",
            value=self.push_queue_now(),
        )

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
