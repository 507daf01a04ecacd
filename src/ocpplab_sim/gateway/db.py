"""The :class:`Database` handle: engine, sessions, the write lock and schema migrations.

Every write goes through :meth:`Database.write`, which serialises writers with one asyncio lock
and commits on exit. SQLite allows one writer at a time anyway; serialising in-process keeps
"database is locked" out of the picture and lets a writer re-check state it depends on
(e.g. provisioning checks that the CPO was not deleted meanwhile) without races.

The schema is owned by the Alembic migrations shipped in ``gateway/migrations``:
:meth:`Database.migrate` upgrades any database to the newest revision at start-up. A database
made by the first gateway version (``create_all``, no ``alembic_version`` table) is recognised
and stamped as revision ``0001`` before upgrading. Supported URLs: ``sqlite+aiosqlite://...``
(default) and ``postgresql+asyncpg://...``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib import resources
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, event, inspect
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry, StaticPool

from .models import (
    Base,
    Charger,
    ConnectionEvent,
    Cpo,
    Evse,
    EvseStatusHistory,
    GatewayEvent,
    Location,
    MessageCount,
    MeterSample,
    OcpiCredentials,
    OcpiPush,
    OcppCommand,
    Topology,
    Transaction,
    utc_now,
)

__all__ = [
    "Base",
    "Charger",
    "ConnectionEvent",
    "Cpo",
    "Database",
    "Evse",
    "EvseStatusHistory",
    "GatewayEvent",
    "Location",
    "MessageCount",
    "MeterSample",
    "OcpiCredentials",
    "OcpiPush",
    "OcppCommand",
    "Topology",
    "Transaction",
    "alembic_config",
    "utc_now",
]

# The revision whose schema equals what the first gateway version made with create_all.
_BASELINE = "0001"


def _sqlite_pragmas(dbapi_conn: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    # WAL lets readers proceed during a write; NORMAL sync is still safe against process
    # crashes, and status updates arrive far too often to fsync each one.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic configuration for the packaged migrations; ``connection`` (sync) is the one
    ``env.py`` runs them on."""
    cfg = Config()
    folder = resources.files(__package__).joinpath("migrations")
    cfg.set_main_option("script_location", str(folder))
    cfg.attributes["connection"] = connection
    return cfg


def _upgrade(connection: Connection, revision: str) -> None:
    tables = set(inspect(connection).get_table_names())
    if "cpos" in tables and "alembic_version" not in tables:
        # Made by create_all before migrations existed: that schema is the baseline revision.
        command.stamp(alembic_config(connection), _BASELINE)
    command.upgrade(alembic_config(connection), revision)


def _downgrade(connection: Connection, revision: str) -> None:
    command.downgrade(alembic_config(connection), revision)


class Database:
    """Engine, session factory and write lock of one gateway instance.

    Use :meth:`read` for queries and :meth:`write` for anything that changes rows; call
    :meth:`migrate` once before use and :meth:`dispose` at the end.
    """

    def __init__(self, url: str) -> None:
        self.url = url
        memory = url.startswith("sqlite") and (":memory:" in url or url.rstrip("/").endswith(":"))
        kwargs: dict[str, Any] = {}
        if memory:
            # An in-memory SQLite database lives in one connection: every session must share it.
            kwargs = {"poolclass": StaticPool, "connect_args": {"check_same_thread": False}}
        elif url.startswith("sqlite"):
            # Readers of a WAL database do not block each other or the writer: a connect storm's
            # lookups get a connection each instead of queueing behind five (and timing out).
            kwargs = {"pool_size": 20, "max_overflow": 80, "pool_timeout": 120}
        self._memory = memory
        self.memory = memory
        self.engine = create_async_engine(url, **kwargs)
        if self.engine.dialect.name == "sqlite":
            event.listen(self.engine.sync_engine, "connect", _sqlite_pragmas)
        self._sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        self._write_lock = asyncio.Lock()

    async def migrate(self, revision: str = "head") -> None:
        """Upgrade the schema to ``revision`` (idempotent; ``head`` is the newest)."""
        async with self.engine.begin() as conn:
            await conn.run_sync(_upgrade, revision)

    async def downgrade(self, revision: str = "base") -> None:
        """Downgrade the schema to ``revision`` (``base`` drops every gateway table)."""
        async with self.engine.begin() as conn:
            await conn.run_sync(_downgrade, revision)

    async def create_schema(self) -> None:
        """Kept for callers of the first version: same as :meth:`migrate`."""
        await self.migrate()

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        """A session for queries. Closing it ends its transaction without expiring the loaded
        objects, so they stay readable (detached) after the block; changes are discarded."""
        if self._memory:
            # One shared connection: a reader must not interleave with a writer's transaction.
            async with self._write_lock, self._sessions() as session:
                yield session
        else:
            async with self._sessions() as session:
                yield session

    @asynccontextmanager
    async def write_lock(self) -> AsyncIterator[None]:
        """Hold the write lock (for a writer using a connection of its own)."""
        async with self._write_lock:
            yield

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncSession]:
        """A session in one transaction, committed on normal exit, rolled back on error."""
        async with self._write_lock, self._sessions() as session, session.begin():
            yield session

    async def dispose(self) -> None:
        """Close every pooled connection."""
        await self.engine.dispose()
