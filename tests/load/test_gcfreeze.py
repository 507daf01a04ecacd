"""Cyclic gc during a storm: frozen while long-lived objects pour in, thawed once quiet."""

from __future__ import annotations

import asyncio
import gc
import socket
import weakref

from ocpplab_sim.load.gcfreeze import StormFreezer
from ocpplab_sim.load.shapes import Steady
from ocpplab_sim.load.sink import CentralSystemSink
from ocpplab_sim.load.worker import WorkerPlan, run_worker


def test_freezes_while_growing_and_thaws_after_the_quiet_period() -> None:
    now = [0.0]
    freezer = StormFreezer(quiet_s=2.0, clock=lambda: now[0])
    kept = [[n] for n in range(100)]  # live container objects to be frozen
    try:
        freezer.tick(True)
        assert freezer.frozen
        assert gc.get_freeze_count() >= len(kept)
        now[0] = 1.5
        freezer.tick(False)
        assert freezer.frozen  # not yet quiet long enough
        now[0] = 3.6
        freezer.tick(False)
        assert not freezer.frozen
        assert gc.get_freeze_count() == 0
    finally:
        freezer.close()


def test_cycles_that_die_after_the_thaw_are_collected() -> None:
    freezer = StormFreezer(quiet_s=0.0)

    class Node:
        other: object

    a, b = Node(), Node()
    a.other, b.other = b, a  # a reference cycle: only the cyclic gc frees it
    freezer.tick(True)
    freezer.tick(False)  # quiet at once: thawed
    assert gc.get_freeze_count() == 0
    del a, b
    assert gc.collect() >= 2


def test_growth_that_never_stops_is_thawed_and_collected_every_max_frozen_s() -> None:
    now = [0.0]
    freezer = StormFreezer(quiet_s=2.0, max_frozen_s=10.0, clock=lambda: now[0])

    class Node:
        other: object

    try:
        freezer.tick(True)
        a, b = Node(), Node()
        a.other, b.other = b, a
        dead = weakref.ref(a)
        freezer.tick(True)  # the cycle is frozen now
        del a, b
        gc.collect()
        assert dead() is not None  # kept alive by the freeze
        for step in range(1, 12):  # growing on every tick, never quiet
            now[0] = float(step)
            freezer.tick(True)
        assert dead() is None  # collected when the 10 s bound was reached
        assert freezer.frozen  # and frozen again for the growth that goes on
    finally:
        freezer.close()


async def test_a_worker_that_cannot_connect_freezes_nothing() -> None:
    """Failed connects are retried on every tick; they are garbage, not growth."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # nothing listens here
    frozen: list[int] = []
    plan = WorkerPlan(f"ws://127.0.0.1:{port}", 0, 20, 20, Steady(20, 1.5), report_every_s=0.1)
    final = await asyncio.wait_for(
        run_worker(plan, lambda _snapshot: frozen.append(gc.get_freeze_count())), 30
    )
    assert final["counters"].get("connected", 0) == 0
    assert sum(v for k, v in final["counters"].items() if k.startswith("errors.connect")) > 20
    assert frozen and max(frozen) == 0


async def test_a_worker_and_the_sink_leave_nothing_frozen() -> None:
    async with CentralSystemSink(heartbeat_interval=60) as sink:
        plan = WorkerPlan(sink.url, 0, 20, 20, Steady(20, 1.0), report_every_s=0.2)
        final = await asyncio.wait_for(run_worker(plan, lambda _snapshot: None), 30)
        assert final["counters"]["connected"] == 20
    assert gc.get_freeze_count() == 0
