"""What the OCPP central system records: connectivity, statuses, transactions, meter values.

The OCPP handlers in :mod:`.csms` translate messages into calls on :class:`StationStore`; this
module knows the database, not the protocol. Connected chargers' EVSE statuses are kept in
memory and every write goes through the write-behind :class:`~.writer.Writer` (see
:class:`StationStore`). EVSE OCPI status is always derived through the CPO's
:class:`~.mapping.MappingProfile`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, TypeVar

from sqlalchemy import Table, bindparam, delete, func, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from .db import (
    Charger,
    ConnectionEvent,
    Cpo,
    Database,
    Evse,
    EvseStatusHistory,
    GatewayEvent,
    Location,
    MessageCount,
    MeterSample,
    Transaction,
)
from .mapping import PROFILES, MappingProfile
from .writer import (
    Flusher,
    Operation,
    Writer,
    WriterClosed,
    append_row,
    flush_appends,
    update_row,
    update_where,
)

__all__ = [
    "EvseChange",
    "Station",
    "StationLookup",
    "StationStore",
    "energy_register_wh",
    "parse_ocpp_time",
]

Clock = Callable[[], datetime]
T = TypeVar("T")

logger = logging.getLogger(__name__)


# The hot path writes through Core (see :mod:`.writer`), not the ORM's unit of work.
_CHARGERS: Table = Charger.__table__  # type: ignore[assignment]
_EVSES: Table = Evse.__table__  # type: ignore[assignment]
_LOCATIONS: Table = Location.__table__  # type: ignore[assignment]
_HISTORY: Table = EvseStatusHistory.__table__  # type: ignore[assignment]
_CONNECTION_EVENTS: Table = ConnectionEvent.__table__  # type: ignore[assignment]
_CHARGER_HEARTBEAT = _CHARGERS.update().where(_CHARGERS.c.pk == bindparam("where_"))
_CPOS: Table = Cpo.__table__  # type: ignore[assignment]
# Everything a handshake needs about an identity, in one query.
_LOOKUP = (
    select(
        _CHARGERS.c.pk,
        _CHARGERS.c.identity,
        _CHARGERS.c.ocpp_version,
        _CHARGERS.c.password,
        _CPOS.c.id.label("cpo_id"),
        _CPOS.c.status,
        _CPOS.c.mapping_profile,
        _CPOS.c.ocpp_security_profile,
        select(func.count())
        .where(_EVSES.c.charger_pk == _CHARGERS.c.pk)
        .scalar_subquery()
        .label("evse_count"),
    )
    .join_from(_CHARGERS, _CPOS, _CPOS.c.id == _CHARGERS.c.cpo_id)
    .where(_CHARGERS.c.identity == bindparam("identity"))
)
# A charger's EVSEs as _EvseState fields, in their order.
_LIVE_EVSES = select(
    _EVSES.c.pk,
    _EVSES.c.uid,
    _EVSES.c.cpo_id,
    _EVSES.c.location_pk,
    _EVSES.c.ocpp_number,
    _EVSES.c.ocpp_status,
    _EVSES.c.online,
    _EVSES.c.ocpi_status,
).where(_EVSES.c.charger_pk == bindparam("charger_pk"))


def _connection_event(station: Station, kind: str, at: datetime) -> dict[str, Any]:
    return {"cpo_id": station.cpo_id, "station_id": station.identity, "event": kind, "at": at}


@dataclass(frozen=True)
class EvseChange:
    """An EVSE's OCPI status changed (committed): the snapshot a push sends."""

    cpo_id: int
    evse_pk: int
    evse_uid: str
    location_pk: int
    ocpi_status: str
    last_updated: datetime


OnChange = Callable[[list[EvseChange]], None]


@dataclass(frozen=True)
class Station:
    """A charger allowed to connect: what a websocket session needs to know about it."""

    cpo_id: int
    charger_pk: int
    identity: str
    ocpp_version: Literal["1.6", "2.0.1"]
    profile: MappingProfile
    evse_count: int
    security_profile: int = 0
    password: str | None = None

    @property
    def subprotocol(self) -> str:
        return "ocpp" + self.ocpp_version


