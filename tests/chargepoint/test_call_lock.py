"""The connection's call lock: one CALL in flight, first come first served, cancellation-safe."""

from __future__ import annotations

import asyncio

import pytest

from ocpplab_sim.connection.client import _CallLock


async def test_waiters_get_the_lock_in_arrival_order() -> None:
    lock = _CallLock()
    assert lock.try_acquire()
    assert not lock.try_acquire()
    order: list[int] = []

    async def take(n: int) -> None:
        await lock.acquire()
        order.append(n)
        await asyncio.sleep(0)
        lock.release()

    tasks = [asyncio.create_task(take(n)) for n in range(4)]
    await asyncio.sleep(0)
    assert order == []  # all wait while the lock is held
    lock.release()
    await asyncio.gather(*tasks)
    assert order == [0, 1, 2, 3]
    assert lock.try_acquire()  # free again once the last one released it


async def test_a_waiter_cancelled_before_its_turn_is_skipped() -> None:
    lock = _CallLock()
    assert lock.try_acquire()
    first = asyncio.create_task(lock.acquire())
    second = asyncio.create_task(lock.acquire())
    await asyncio.sleep(0)
    first.cancel()
    with pytest.raises(asyncio.CancelledError):
        await first
    lock.release()
    await asyncio.wait_for(second, 1)  # the lock went to the next waiter
    assert not lock.try_acquire()
    lock.release()
    assert lock.try_acquire()


async def test_a_waiter_cancelled_after_it_was_handed_the_lock_passes_it_on() -> None:
    lock = _CallLock()
    assert lock.try_acquire()
    first = asyncio.create_task(lock.acquire())
    second = asyncio.create_task(lock.acquire())
    await asyncio.sleep(0)
    lock.release()  # hands the lock to `first`, which has not run yet
    first.cancel()  # ... and is cancelled before it does
    with pytest.raises(asyncio.CancelledError):
        await first
    await asyncio.wait_for(second, 1)
    lock.release()
    assert lock.try_acquire()
