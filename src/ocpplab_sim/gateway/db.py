"""Persistence: SQLAlchemy 2 async ORM models and the :class:`Database` handle.

Every write goes through :meth:`Database.write`, which serialises writers with one asyncio lock
and commits on exit. SQLite allows one writer at a time anyway; serialising in-process keeps
"database is locked" out of the picture and lets a writer re-check state it depends on
(e.g. provisioning checks that the CPO was not deleted meanwhile) without races.

Timestamps are stored as naive UTC and come back timezone-aware (:class:`UtcDateTime`).
The schema is created with ``create_all`` at start; there are no migrations yet.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Integer,
    String,
    TypeDecorator,
    UniqueConstraint,
    event,
)
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.pool import ConnectionPoolEntry, StaticPool

__all__ = [
    "Base",
    "Charger",
    "ConnectionEvent",
    "Cpo",
    "Database",
    "Evse",
    "EvseStatusHistory",
    "Location",
    "MessageCount",
    "MeterSample",
    "OcpiCredentials",
    "Topology",
    "Transaction",
    "utc_now",
]


def utc_now() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


class UtcDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in Python, naive UTC in the database (SQLite has no time zones)."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; the gateway stores aware UTC datetimes only")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UtcDateTime, dict[str, Any]: JSON, list[Any]: JSON}


class Cpo(Base):
    """One provisioned network (``partner_operations`` in the seeds). ``status`` is the
    provisioning state: pending → provisioning → ready | failed; any → deleted."""

    __tablename__ = "cpos"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    country_code: Mapped[str] = mapped_column(String(2))
    party_id: Mapped[str] = mapped_column(String(3))
    name_prefix: Mapped[str] = mapped_column(String(16))
    template: Mapped[str] = mapped_column(String(64))
    template_version: Mapped[int]
    mapping_profile: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), index=True)
    error: Mapped[str | None]
    idempotency_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    ttl_seconds: Mapped[int | None]
    n_locations: Mapped[int]
    n_chargers: Mapped[int]
    n_evses: Mapped[int]
    n_connectors: Mapped[int]
    expires_at: Mapped[datetime | None] = mapped_column(index=True)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    deleted_at: Mapped[datetime | None]


class OcpiCredentials(Base):
    """The OCPI credentials state of one CPO (credentials module, OCPI 2.2.1 §7).

    ``token_a`` is usable until registration; ``token_c`` is what the eMSP uses afterwards;
    ``peer_token_b`` is what the CPO would use towards the eMSP."""

    __tablename__ = "ocpi_credentials"

    cpo_id: Mapped[int] = mapped_column(ForeignKey("cpos.id"), primary_key=True)
    token_a: Mapped[str | None] = mapped_column(String(64))
    token_c: Mapped[str | None] = mapped_column(String(64))
    peer_token_b: Mapped[str | None] = mapped_column(String(64))
    peer_url: Mapped[str | None]
    peer_roles: Mapped[list[Any] | None]
    registered_at: Mapped[datetime | None]
    peer_check_ok: Mapped[bool | None]
    peer_check_at: Mapped[datetime | None]
    peer_check_detail: Mapped[str | None]
    revoked_at: Mapped[datetime | None]


class Location(Base):
    """An OCPI Location. ``ocpi_id`` is the OCPI ``id``; ``last_updated`` follows OCPI
    semantics (bumped when one of its EVSEs changes) while ``updated_at`` is the row's own."""

    __tablename__ = "locations"

    pk: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    ocpi_id: Mapped[str] = mapped_column(String(36), unique=True)
    cpo_id: Mapped[int] = mapped_column(ForeignKey("cpos.id"), index=True)
    position: Mapped[int]
    key: Mapped[str] = mapped_column(String(4))
    slug: Mapped[str]
    name: Mapped[str]
    address: Mapped[str]
    city: Mapped[str]
    postal_code: Mapped[str | None]
    country: Mapped[str] = mapped_column(String(3))
    latitude: Mapped[float] = mapped_column(Float)
    longitude: Mapped[float] = mapped_column(Float)
    time_zone: Mapped[str]
    owner_name: Mapped[str]
    publish: Mapped[bool]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    last_updated: Mapped[datetime] = mapped_column(index=True)


