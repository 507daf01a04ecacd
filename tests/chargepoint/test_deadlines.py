"""Call timeouts: one sweeping timer per event loop (connection/client.py ``_Deadlines``)."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import time
import weakref

from ocpplab_sim.connection import client


async def test_each_call_times_out_on_its_own_deadline_and_discarded_ones_never() -> None:
    loop = asyncio.get_running_loop()
    deadlines = client._deadlines(loop)
    assert client._deadlines(loop) is deadlines  # one per loop
    started = time.monotonic()
    short, long, answered = (loop.create_future() for _ in range(3))
    due = deadlines.armed(loop)
    due[short] = loop.time() + 0.1
    due[long] = loop.time() + 0.4
    due[answered] = loop.time() + 0.1
    del due[answered]  # its answer came
    waited: dict[str, float] = {}

    async def wait(name: str, future: asyncio.Future[object]) -> None:
        try:
            await future
        except client._Expired:
            waited[name] = time.monotonic() - started

    await asyncio.gather(wait("short", short), wait("long", long))
    assert 0.1 <= waited["short"] < 0.1 + 0.2
    assert 0.4 <= waited["long"] < 0.4 + 0.2
    assert not answered.done()


def test_a_closed_loop_and_its_deadlines_are_collected() -> None:
    loops: list[weakref.ref[asyncio.AbstractEventLoop]] = []

    async def one_call() -> None:
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        client._deadlines(loop).armed(loop)[future] = loop.time() + 0.01
        with contextlib.suppress(client._Expired):
            await future
        loops.append(weakref.ref(loop))

    for _ in range(3):
        asyncio.run(one_call())
    gc.collect()
    assert len(loops) == 3
    assert all(ref() is None for ref in loops)  # the registry did not keep them alive
