"""One load worker: a slice of the fleet on one event loop, driven by a load shape.

The worker reuses the same :class:`~ocpplab_sim.fleet.SimulatedChargePoint` as functional runs.
Every CALL is timed from the frame that carried it to the frame that answered it (the
connection's call observer, cheaper than a frame hook) into HDR histograms per action. Once per
``report_every_s`` it publishes a snapshot (connected chargers, messages in the interval, an
encoded histogram of the interval's latencies) so a parent process can draw the run over time;
at the end it returns its whole metrics.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import ipaddress
import logging
import os
import random
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

from ocpplab_sim.errors import OcpplabError
from ocpplab_sim.fleet import ChargePointConfig, FrameRecord, SimulatedChargePoint, Transport
from ocpplab_sim.load.gcfreeze import StormFreezer
from ocpplab_sim.load.metrics import LatencyHistogram, LoadMetrics
from ocpplab_sim.load.shapes import LoadShape
from ocpplab_sim.load.shard import synthetic_identity
from ocpplab_sim.load.stop import ABORT, StopFlag

__all__ = ["ChargerSpec", "WorkerPlan", "rare_gc", "rss_kb", "run_worker", "source_address"]

VersionMix = Literal["1.6", "2.0.1", "mixed"]
Validation = Literal["strict", "lenient", "off"]

log = logging.getLogger(__name__)

_PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024 if hasattr(os, "sysconf") else 4
_FIRST_SOURCE = int(ipaddress.IPv4Address("127.0.0.2"))


def rss_kb() -> int:
    """This process's resident memory in KB (0 where /proc is not available)."""
    try:
        with open("/proc/self/statm", encoding="ascii") as statm:
            return int(statm.read().split()[1]) * _PAGE_KB
    except OSError:
        return 0


def source_address(number: int, pool: int) -> str:
    """The loopback source address of charger ``number`` in a pool of ``pool`` addresses:
    127.0.0.2, 127.0.0.3, … round-robin (each address has its own ephemeral ports)."""
    n = _FIRST_SOURCE + number % pool  # what str(IPv4Address(n)) gives, without its cost
    return f"{n >> 24}.{(n >> 16) & 255}.{(n >> 8) & 255}.{n & 255}"


@dataclass(frozen=True)
class ChargerSpec:
    """One charger taken from a provisioned topology instead of synthesised."""

    identity: str
    ocpp_version: Literal["1.6", "2.0.1"]
    evse_count: int
    password: str | None = None


@dataclass(frozen=True)
class WorkerPlan:
    """What one worker does. ``first``/``last`` are global charger numbers (``last`` exclusive);
    ``total`` is the whole fleet's size, so the worker takes its share of the shape's targets."""

    csms_url: str
    first: int
    last: int
    total: int
    shape: LoadShape
    ocpp_version: VersionMix = "1.6"
    connectors: int = 1
    id_prefix: str = "LOAD-"
    session_s: float = 30.0
    seed: int = 0
    meter_interval_s: float = 60.0
    tick_s: float = 0.1
    report_every_s: float = 1.0
    stop_timeout_s: float = 20.0
    worker: int = 0
    validation: Validation | None = None
    source_addresses: int = 0
    chargers: tuple[ChargerSpec, ...] = ()
    max_connecting: int = 1024
    transport: Transport = "picows"
    #: identities whose StatusNotifications go into the snapshots (the OCPI probe's sample)
    watch: frozenset[str] = frozenset()
    #: faults injected on idle chargers per second (whole fleet), how long each lasts, its code
    fault_rate: float = 0.0
    fault_s: float = 10.0
    fault_code: str = "OtherError"
    #: snapshots also carry the whole run's histograms and counters so far (``--prometheus``)
    live_metrics: bool = False

    @property
    def size(self) -> int:
        return self.last - self.first

    def config(self, number: int) -> ChargePointConfig:
        source = source_address(number, self.source_addresses) if self.source_addresses else None
        if self.chargers:
            spec = self.chargers[number]
            return ChargePointConfig(
                identity=spec.identity,
                ocpp_version=spec.ocpp_version,
                evse_count=spec.evse_count,
                csms_url=self.csms_url,
                meter_interval_s=self.meter_interval_s,
                seed=self.seed * 1_000_003 + number,
                validation=self.validation,
                password=spec.password,
                source_address=source,
                transport=self.transport,
            )
        version: Literal["1.6", "2.0.1"]
        if self.ocpp_version == "mixed":
            version = "1.6" if number % 2 == 0 else "2.0.1"
        else:
            version = self.ocpp_version
        return ChargePointConfig(
            identity=synthetic_identity(self.id_prefix, number),
            ocpp_version=version,
            evse_count=self.connectors,
            csms_url=self.csms_url,
            meter_interval_s=self.meter_interval_s,
            seed=self.seed * 1_000_003 + number,
            validation=self.validation,
            source_address=source,
            transport=self.transport,
        )