class Charger(Base):
    """An OCPP charging station; ``identity`` is the last path segment of its websocket URL."""

    __tablename__ = "chargers"

    pk: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    cpo_id: Mapped[int] = mapped_column(ForeignKey("cpos.id"), index=True)
    location_pk: Mapped[int] = mapped_column(ForeignKey("locations.pk"), index=True)
    position: Mapped[int]
    identity: Mapped[str] = mapped_column(String(64), unique=True)
    ocpp_version: Mapped[str] = mapped_column(String(8))
    connector_type: Mapped[str]
    vendor: Mapped[str]
    model: Mapped[str]
    online: Mapped[bool] = mapped_column(default=False)
    station_status: Mapped[str | None]
    firmware_version: Mapped[str | None]
    connected_at: Mapped[datetime | None]
    last_boot_at: Mapped[datetime | None]
    last_heartbeat_at: Mapped[datetime | None]


class Evse(Base):
    """An OCPI EVSE with its single connector, bound 1:1 to (charger, OCPP number).

    ``ocpi_status`` is cached from :mod:`.mapping` whenever ``ocpp_status`` or ``online``
    changes; ``last_updated`` moves only when ``ocpi_status`` does."""

    __tablename__ = "evses"

    pk: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    uid: Mapped[str] = mapped_column(String(36), unique=True)
    cpo_id: Mapped[int] = mapped_column(ForeignKey("cpos.id"), index=True)
    location_pk: Mapped[int] = mapped_column(ForeignKey("locations.pk"), index=True)
    charger_pk: Mapped[int] = mapped_column(ForeignKey("chargers.pk"), index=True)
    ocpp_number: Mapped[int]
    evse_id: Mapped[str] = mapped_column(String(48))
    ocpp_status: Mapped[str | None]
    ocpp_status_at: Mapped[datetime | None]
    online: Mapped[bool] = mapped_column(default=False)
    ocpi_status: Mapped[str] = mapped_column(String(16))
    last_updated: Mapped[datetime]
    standard: Mapped[str]
    format: Mapped[str]
    power_type: Mapped[str]
    max_voltage: Mapped[int]
    max_amperage: Mapped[int]
    max_electric_power: Mapped[int]
    connector_last_updated: Mapped[datetime]

    __table_args__ = (UniqueConstraint("charger_pk", "ocpp_number"),)


class Topology(Base):
    """Routing rows: one per EVSE (station + OCPP number), plus one location-scoped default."""

    __tablename__ = "topologies"

    pk: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    cpo_id: Mapped[int] = mapped_column(ForeignKey("cpos.id"), index=True)
    location_pk: Mapped[int] = mapped_column(ForeignKey("locations.pk"))
    charger_pk: Mapped[int] = mapped_column(ForeignKey("chargers.pk"))
    station_id: Mapped[str]
    evse_uid: Mapped[str | None] = mapped_column(String(36), unique=True)
    ocpp_number: Mapped[int | None]
    is_default_for_location: Mapped[bool]


class EvseStatusHistory(Base):
    """Every OCPP status report and connectivity change of an EVSE, in arrival order."""

    __tablename__ = "evse_status_history"

    pk: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    cpo_id: Mapped[int] = mapped_column(ForeignKey("cpos.id"), index=True)
    evse_pk: Mapped[int] = mapped_column(ForeignKey("evses.pk"), index=True)
    at: Mapped[datetime]
    ocpp_status: Mapped[str | None]
    ocpi_status: Mapped[str] = mapped_column(String(16))


