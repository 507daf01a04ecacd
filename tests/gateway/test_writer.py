"""The write-behind writer: group commit, back-pressure, and churn leaving no state behind."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ocpplab_sim.gateway import EmbeddedGateway, GatewaySettings
from ocpplab_sim.gateway.context import GatewayContext
from ocpplab_sim.gateway.db import Database, GatewayEvent, utc_now
from ocpplab_sim.gateway.writer import Writer

from .conftest import TOKEN
from .support import ocpp_client, provision, wait_until


def _event(n: int) -> GatewayEvent:
    return GatewayEvent(cpo_id=None, station_id=f"ID-{n}", kind="test", detail="", at=utc_now())


async def _rows(db: Database) -> int:
    async with db.read() as session:
        return int(await session.scalar(select(func.count()).select_from(GatewayEvent)) or 0)


@pytest.fixture
async def db(tmp_path: Path):  # type: ignore[no-untyped-def]
    database = Database(f"sqlite+aiosqlite:///{tmp_path}/w.db")
    await database.migrate()
    try:
        yield database
    finally:
        await database.dispose()


async def test_full_queue_slows_ingest_and_drops_nothing(db: Database):
    """With the database held, writers beyond the bound wait in reserve(); nothing queued is
    lost, and once the database frees up every acknowledged write is committed, in order."""
    writer = Writer(db, max_pending=4, max_batch=3)
    writer.start()
    order: list[int] = []

    def op(n: int):  # type: ignore[no-untyped-def]
        def run(session: Session) -> int:
            session.add(_event(n))
            return n

        return run

    async def produce(n: int) -> None:
        result = await writer.submit(op(n), after=order.append)
        assert result == n

    try:
        async with db.write_lock():  # the database is "slow": nothing commits meanwhile
            tasks = [asyncio.create_task(produce(n)) for n in range(20)]
            # Everyone has either queued or is waiting for room; the queue stays bounded.
            await wait_until(lambda: _noop(), lambda _: writer.pending + writer.waiting == 20 - 3)
            assert writer.pending <= writer.max_pending
            assert not any(task.done() for task in tasks)
        await asyncio.wait_for(asyncio.gather(*tasks), 30)  # no deadlock
        assert order == list(range(20))
        assert await _rows(db) == 20
        assert writer.pending == 0 and writer.waiting == 0
    finally:
        await writer.aclose()


async def test_failing_operation_fails_alone(db: Database):
    writer = Writer(db)
    writer.start()

    def bad(session: Session) -> None:
        raise ValueError("bad operation")

    def good(session: Session) -> None:
        session.add(_event(1))

    try:
        async with db.write_lock():  # both land in one batch
            futures = [writer.enqueue(good), writer.enqueue(bad), writer.enqueue(good)]
        results = await asyncio.gather(*futures, return_exceptions=True)
        assert results[0] is None and results[2] is None
        assert isinstance(results[1], ValueError)
        assert await _rows(db) == 2
    finally:
        await writer.aclose()


async def _noop() -> None:
    return None


def _context(gw: EmbeddedGateway) -> GatewayContext:
    server = gw._server
    assert server is not None
    app = server.config.loaded_app
    ctx = getattr(app, "app", app).state.gateway
    assert isinstance(ctx, GatewayContext)
    return ctx


async def test_closed_connections_leave_no_state(settings: GatewaySettings):
    """Chargers that connect, report and close leave nothing in memory: no session, no live
    EVSE state, no push worker; the closes are committed (chargers offline)."""
    async with EmbeddedGateway(settings) as gw:
        headers = {"Authorization": f"Bearer {TOKEN}"}
        async with httpx.AsyncClient(base_url=gw.url, headers=headers, timeout=10) as client:
            cpo = await provision(
                client,
                "large-network",
                template_params={"locations": 2, "chargers_per_location": 10},
            )
            body = (await client.get(f"/ocpi/cpos/{cpo['cpo_id']}/chargers")).json()
            identities = [ch["identity"] for ch in body["data"]]
            ctx = _context(gw)
            for _round in range(3):

                async def visit(identity: str) -> None:
                    async with ocpp_client(gw.url, identity, "1.6") as cp:
                        await cp.boot()
                        await cp.status(1, "Available")
                        await cp.call("Heartbeat", {})

                await asyncio.gather(*(visit(i) for i in identities))

                async def state() -> tuple[int, int, int]:
                    return (
                        len(ctx.registry.sessions()),
                        ctx.stations.live_chargers,
                        ctx.stations.writer.pending,
                    )

                await wait_until(state, lambda s: s == (0, 0, 0))
            report = (await client.get(f"/ocpi/cpos/{cpo['cpo_id']}/report")).json()
            assert all(evse["online"] is False for evse in report["evses"])
            assert report["messages"]["Heartbeat"] == 3 * len(identities)
            await ctx.pusher.idle()
