"""Cyclic gc during a storm: frozen while long-lived objects pour in, thawed once quiet."""

from __future__ import annotations

import asyncio
import gc

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


async def test_a_worker_and_the_sink_leave_nothing_frozen() -> None:
    async with CentralSystemSink(heartbeat_interval=60) as sink:
        plan = WorkerPlan(sink.url, 0, 20, 20, Steady(20, 1.0), report_every_s=0.2)
        final = await asyncio.wait_for(run_worker(plan, lambda _snapshot: None), 30)
        assert final["counters"]["connected"] == 20
    assert gc.get_freeze_count() == 0