class MessageCount(Base):
    """Incoming OCPP CALLs per action and CPO."""

    __tablename__ = "ocpp_message_counts"

    cpo_id: Mapped[int] = mapped_column(ForeignKey("cpos.id"), primary_key=True)
    action: Mapped[str] = mapped_column(String(64), primary_key=True)
    count: Mapped[int]


class ConnectionEvent(Base):
    """A websocket of a charger opened (``connected``) or closed (``disconnected``)."""

    __tablename__ = "ocpp_connection_events"

    pk: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    cpo_id: Mapped[int] = mapped_column(ForeignKey("cpos.id"), index=True)
    station_id: Mapped[str]
    event: Mapped[str] = mapped_column(String(16))
    at: Mapped[datetime]


class Transaction(Base):
    """A charging transaction. For OCPP 1.6 ``pk`` is the transactionId the gateway assigned
    (``transaction_id`` is its decimal string); for 2.0.1 ``transaction_id`` is the station's."""

    __tablename__ = "ocpp_transactions"

    pk: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    cpo_id: Mapped[int] = mapped_column(ForeignKey("cpos.id"), index=True)
    charger_pk: Mapped[int] = mapped_column(ForeignKey("chargers.pk"))
    station_id: Mapped[str]
    ocpp_number: Mapped[int | None]
    transaction_id: Mapped[str | None] = mapped_column(String(36))
    id_token: Mapped[str | None]
    meter_start_wh: Mapped[float | None]
    meter_stop_wh: Mapped[float | None]
    last_meter_wh: Mapped[float | None]
    started_at: Mapped[datetime | None]
    stopped_at: Mapped[datetime | None]
    stop_reason: Mapped[str | None]

    __table_args__ = (UniqueConstraint("charger_pk", "transaction_id"),)


class MeterSample(Base):
    """One OCPP MeterValue (timestamp + sampledValue list) as received."""

    __tablename__ = "ocpp_meter_values"

    pk: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    cpo_id: Mapped[int] = mapped_column(ForeignKey("cpos.id"), index=True)
    charger_pk: Mapped[int] = mapped_column(ForeignKey("chargers.pk"))
    ocpp_number: Mapped[int | None]
    transaction_pk: Mapped[int | None] = mapped_column(ForeignKey("ocpp_transactions.pk"))
    at: Mapped[datetime | None]
    sampled_values: Mapped[list[Any]]


def _sqlite_pragmas(dbapi_conn: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    # WAL lets readers proceed during a write; NORMAL sync is still safe against process
    # crashes, and status updates arrive far too often to fsync each one.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


class Database:
    """Engine, session factory and write lock of one gateway instance.

    Use :meth:`read` for queries and :meth:`write` for anything that changes rows; call
    :meth:`create_schema` once before use and :meth:`dispose` at the end.
    """

    def __init__(self, url: str) -> None:
        self.url = url
        memory = url.startswith("sqlite") and (":memory:" in url or url.rstrip("/").endswith(":"))
        kwargs: dict[str, Any] = {}
        if memory:
            # An in-memory SQLite database lives in one connection: every session must share it.
            kwargs = {"poolclass": StaticPool, "connect_args": {"check_same_thread": False}}
        self._memory = memory
        self.engine = create_async_engine(url, **kwargs)
        if self.engine.dialect.name == "sqlite":
            event.listen(self.engine.sync_engine, "connect", _sqlite_pragmas)
        self._sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        self._write_lock = asyncio.Lock()

    async def create_schema(self) -> None:
        """Create missing tables (idempotent)."""
        async with self.engine.begin() as conn:
            await conn.run_sync(Base.metadata.create_all)

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
    async def write(self) -> AsyncIterator[AsyncSession]:
        """A session in one transaction, committed on normal exit, rolled back on error."""
        async with self._write_lock, self._sessions() as session, session.begin():
            yield session

    async def dispose(self) -> None:
        """Close every pooled connection."""
        await self.engine.dispose()