@dataclass(frozen=True)
class StationLookup:
    """Result of looking up an identity: ``station`` when it may connect, else ``refusal``
    (HTTP status and reason for the denied websocket handshake)."""

    station: Station | None
    refusal: tuple[int, str] | None = None


def energy_register_wh(meter_values: Sequence[dict[str, Any]]) -> float | None:
    """The last Energy.Active.Import.Register reading, in Wh, of snake_cased MeterValues.

    Understands OCPP 1.6 (``value`` string, ``unit`` Wh/kWh) and 2.0.1 (``value`` number,
    ``unit_of_measure`` {unit, multiplier}); a missing measurand means the register (both specs).
    """
    found: float | None = None
    for meter_value in meter_values:
        for sample in meter_value.get("sampled_value", []):
            if sample.get("measurand", "Energy.Active.Import.Register") != (
                "Energy.Active.Import.Register"
            ):
                continue
            if sample.get("phase") is not None:
                continue
            try:
                value = float(sample["value"])
            except (KeyError, TypeError, ValueError):
                continue
            uom = sample.get("unit_of_measure") or {}
            unit = sample.get("unit") or uom.get("unit") or "Wh"
            value *= 10.0 ** int(uom.get("multiplier", 0))
            if unit == "kWh":
                value *= 1000.0
            elif unit != "Wh":
                continue
            found = value
    return found


@dataclass
class _EvseState:
    """The live copy of one EVSE's status fields (authoritative while its charger is live)."""

    pk: int
    uid: str
    cpo_id: int
    location_pk: int
    number: int
    ocpp_status: str | None
    online: bool
    ocpi_status: str


@dataclass(frozen=True)
class _StatusWrite:
    """What one recomputation writes, captured when it happened (the live state moves on)."""

    evse_pk: int
    cpo_id: int
    location_pk: int
    ocpp_status: str | None
    ocpi_status: str
    change: EvseChange | None

    @classmethod
    def of(
        cls, evse: _EvseState, ocpp_status: str | None, change: EvseChange | None
    ) -> _StatusWrite:
        return cls(evse.pk, evse.cpo_id, evse.location_pk, ocpp_status, evse.ocpi_status, change)


@dataclass
class _Live:
    """A charger with an open socket or writes still queued: its EVSEs by OCPP number."""

    charger_pk: int
    evses: dict[int, _EvseState]
    sockets: int = 0
    pending: int = 0
    online: bool = False


_COUNTS: Table = MessageCount.__table__  # type: ignore[assignment]
_EXISTING_CPOS = select(_CPOS.c.id).where(_CPOS.c.id.in_(bindparam("ids", expanding=True)))
_COUNT_UPSERTS: dict[str, Any] = {}


def _count_upsert(dialect: str) -> Any:
    """``INSERT … ON CONFLICT (cpo_id, action) DO UPDATE SET count = count + excluded.count``
    (SQLite and PostgreSQL, the gateway's two databases), built once per dialect."""
    stmt = _COUNT_UPSERTS.get(dialect)
    if stmt is None:
        insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
        new = insert(_COUNTS)
        stmt = _COUNT_UPSERTS[dialect] = new.on_conflict_do_update(
            index_elements=[_COUNTS.c.cpo_id, _COUNTS.c.action],
            set_={"count": _COUNTS.c.count + new.excluded["count"]},
        )
    return stmt


