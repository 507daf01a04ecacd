"""The runner's teardown: last-in first-out, failures reported, and a second interrupt aborts it
naming what was left."""

from __future__ import annotations

import asyncio

from ocpplab_sim.runner import RunControl, _Teardown


async def test_teardown_runs_everything_in_reverse_and_reports_failures() -> None:
    done: list[str] = []
    teardown = _Teardown()

    async def ok(name: str) -> None:
        done.append(name)

    async def broken() -> None:
        raise RuntimeError("boom")

    teardown.push("first", lambda: ok("first"))
    teardown.push("broken", broken)
    teardown.push("last", lambda: ok("last"))
    problems, left = await teardown.run()
    assert done == ["last", "first"]
    assert problems == ["broken: boom"]
    assert left == []


async def test_a_second_interrupt_aborts_the_teardown_and_names_what_was_left() -> None:
    started = asyncio.Event()
    teardown = _Teardown()

    async def hang() -> None:
        started.set()
        await asyncio.Event().wait()

    async def never() -> None:
        raise AssertionError("must not run after an abort")

    teardown.push(
        "delete CPO 12", never, "CPO 12 not deleted: DELETE http://gw/ocpi/cpos/12 yourself"
    )
    teardown.push("disconnect chargers", hang, "chargers not disconnected")
    control = RunControl()
    control._teardown = teardown
    work = asyncio.ensure_future(teardown.run())
    await started.wait()
    assert control.interrupt() == "wait"  # the first interrupt during teardown only warns
    assert control.interrupt() == "abort-teardown"
    problems, left = await asyncio.wait_for(work, 5)
    assert problems == []
    assert left == [
        "chargers not disconnected",
        "CPO 12 not deleted: DELETE http://gw/ocpi/cpos/12 yourself",
    ]