class _Pool:
    """A set of charger numbers with O(1) add, remove and random pick (swap-remove)."""

    def __init__(self) -> None:
        self._items: list[int] = []
        self._where: dict[int, int] = {}

    def __len__(self) -> int:
        return len(self._items)

    def add(self, number: int) -> None:
        if number not in self._where:
            self._where[number] = len(self._items)
            self._items.append(number)

    def discard(self, number: int) -> None:
        index = self._where.pop(number, None)
        if index is None:
            return
        last = self._items.pop()
        if last != number:
            self._items[index] = last
            self._where[last] = index

    def pop(self, rng: random.Random | None = None) -> int:
        number = self._items[rng.randrange(len(self._items))] if rng else self._items[-1]
        self.discard(number)
        return number


@dataclass
class _State:
    metrics: LoadMetrics = field(default_factory=LoadMetrics)
    interval: LatencyHistogram = field(default_factory=LatencyHistogram)
    interval_messages: int = 0
    booted: int = 0
    sessions: int = 0
    errors: int = 0
    statuses: list[tuple[str, int, str, float]] = field(default_factory=list)


_CUT_OFF_S = 2.0
#: the longest wind-down after an interrupt (a Kubernetes pod has 30 s from SIGTERM to SIGKILL)
INTERRUPTED_WIND_DOWN_S = 10.0


