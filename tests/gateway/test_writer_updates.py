"""Deferred, merged row updates in a writer batch read and end exactly as if each statement had
run in order — whatever the interleaving of row updates, updates by another key, reads and
inserts (hypothesis)."""

from __future__ import annotations

import asyncio
import os
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Column, Integer, MetaData, String, Table, insert, select
from sqlalchemy.orm import Session

from ocpplab_sim.gateway.db import Database
from ocpplab_sim.gateway.writer import Writer, update_row, update_where

_META = MetaData()
_ROWS = Table(
    "deferred_rows",
    _META,
    Column("pk", Integer, primary_key=True),
    Column("grp", Integer),
    Column("a", String(8)),
    Column("b", String(8)),
    Column("c", Integer),
)
_PKS = range(1, 5)
_COLUMNS = {
    "a": st.sampled_from(["x", "y", "z"]),
    "b": st.sampled_from(["p", "q"]),
    "c": st.integers(0, 9),
}
_VALUES = st.fixed_dictionaries({}, optional=_COLUMNS).filter(bool)
_STEP = st.one_of(
    st.tuples(st.just("row"), st.sampled_from(_PKS), _VALUES),
    st.tuples(st.just("where"), st.sampled_from([0, 1]), _VALUES),
    st.tuples(st.just("read"), st.sampled_from(_PKS), st.just({})),
    st.tuples(st.just("insert"), st.integers(100, 10_000), st.just({})),
)
# the steps of each queued operation: one batch runs them all
_OPS = st.lists(st.lists(_STEP, min_size=1, max_size=6), min_size=1, max_size=8)


def _initial() -> dict[int, dict[str, Any]]:
    return {pk: {"pk": pk, "grp": pk % 2, "a": "", "b": "", "c": 0} for pk in _PKS}


def _model(ops: list[list[tuple[str, int, dict[str, Any]]]]) -> tuple[list[Any], dict[int, Any]]:
    """Every statement run in order: what each read sees and the rows at the end."""
    rows = _initial()
    reads: list[Any] = []
    for steps in ops:
        for kind, key, values in steps:
            if kind == "row":
                rows[key].update(values)
            elif kind == "where":
                for row in rows.values():
                    if row["grp"] == key:
                        row.update(values)
            elif kind == "read":
                reads.append(dict(rows[key]))
            elif key not in rows:
                rows[key] = {"pk": key, "grp": 1, "a": "new", "b": "", "c": 0}
    return reads, rows


def _run(steps: list[tuple[str, int, dict[str, Any]]], reads: list[Any]):  # type: ignore[no-untyped-def]
    def op(session: Session) -> None:
        connection = session.connection()
        for kind, key, values in steps:
            if kind == "row":
                update_row(session, _ROWS, key, values)
            elif kind == "where":
                update_where(session, _ROWS, "grp", key, values)
            elif kind == "read":
                row = connection.execute(select(_ROWS).where(_ROWS.c.pk == key)).one()
                reads.append(dict(row._mapping))
            elif connection.execute(select(_ROWS.c.pk).where(_ROWS.c.pk == key)).first() is None:
                connection.execute(
                    insert(_ROWS), {"pk": key, "grp": 1, "a": "new", "b": "", "c": 0}
                )

    return op


async def _check(url: str, ops: list[list[tuple[str, int, dict[str, Any]]]]) -> None:
    db = Database(url)
    async with db.write() as session:
        await session.run_sync(lambda s: _META.drop_all(s.connection()))
        await session.run_sync(lambda s: _META.create_all(s.connection()))
        await session.run_sync(
            lambda s: s.connection().execute(insert(_ROWS), list(_initial().values()))
        )
    writer = Writer(db)
    reads: list[Any] = []
    try:
        async with db.write_lock():  # queue everything first: one batch takes it all
            writer.start()
            futures = [writer.enqueue(_run(steps, reads)) for steps in ops]
            await asyncio.sleep(0)
        await asyncio.wait_for(asyncio.gather(*futures), 30)
        assert writer.batches == 1
        async with db.read() as session:
            result = await session.execute(select(_ROWS))
            final = {row.pk: dict(row._mapping) for row in result}
    finally:
        await writer.aclose()
        async with db.write() as session:
            await session.run_sync(lambda s: _META.drop_all(s.connection()))
        await db.dispose()
    expected_reads, expected_rows = _model(ops)
    assert reads == expected_reads
    assert final == expected_rows


_POSTGRES = os.environ.get("OCPPLAB_TEST_POSTGRES_URL")


@pytest.mark.parametrize(
    "where",
    [
        "file",
        "memory",
        pytest.param(
            "postgres",
            marks=pytest.mark.skipif(
                not _POSTGRES, reason="set OCPPLAB_TEST_POSTGRES_URL to test PostgreSQL"
            ),
        ),
    ],
)
@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(ops=_OPS)
def test_deferred_updates_equal_statements_in_order(where: str, ops: Any) -> None:
    if where == "memory":
        asyncio.run(_check("sqlite+aiosqlite://", ops))
        return
    if where == "postgres":
        assert _POSTGRES is not None
        asyncio.run(_check(_POSTGRES, ops))
        return
    with tempfile.TemporaryDirectory() as folder:
        asyncio.run(_check(f"sqlite+aiosqlite:///{Path(folder)}/d.db", ops))
