"""The OCPI pusher's bounded worker pool against random interleavings (hypothesis).

The eMSP side is a scripted ``patch_status`` (answers succeed or fail by plan, after a random
number of event-loop turns), so what is tested is the scheduling the gateway does itself:
how many PATCHes are in flight, in which order one EVSE's changes leave, and when a retry is
superseded. The HTTP client and a real eMSP are covered by ``test_push.py``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ocpplab_sim.gateway import GatewaySettings
from ocpplab_sim.gateway import pusher as pusher_module
from ocpplab_sim.gateway.ocpi_peer import PatchResult
from ocpplab_sim.gateway.pusher import Pusher, _Target
from ocpplab_sim.gateway.station_store import EvseChange

START = datetime(2026, 1, 1, tzinfo=UTC)


class _ScriptedPusher(Pusher):
    """A pusher whose targets need no database and whose attempts are recorded in memory."""

    def __init__(self, settings: GatewaySettings, records: list[dict[str, Any]]) -> None:
        super().__init__(None, None, settings, lambda: START)  # type: ignore[arg-type]
        self.records = records

    async def _evse_target(self, change: EvseChange) -> _Target | None:
        return _Target(f"http://emsp.test/{change.evse_uid}", "Token x", "LOC")

    async def _record(self, row: dict[str, Any]) -> None:
        self.records.append(row)


def _change(evse: int, index: int) -> EvseChange:
    # the index is carried in last_updated: order of changes = order of timestamps
    at = START + timedelta(milliseconds=index)
    return EvseChange(1, evse, f"EVSE-{evse}", 1, "AVAILABLE", at)


notify_batches = st.lists(
    st.tuples(
        st.lists(st.integers(0, 4), min_size=1, max_size=4),  # EVSEs changed in one commit
        st.integers(0, 4),  # loop turns before the next commit
    ),
    min_size=1,
    max_size=12,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    batches=notify_batches,
    concurrency=st.integers(1, 3),
    attempts=st.integers(1, 3),
    failures=st.sets(st.integers(0, 60), max_size=30),
    turns=st.lists(st.integers(0, 3), min_size=1, max_size=20),
)
def test_pool_bounds_order_and_supersedes(
    batches: list[tuple[list[int], int]],
    concurrency: int,
    attempts: int,
    failures: set[int],
    turns: list[int],
) -> None:
    cfg = GatewaySettings(push_concurrency=concurrency, push_attempts=attempts, push_backoff=0.001)
    records: list[dict[str, Any]] = []
    in_flight: set[int] = set()
    peak = [0]
    calls = [0]
    notified_at: dict[int, list[int]] = {}  # EVSE -> change indexes in notify order

    async def scripted(
        http: Any, url: str, header: str, status: str, last_updated: datetime
    ) -> PatchResult:
        evse = int(url.rsplit("-", 1)[1])
        assert evse not in in_flight, "one EVSE pushed twice at once"
        in_flight.add(evse)
        peak[0] = max(peak[0], len(in_flight))
        call = calls[0]
        calls[0] += 1
        for _ in range(turns[call % len(turns)]):
            await asyncio.sleep(0)
        in_flight.discard(evse)
        if call in failures:
            return PatchResult(False, 503, 3000, "scripted failure")
        return PatchResult(True, 200, 1000, None)

    async def run() -> None:
        pool = _ScriptedPusher(cfg, records)
        index = 0
        for evses, pause in batches:
            changes = []
            for evse in evses:
                changes.append(_change(evse, index))
                notified_at.setdefault(evse, []).append(index)
                index += 1
            pool.notify(changes)
            for _ in range(pause):
                await asyncio.sleep(0)
        async with asyncio.timeout(30):
            await pool.idle()
        assert pool.depth == 0
        await pool.aclose()

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(pusher_module, "patch_status", scripted)
        asyncio.run(run())

    assert peak[0] <= concurrency
    index_of: Callable[[dict[str, Any]], int] = lambda row: (  # noqa: E731
        round((row["last_updated"] - START) / timedelta(milliseconds=1))
    )
    for evse, indexes in notified_at.items():
        rows = [r for r in records if r["evse_uid"] == f"EVSE-{evse}"]
        sent = [index_of(r) for r in rows]
        # never an older change after a newer one
        assert sent == sorted(sent), (evse, sent)
        # every change is attempted at least once and at most `attempts` times, numbered 1..n
        for index in indexes:
            tries = [r["attempt"] for r in rows if index_of(r) == index]
            assert tries == list(range(1, len(tries) + 1)), (evse, index, tries)
            assert 1 <= len(tries) <= attempts
            last_ok = rows[[index_of(r) for r in rows].index(index) + len(tries) - 1]["ok"]
            if index == indexes[-1]:
                # the newest change is pushed until it succeeds or its tries run out
                assert last_ok or len(tries) == attempts
            elif not last_ok and len(tries) < attempts:
                # a retry stopped early only because a newer change came
                later = [i for i in indexes if i > index]
                assert later