class _Counters(Flusher):
    """Message counts and last-heartbeat times, kept in memory and written behind with the
    next batch (at least every ``flush_interval`` seconds)."""

    def __init__(self) -> None:
        self.counts: dict[tuple[int, str], int] = {}
        self.heartbeats: dict[int, datetime] = {}

    def dirty(self) -> bool:
        return bool(self.counts or self.heartbeats)

    def take(self) -> tuple[dict[tuple[int, str], int], dict[int, datetime]]:
        state = self.counts, self.heartbeats
        self.counts, self.heartbeats = {}, {}
        return state

    def give_back(self, state: tuple[dict[tuple[int, str], int], dict[int, datetime]]) -> None:
        counts, heartbeats = state
        for key, n in counts.items():
            self.counts[key] = self.counts.get(key, 0) + n
        for pk, at in heartbeats.items():
            self.heartbeats.setdefault(pk, at)

    def write(
        self, session: Session, state: tuple[dict[tuple[int, str], int], dict[int, datetime]]
    ) -> None:
        counts, heartbeats = state
        if counts:
            connection = session.connection()
            ids = list({cpo_id for cpo_id, _ in counts})
            cpos = set(connection.scalars(_EXISTING_CPOS, {"ids": ids}))
            rows = [
                {"cpo_id": cpo_id, "action": action, "count": n}
                for (cpo_id, action), n in counts.items()
                if cpo_id in cpos
            ]
            if rows:
                connection.execute(_count_upsert(connection.dialect.name), rows)
        if heartbeats:
            session.connection().execute(
                _CHARGER_HEARTBEAT,
                [{"where_": pk, "last_heartbeat_at": at} for pk, at in heartbeats.items()],
            )


