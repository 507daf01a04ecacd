"""The gateway's clocked garbage collections (:mod:`ocpplab_sim.gateway.gcpacer`)."""

from __future__ import annotations

import asyncio
import gc
import weakref

import pytest

from ocpplab_sim.gateway.gcpacer import AUTOMATIC_THRESHOLDS, GcPacer


def test_youngest_every_tick_middle_every_nth() -> None:
    collected: list[int] = []
    pacer = GcPacer(0.5, middle_every=4, collect=lambda g: collected.append(g) or 0)
    assert [pacer.tick() for _ in range(8)] == [0, 0, 0, 1, 0, 0, 0, 1]
    assert collected == [0, 0, 0, 1, 0, 0, 0, 1]


def test_bad_settings_are_refused() -> None:
    for kwargs in ({"interval": 0}, {"middle_every": 0}):
        with pytest.raises(ValueError, match="must be"):
            GcPacer(**kwargs)  # type: ignore[arg-type]


async def test_run_collects_for_real_on_its_clock() -> None:
    """With the automatic collector off, a cycle is freed only by the pacer's ticks."""
    was_enabled, thresholds = gc.isenabled(), gc.get_threshold()
    gc.disable()
    try:

        class Node:
            pass

        node = Node()
        node.self = node  # type: ignore[attr-defined]
        alive = [True]
        weakref.finalize(node, alive.clear)
        del node
        pacer = GcPacer(0.01, middle_every=2)
        task = asyncio.create_task(pacer.run())
        try:
            for _ in range(200):
                await asyncio.sleep(0.01)
                if not alive:
                    break
        finally:
            task.cancel()
        assert not alive and pacer.ticks >= 1
    finally:
        gc.set_threshold(*thresholds)
        if was_enabled:
            gc.enable()
    # beside the pacer, the automatic collector does no full collection of its own for hours
    young, middle, oldest = AUTOMATIC_THRESHOLDS
    assert young >= 10_000 and middle * oldest >= 10_000