class _Worker:
    def __init__(
        self,
        plan: WorkerPlan,
        publish: Callable[[dict[str, Any]], None],
        stop: StopFlag | None = None,
    ) -> None:
        self.plan = plan
        self.publish = publish
        self.stop = stop
        self.interrupted = False
        self.warned: set[str] = set()
        self.state = _State()
        self.rng = random.Random(plan.seed * 7919 + plan.worker)
        self.idle: deque[int] = deque(range(plan.first, plan.last))
        self.connected: dict[int, SimulatedChargePoint] = {}
        self.connecting = 0
        self.charging: set[int] = set()
        self.faulted: set[int] = set()
        self.free = _Pool()  # connected and not charging
        self.tasks: set[asyncio.Task[None]] = set()
        self.watch = plan.watch
        self.stopping = False

    # every CALL of every charger passes here: keep it cheap
    def on_call(
        self, direction: Literal["out", "in"], action: str, seconds: float, outcome: str | None
    ) -> None:
        state = self.state
        if direction == "in":
            state.interval_messages += 2
            state.metrics.count("calls_from_csms")
            return
        if outcome is None:
            state.interval_messages += 2
            state.metrics.record(action, seconds)
            state.interval.record(seconds)
            return
        if outcome != "timeout" and outcome != "lost":  # a CALLERROR: answered, but refused
            state.interval_messages += 2
            state.metrics.record(action, seconds)
            state.interval.record(seconds)
            state.errors += 1
            state.metrics.count(f"errors.callerror.{action}")
            return
        state.interval_messages += 1
        # A call sent just before the end is cut off, not lost: only older ones count as lost.
        if self.stopping and seconds < _CUT_OFF_S:
            state.metrics.count("in_flight_at_stop")
        else:
            state.metrics.count("unanswered")

    def on_watched_frame(self, record: FrameRecord) -> None:
        """Frames of the OCPI probe's sample: their StatusNotifications go to the probe."""
        message = record.message
        if record.direction == "out" and message[0] == 2 and message[2] == "StatusNotification":
            self._watch_status(record)

    def _watch_status(self, record: FrameRecord) -> None:
        payload = record.message[3]
        number = payload.get("connectorId", payload.get("evseId"))
        status = payload.get("status", payload.get("connectorStatus"))
        if isinstance(number, int) and number > 0 and isinstance(status, str):
            self.state.statuses.append((record.identity, number, status, record.at))

    def error(self, name: str) -> None:
        self.state.errors += 1
        self.state.metrics.count(name)

    def spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self.tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        """A task ended: an exception nothing expected is counted and logged, not left for the
        loop to print as "Task exception was never retrieved"."""
        self.tasks.discard(task)
        if task.cancelled():
            return
        exc = task.exception()
        if exc is not None:
            self.error(f"errors.internal.{type(exc).__name__}")
            self.warn_once(f"{type(exc).__name__}: {exc}", exc)

    async def connect(self, number: int) -> None:
        started = time.monotonic()
        try:
            config = self.plan.config(number)
            watched = self.on_watched_frame if config.identity in self.watch else None
            point = SimulatedChargePoint(config, on_frame=watched, on_call=self.on_call)
            try:
                await point.start()
            except asyncio.CancelledError:
                # the run ended while this charger was still connecting and booting: not a
                # failure of the central system (a handshake never answered shows as nothing
                # connected)
                self.state.metrics.count("connecting_at_stop")
                raise
            except Exception as exc:  # OcpplabError, or what a library let through: counted
                self.error(f"errors.connect.{type(exc).__name__}")
                if not isinstance(exc, OcpplabError):
                    self.warn_once(f"{config.identity}: {type(exc).__name__}: {exc}", exc)
                await point.stop()
                self.idle.append(number)
                return
        finally:
            self.connecting -= 1
        self.state.metrics.record("connect+boot", time.monotonic() - started)
        self.state.metrics.count("connected")
        self.state.booted += 1
        self.connected[number] = point
        self.free.add(number)

    def warn_once(self, message: str, exc: BaseException) -> None:
        """Log the first error of each kind (a fleet of thousands fails the same way)."""
        kind = type(exc).__name__
        if kind not in self.warned:
            self.warned.add(kind)
            log.warning(
                "load worker %d: %s (further %s not logged)", self.plan.worker, message, kind
            )

    async def disconnect(self, number: int) -> None:
        point = self.connected.pop(number)
        self.free.discard(number)
        await point.stop()
        self.state.metrics.count("reconnects", point.reconnects)
        self.state.metrics.count("disconnected")
        self.idle.append(number)

    async def _occupy(
        self,
        number: int,
        busy: set[int],
        kind: str,
        work: Callable[[SimulatedChargePoint], Awaitable[None]],
    ) -> None:
        """Run ``work`` on a connected charger taken out of the free pool meanwhile; an error
        counts as ``errors.{kind}.{type}``."""
        point = self.connected.get(number)
        if point is None:
            return
        busy.add(number)
        self.free.discard(number)
        try:
            await work(point)
        except OcpplabError as exc:
            self.error(f"errors.{kind}.{type(exc).__name__}")
        finally:
            busy.discard(number)
            if number in self.connected:
                self.free.add(number)

    async def fault(self, number: int) -> None:
        """EVSE 1 of an idle charger goes Faulted for ``fault_s``, then recovers."""
        metrics, plan = self.state.metrics, self.plan

        async def work(point: SimulatedChargePoint) -> None:
            await point.set_fault(1, True, plan.fault_code)
            metrics.count("faults.injected")
            await asyncio.sleep(plan.fault_s)
            await point.set_fault(1, False)
            metrics.count("faults.cleared")

        await self._occupy(number, self.faulted, "fault", work)

    async def session(self, number: int) -> None:
        """A charging session of ``session_s`` on EVSE 1."""
        state, plan = self.state, self.plan

        async def work(point: SimulatedChargePoint) -> None:
            await point.start_charging(1, f"LD{number % 10**8:08d}")
            state.metrics.count("sessions.started")
            state.sessions += 1
            await asyncio.sleep(plan.session_s)
            await point.stop_charging(1)
            await point.unplug(1)
            state.metrics.count("sessions.completed")

        await self._occupy(number, self.charging, "session", work)

    def snapshot(self, elapsed: float, *, final: bool = False) -> dict[str, Any]:
        state = self.state
        data = {
            "worker": self.plan.worker,
            "t": round(elapsed, 3),
            "connected": len(self.connected),
            "reconnecting": sum(1 for p in self.connected.values() if not p.connected),
            "charging": len(self.charging),
            "faulted": len(self.faulted),
            "messages": state.interval_messages,
            "latency": state.interval.encode(),
            "booted": state.booted,
            "sessions": state.sessions,
            "errors": state.errors,
            "rss_kb": rss_kb(),
            "cpu_s": time.process_time(),
            "final": final,
        }
        if self.plan.live_metrics:
            # cumulative, so a parent (the Prometheus exporter) keeps only each worker's latest
            metrics = state.metrics
            data["histograms"] = {name: h.encode() for name, h in metrics.histograms.items()}
            counters = dict(metrics.counters)
            counters["reconnects"] = counters.get("reconnects", 0) + sum(
                p.reconnects for p in self.connected.values()
            )
            data["counters"] = counters
        state.interval = LatencyHistogram()
        state.interval_messages = 0
        return data

    async def run(self) -> dict[str, Any]:
        plan = self.plan
        share = plan.size / plan.total if plan.total else 0.0
        start = time.monotonic()
        # chargers booted in a storm are not walked again by every pass of the cyclic gc
        freezer = StormFreezer()
        try:
            await self._run_shape(plan, start, share, freezer)
        finally:
            freezer.close()
        self.stopping = True
        await self.drain()
        await self.wind_down()
        self.state.metrics.count("unanswered", 0)
        self.state.metrics.count("in_flight_at_stop", 0)
        self.publish(self.snapshot(time.monotonic() - start, final=True))
        return self.state.metrics.to_dict()

    async def _run_shape(
        self, plan: WorkerPlan, start: float, share: float, freezer: StormFreezer
    ) -> None:
        """Follow the shape until it ends: connect, disconnect, sessions, faults, reports."""
        connect_tokens = session_tokens = fault_tokens = 0.0
        next_report = plan.report_every_s
        last = 0.0
        booted = 0
        stop = self.stop
        while True:
            if stop is not None and stop.value:
                self.interrupted = True
                break
            elapsed = time.monotonic() - start
            target = plan.shape.tick(elapsed)
            if target is None:
                break
            dt = elapsed - last
            last = elapsed
            wanted = min(plan.size, round(target.chargers * share))
            connect_tokens = min(connect_tokens + target.connect_rate * share * dt, max(wanted, 1))
            while (
                self.idle
                and len(self.connected) + self.connecting < wanted
                and connect_tokens >= 1
                and self.connecting < plan.max_connecting
            ):
                connect_tokens -= 1
                self.connecting += 1
                self.spawn(self.connect(self.idle.popleft()))
            surplus = len(self.connected) - wanted
            while surplus > 0 and self.free:
                surplus -= 1
                number = self.free.pop()
                self.spawn(self.disconnect(number))
            session_tokens += target.session_rate * share * dt
            while session_tokens >= 1 and self.free:
                session_tokens -= 1
                self.spawn(self.session(self.free.pop(self.rng)))
            fault_tokens += plan.fault_rate * share * dt
            while fault_tokens >= 1 and self.free:
                fault_tokens -= 1
                self.spawn(self.fault(self.free.pop(self.rng)))
            if self.state.statuses:  # the OCPI probe's sample goes out at once, not per second
                statuses, self.state.statuses = self.state.statuses, []
                self.publish({"worker": plan.worker, "statuses": statuses, "status_only": True})
            if elapsed >= next_report:
                next_report += plan.report_every_s
                self.publish(self.snapshot(elapsed))
            freezer.tick(self.state.booted != booted)  # boots, not attempts: failures are garbage
            booted = self.state.booted
            await asyncio.sleep(plan.tick_s)

    async def drain(self) -> None:
        """Give the CALLs in flight when the run ended up to ``_CUT_OFF_S`` for their answer
        (what is still unanswered at the close is then older than that: ``unanswered``; a CALL
        sent meanwhile that the close cuts off is ``in_flight_at_stop``)."""
        waiting: dict[SimulatedChargePoint, str] = {}
        for point in self.connected.values():
            session = point.protocol.session
            if session.in_flight is not None:
                waiting[point] = session.uid
        deadline = time.monotonic() + _CUT_OFF_S
        while waiting and time.monotonic() < deadline:
            if self.stop is not None and self.stop.value >= ABORT:
                return
            await asyncio.sleep(0.05)
            waiting = {
                point: uid
                for point, uid in waiting.items()
                if point.protocol.session.in_flight is not None
                and point.protocol.session.uid == uid
            }

    async def wind_down(self) -> None:
        """Cancel what runs, close every charger; bounded by ``stop_timeout_s`` (after an
        interrupt by ``INTERRUPTED_WIND_DOWN_S`` too), cut short by ``ABORT``."""
        for task in list(self.tasks):
            task.cancel()

        async def close_all() -> None:
            await asyncio.gather(*self.tasks, return_exceptions=True)
            await asyncio.gather(*(p.stop() for p in self.connected.values()))

        limit = self.plan.stop_timeout_s
        if self.interrupted:
            limit = min(limit, INTERRUPTED_WIND_DOWN_S)
        closing = asyncio.ensure_future(close_all())
        deadline = time.monotonic() + limit
        while not closing.done() and time.monotonic() < deadline:
            if self.stop is not None and self.stop.value >= ABORT:
                break
            await asyncio.wait({closing}, timeout=min(0.1, max(0.0, deadline - time.monotonic())))
        if not closing.done():
            closing.cancel()
            with contextlib.suppress(BaseException):
                await closing
            self.state.metrics.count("wind_down_cut_short")
        self.state.metrics.count("reconnects", sum(p.reconnects for p in self.connected.values()))
        self.connected.clear()


async def run_worker(
    plan: WorkerPlan,
    publish: Callable[[dict[str, Any]], None],
    stop: StopFlag | None = None,
) -> dict[str, Any]:
    """Run ``plan`` until its shape ends, or until ``stop`` is raised (polled every tick); return
    the worker's metrics (``LoadMetrics.to_dict``), what was measured so far when stopped."""
    with rare_gc():
        return await _Worker(plan, publish, stop).run()


@contextlib.contextmanager
def rare_gc() -> Iterator[None]:
    """Collect cyclic garbage less often while thousands of long-lived chargers are alive.

    Python's default thresholds start a young collection every 700 allocations, and its full
    collections walk every charger object; during a boot storm that cost ~30 % of the worker's
    CPU. Garbage is still collected, in larger batches (the old thresholds come back after).
    """
    old = gc.get_threshold()
    gc.set_threshold(50_000, 20, 20)
    try:
        yield
    finally:
        gc.set_threshold(*old)