class StationStore:
    """Database side of the central system. ``clock`` returns aware UTC datetimes.

    The EVSE statuses of connected chargers live in memory (``_live``) and every change is
    written behind through the :class:`~.writer.Writer`: writes a charger gets an answer for
    (status, boot, transactions, meter values, events) are awaited until their group commit;
    connects, closes and silence are queued without waiting; message counts and heartbeat
    times are counters written with the next batch. A charger's live entry goes away once its
    last socket closed and its last queued write committed.
    """

    def __init__(
        self,
        db: Database,
        clock: Clock,
        on_change: OnChange | None = None,
        writer: Writer | None = None,
        *,
        max_unknown_identity_events: int = 1000,
        max_events_per_cpo: int = 10_000,
    ) -> None:
        self._db = db
        self._clock = clock
        self._on_change = on_change
        self.writer = writer if writer is not None else Writer(db)
        self._counters = _Counters()
        self.writer.add_flusher(self._counters)
        self._live: dict[int, _Live] = {}
        #: CALLs received by action since start-up (``/metrics``)
        self.totals: dict[str, int] = {}
        self._event_limits = (max_unknown_identity_events, max_events_per_cpo)
        # Events stored per CPO (None: no CPO), counted from the first event of each (touched
        # only by the writer's operations, one at a time).
        self._event_counts: dict[int | None, int] = {}

    @property
    def live_chargers(self) -> int:
        """Chargers with in-memory state (open sockets or writes still queued)."""
        return len(self._live)

    async def sync(self) -> None:
        """Wait until every queued write and pending counter is committed."""
        await self.writer.sync()

    async def _submit(self, op: Operation[T]) -> T:
        return await self.writer.submit(op)

    def _queue(
        self, live: _Live | None, op: Operation[Any], changes: list[EvseChange] | None = None
    ) -> asyncio.Future[Any]:
        """Queue ``op`` for ``live``'s charger (call after :meth:`Writer.reserve`); its
        changes are announced after the commit, in commit order."""

        def after(_result: object) -> None:
            if changes and self._on_change is not None:
                self._on_change(changes)

        future = self.writer.enqueue(op, after)
        if live is not None:
            live.pending += 1
            future.add_done_callback(lambda f: self._settled(live, f))
        else:
            future.add_done_callback(_log_failure)
        return future

    def _settled(self, live: _Live, future: asyncio.Future[Any]) -> None:
        _log_failure(future)
        live.pending -= 1
        self._maybe_forget(live)

    def _maybe_forget(self, live: _Live) -> None:
        if live.sockets > 0 or live.pending > 0:
            return
        # O(1): with thousands of chargers closing at once, a scan per close was quadratic.
        if self._live.get(live.charger_pk) is live:
            del self._live[live.charger_pk]

    async def event(self, station: Station | None, kind: str, detail: str, **where: str) -> None:
        """Record a gateway event (refused handshake, invalid frame, silence) for a station,
        or for an unknown identity (``station`` None, ``where['identity']``). Once more than a
        tenth above its limit, the events of a CPO (or of no CPO) are cut back to the newest
        ``max_events_per_cpo`` (``max_unknown_identity_events``)."""
        cpo_id = None if station is None else station.cpo_id
        row = GatewayEvent(
            cpo_id=cpo_id,
            station_id=station.identity if station is not None else where.get("identity"),
            kind=kind,
            detail=detail[:500],
            at=self._clock(),
        )

        def op(session: Session) -> None:
            session.add(row)
            self._trim_events(session, cpo_id)

        await self._submit(op)

    def _trim_events(self, session: Session, cpo_id: int | None) -> None:
        limit = self._event_limits[0 if cpo_id is None else 1]
        same = GatewayEvent.cpo_id.is_(None) if cpo_id is None else GatewayEvent.cpo_id == cpo_id
        count = self._event_counts.get(cpo_id)
        if count is None:
            session.flush()
            count = session.scalar(select(func.count()).select_from(GatewayEvent).where(same)) or 0
        else:
            count += 1
        if count > limit + limit // 10:
            session.flush()
            newest_dropped = session.scalar(
                select(GatewayEvent.pk)
                .where(same)
                .order_by(GatewayEvent.pk.desc())
                .offset(limit)
                .limit(1)
            )
            if newest_dropped is not None:
                session.execute(delete(GatewayEvent).where(same, GatewayEvent.pk <= newest_dropped))
            count = limit
        self._event_counts[cpo_id] = count

    async def lookup(self, identity: str) -> StationLookup:
        """Decide whether ``identity`` may open a websocket now (one Core query)."""
        async with self._db.read() as session:
            row = (await session.execute(_LOOKUP, {"identity": identity})).one_or_none()
        if row is None:
            return StationLookup(None, (404, f"unknown charge point identity {identity!r}"))
        if row.status != "ready":
            return StationLookup(None, (403, f"CPO {row.cpo_id} is {row.status}"))
        version: Literal["1.6", "2.0.1"] = "1.6" if row.ocpp_version == "1.6" else "2.0.1"
        return StationLookup(
            Station(
                cpo_id=row.cpo_id,
                charger_pk=row.pk,
                identity=row.identity,
                ocpp_version=version,
                profile=PROFILES[row.mapping_profile],
                evse_count=row.evse_count,
                security_profile=row.ocpp_security_profile,
                password=row.password,
            ),
        )

    async def reset_connectivity(self) -> None:
        """Mark every charger and EVSE offline: nothing is connected when the gateway starts
        (runs before the writer starts serving chargers)."""
        now = self._clock()
        changes: list[EvseChange] = []
        async with self._db.write() as session:
            chargers = await session.scalars(select(Charger.pk).where(Charger.online.is_(True)))
            for charger_pk in list(chargers):
                charger = await session.get_one(Charger, charger_pk)
                cpo = await session.get_one(Cpo, charger.cpo_id)
                live = await self._load(session, charger_pk)
                writes = self._offline(live, PROFILES[cpo.mapping_profile], now)
                await session.run_sync(_write_offline, charger_pk, writes, now)
                await session.run_sync(flush_appends)
                changes += [w.change for w in writes if w.change is not None]
        if changes and self._on_change is not None:
            self._on_change(changes)

    @staticmethod
    async def _load(session: AsyncSession, charger_pk: int) -> _Live:
        rows = await session.execute(_LIVE_EVSES, {"charger_pk": charger_pk})
        return _Live(charger_pk, {row.ocpp_number: _EvseState(*row) for row in rows})

    async def _live_for(self, station: Station) -> _Live:
        live = self._live.get(station.charger_pk)
        if live is None:
            async with self._db.read() as session:
                loaded = await self._load(session, station.charger_pk)
            # Another socket of the same charger may have loaded it meanwhile.
            live = self._live.setdefault(station.charger_pk, loaded)
        return live

    async def connected(self, station: Station) -> None:
        """A socket opened: the charger's EVSE state comes into memory; the connect is
        written behind (not awaited)."""
        live = await self._live_for(station)
        live.sockets += 1
        live.online = True
        now = self._clock()
        pk = station.charger_pk
        event = _connection_event(station, "connected", now)

        def op(session: Session) -> None:
            update_row(session, _CHARGERS, pk, {"online": True, "connected_at": now})
            append_row(session, _CONNECTION_EVENTS, event)

        await self.writer.reserve()
        self._queue(live, op)

    async def disconnected(self, station: Station, *, still_current: bool) -> None:
        """Record the close; if no newer socket replaced this one, its EVSEs go offline. The
        write is queued, not awaited; the live state goes once it is committed."""
        now = self._clock()
        live = self._live.get(station.charger_pk)
        try:
            await self.writer.reserve()
        except WriterClosed:
            if live is not None:
                live.sockets -= 1
                self._maybe_forget(live)
            raise
        event = _connection_event(station, "disconnected", now)
        pk = station.charger_pk
        writes: list[_StatusWrite] = []
        if still_current and live is not None:
            writes = self._offline(live, station.profile, now)

        def op(session: Session) -> None:
            append_row(session, _CONNECTION_EVENTS, event)
            if still_current:
                _write_offline(session, pk, writes, now)

        self._queue(live, op, [w.change for w in writes if w.change is not None])
        if live is not None:
            live.sockets -= 1
            self._maybe_forget(live)

    def _offline(self, live: _Live, profile: MappingProfile, now: datetime) -> list[_StatusWrite]:
        writes = []
        live.online = False
        for evse in live.evses.values():
            evse.online = False
            writes.append(_StatusWrite.of(evse, None, self._recompute(evse, profile, now)))
        return writes

    def _recompute(
        self, evse: _EvseState, profile: MappingProfile, now: datetime
    ) -> EvseChange | None:
        """Recompute the EVSE's OCPI status in memory; the change, if it changed."""
        status = profile.ocpi_status(
            evse.ocpp_status,
            online=evse.online,
            previous=evse.ocpi_status,  # type: ignore[arg-type]
        )
        if status == evse.ocpi_status:
            return None
        evse.ocpi_status = status
        return EvseChange(evse.cpo_id, evse.pk, evse.uid, evse.location_pk, status, now)

    async def count(self, station: Station, action: str) -> None:
        """Count one incoming CALL of ``action`` (a counter, written behind)."""
        key = (station.cpo_id, action)
        counts = self._counters.counts
        counts[key] = counts.get(key, 0) + 1
        self.totals[action] = self.totals.get(action, 0) + 1

    async def booted(self, station: Station, firmware_version: str | None) -> None:
        pk, now = station.charger_pk, self._clock()

        def op(session: Session) -> None:
            values = {"last_boot_at": now, "firmware_version": firmware_version}
            update_row(session, _CHARGERS, pk, values)

        await self.writer.reserve()
        await self._queue(self._live.get(pk), op)

    async def silent(self, station: Station, limit: float) -> None:
        """The charger sent nothing for ``limit`` seconds: its EVSEs go offline (the socket
        stays open; each EVSE comes back with its next StatusNotification). Queued."""
        now = self._clock()
        await self.writer.reserve()
        live = self._live.get(station.charger_pk)
        writes = [] if live is None else self._offline(live, station.profile, now)
        event = GatewayEvent(
            cpo_id=station.cpo_id,
            station_id=station.identity,
            kind="silent",
            detail=f"no message for {limit:g} s: EVSEs offline",
            at=now,
        )
        pk = station.charger_pk

        def op(session: Session) -> None:
            session.add(event)
            _write_offline(session, pk, writes, now)

        self._queue(live, op, [w.change for w in writes if w.change is not None])

    async def revived(self, station: Station) -> None:
        """A silent charger spoke again: it is online (its EVSEs wait for StatusNotification)."""
        pk = station.charger_pk

        def op(session: Session) -> None:
            update_row(session, _CHARGERS, pk, {"online": True})

        await self.writer.reserve()
        live = self._live.get(pk)
        if live is not None:
            live.online = True
        self._queue(live, op)

    def now(self) -> datetime:
        """The store's clock."""
        return self._clock()

    async def heartbeat(self, station: Station) -> None:
        """Note the heartbeat time (a counter, written behind; liveness itself is tracked by
        the session's ``last_seen``)."""
        self._counters.heartbeats[station.charger_pk] = self._clock()

    async def status(self, station: Station, number: int, ocpp_status: str) -> bool:
        """Set the OCPP status of EVSE ``number`` (1-based); number 0 is the station itself.
        Returns once committed; False when the charger has no such EVSE (ignored)."""
        now = self._clock()
        pk = station.charger_pk
        await self.writer.reserve()
        live = self._live.get(pk)
        evse = None if live is None or number == 0 else live.evses.get(number)
        change = None
        if evse is not None:
            evse.ocpp_status, evse.online = ocpp_status, True
            change = self._recompute(evse, station.profile, now)
        write = None if evse is None else _StatusWrite.of(evse, ocpp_status, change)
        # The charger row says online already unless this ends a silence (or it is number 0).
        charger_row = number == 0 or live is None or not live.online
        if live is not None:
            live.online = True

        def op(session: Session) -> None:
            if charger_row:
                values: dict[str, Any] = {"online": True}
                if number == 0:
                    values["station_status"] = ocpp_status
                update_row(session, _CHARGERS, pk, values)
            if write is not None:
                values = {"ocpp_status": ocpp_status, "ocpp_status_at": now, "online": True}
                if write.change is not None:
                    values.update(ocpi_status=write.ocpi_status, last_updated=now)
                update_row(session, _EVSES, write.evse_pk, values)
                _write_statuses(session, [write], now, evse_row=False)

        await self._queue(live, op, [] if change is None else [change])
        return number == 0 or evse is not None

    async def start_transaction_16(
        self,
        station: Station,
        number: int,
        id_tag: str,
        meter_start_wh: float,
        started_at: datetime | None,
    ) -> int:
        """Persist an OCPP 1.6 StartTransaction and return the transactionId assigned to it."""
        started = started_at or self._clock()

        def op(session: Session) -> int:
            tx = Transaction(
                cpo_id=station.cpo_id,
                charger_pk=station.charger_pk,
                station_id=station.identity,
                ocpp_number=number,
                id_token=id_tag,
                meter_start_wh=meter_start_wh,
                last_meter_wh=meter_start_wh,
                started_at=started,
            )
            session.add(tx)
            session.flush()
            tx.transaction_id = str(tx.pk)
            return tx.pk

        await self.writer.reserve()
        result: int = await self._queue(self._live.get(station.charger_pk), op)
        return result

    async def stop_transaction_16(
        self,
        station: Station,
        transaction_id: int,
        meter_stop_wh: float,
        stopped_at: datetime | None,
        reason: str | None,
        transaction_data: Sequence[dict[str, Any]],
    ) -> bool:
        """Close a 1.6 transaction; False if the station has no such transaction."""
        stopped = stopped_at or self._clock()

        def op(session: Session) -> bool:
            tx = session.scalar(
                select(Transaction).where(
                    Transaction.charger_pk == station.charger_pk,
                    Transaction.transaction_id == str(transaction_id),
                )
            )
            if tx is None:
                return False
            tx.meter_stop_wh = tx.last_meter_wh = meter_stop_wh
            tx.stopped_at = stopped
            tx.stop_reason = reason or "Local"
            for meter_value in transaction_data:
                session.add(self._sample(station, tx.ocpp_number, tx.pk, meter_value))
            return True

        await self.writer.reserve()
        result: bool = await self._queue(self._live.get(station.charger_pk), op)
        return result

    async def transaction_event(
        self,
        station: Station,
        event_type: str,
        transaction_id: str,
        number: int | None,
        id_token: str | None,
        at: datetime | None,
        stopped_reason: str | None,
        meter_values: Sequence[dict[str, Any]],
    ) -> None:
        """Apply an OCPP 2.0.1 TransactionEvent (E01-E07): create on the first event seen for
        the id (whatever its type), record meter values, close on ``Ended``."""
        energy = energy_register_wh(meter_values)
        ended_at = at or self._clock()

        def op(session: Session) -> None:
            tx = session.scalar(
                select(Transaction).where(
                    Transaction.charger_pk == station.charger_pk,
                    Transaction.transaction_id == transaction_id,
                )
            )
            if tx is None:
                tx = Transaction(
                    cpo_id=station.cpo_id,
                    charger_pk=station.charger_pk,
                    station_id=station.identity,
                    ocpp_number=number,
                    transaction_id=transaction_id,
                    meter_start_wh=energy,
                    started_at=at if event_type == "Started" else None,
                )
                session.add(tx)
                session.flush()
            if number is not None and tx.ocpp_number is None:
                tx.ocpp_number = number
            if id_token is not None and tx.id_token is None:
                tx.id_token = id_token
            if energy is not None:
                tx.last_meter_wh = energy
                if tx.meter_start_wh is None:
                    tx.meter_start_wh = energy
            if event_type == "Ended":
                tx.stopped_at = ended_at
                tx.stop_reason = stopped_reason or "Local"
                tx.meter_stop_wh = tx.last_meter_wh
            for meter_value in meter_values:
                session.add(self._sample(station, tx.ocpp_number, tx.pk, meter_value))

        await self.writer.reserve()
        await self._queue(self._live.get(station.charger_pk), op)

    async def meter_values(
        self,
        station: Station,
        number: int | None,
        transaction_id: str | None,
        meter_values: Sequence[dict[str, Any]],
    ) -> None:
        """Store standalone MeterValues; a known transaction's latest register is updated."""
        energy = energy_register_wh(meter_values)

        def op(session: Session) -> None:
            tx = None
            if transaction_id is not None:
                tx = session.scalar(
                    select(Transaction).where(
                        Transaction.charger_pk == station.charger_pk,
                        Transaction.transaction_id == transaction_id,
                    )
                )
            if tx is not None and energy is not None:
                tx.last_meter_wh = energy
            for meter_value in meter_values:
                session.add(
                    self._sample(station, number, None if tx is None else tx.pk, meter_value)
                )

        await self.writer.reserve()
        await self._queue(self._live.get(station.charger_pk), op)

    def _sample(
        self, station: Station, number: int | None, tx_pk: int | None, meter_value: dict[str, Any]
    ) -> MeterSample:
        return MeterSample(
            cpo_id=station.cpo_id,
            charger_pk=station.charger_pk,
            ocpp_number=number,
            transaction_pk=tx_pk,
            at=parse_ocpp_time(meter_value.get("timestamp")),
            sampled_values=list(meter_value.get("sampled_value", [])),
        )


def _write_statuses(
    session: Session, writes: list[_StatusWrite], now: datetime, *, evse_row: bool = True
) -> None:
    """History rows for every recomputed EVSE; ``ocpi_status``/``last_updated`` (and the
    location's ``last_updated``) for those whose OCPI status changed."""
    for write in writes:
        append_row(
            session,
            _HISTORY,
            {
                "cpo_id": write.cpo_id,
                "evse_pk": write.evse_pk,
                "at": now,
                "ocpp_status": write.ocpp_status,
                "ocpi_status": write.ocpi_status,
            },
        )
        if write.change is not None:
            if evse_row:
                values = {"ocpi_status": write.ocpi_status, "last_updated": now}
                update_row(session, _EVSES, write.evse_pk, values)
            update_row(session, _LOCATIONS, write.location_pk, {"last_updated": now})


def _write_offline(
    session: Session,
    charger_pk: int,
    writes: list[_StatusWrite],
    now: datetime,
) -> None:
    update_row(session, _CHARGERS, charger_pk, {"online": False})
    update_where(session, _EVSES, "charger_pk", charger_pk, {"online": False})
    _write_statuses(session, writes, now)


def _log_failure(future: asyncio.Future[Any]) -> None:
    if not future.cancelled() and future.exception() is not None:
        logger.error("queued write failed: %r", future.exception())


def parse_ocpp_time(value: object) -> datetime | None:
    """Parse an OCPP dateTime; None when absent or unparseable (stored, not rejected)."""
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        return None
    return parsed
