"""What the OCPP central system records: connectivity, statuses, transactions, meter values.

The OCPP handlers in :mod:`.csms` translate messages into calls on :class:`StationStore`; this
module knows the database, not the protocol. Every method is one write transaction. EVSE OCPI
status is always derived through the CPO's :class:`~.mapping.MappingProfile`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

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

__all__ = [
    "EvseChange",
    "Station",
    "StationLookup",
    "StationStore",
    "energy_register_wh",
    "parse_ocpp_time",
]

Clock = Callable[[], datetime]


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


class StationStore:
    """Database side of the central system. ``clock`` returns aware UTC datetimes."""

    def __init__(
        self,
        db: Database,
        clock: Clock,
        on_change: OnChange | None = None,
        *,
        max_unknown_identity_events: int = 1000,
        max_events_per_cpo: int = 10_000,
    ) -> None:
        self._db = db
        self._clock = clock
        self._on_change = on_change
        self._event_limits = (max_unknown_identity_events, max_events_per_cpo)
        # Events stored per CPO (None: no CPO), counted from the first event of each.
        self._event_counts: dict[int | None, int] = {}
        # EVSEs whose OCPI status changed in the write transaction being built; handed to
        # ``on_change`` only after that transaction committed (commit order = call order, since
        # nothing awaits between the commit and the call).
        self._changes: list[EvseChange] = []

    @asynccontextmanager
    async def _write(self) -> AsyncIterator[AsyncSession]:
        async with self._db.write() as session:
            self._changes = []
            yield session
            changed, self._changes = self._changes, []
        if changed and self._on_change is not None:
            self._on_change(changed)

    async def event(self, station: Station | None, kind: str, detail: str, **where: str) -> None:
        """Record a gateway event (refused handshake, invalid frame, silence) for a station,
        or for an unknown identity (``station`` None, ``where['identity']``). Once more than a
        tenth above its limit, the events of a CPO (or of no CPO) are cut back to the newest
        ``max_events_per_cpo`` (``max_unknown_identity_events``)."""
        cpo_id = None if station is None else station.cpo_id
        async with self._write() as session:
            session.add(
                GatewayEvent(
                    cpo_id=cpo_id,
                    station_id=station.identity if station is not None else where.get("identity"),
                    kind=kind,
                    detail=detail[:500],
                    at=self._clock(),
                )
            )
            await self._trim_events(session, cpo_id)

    async def _trim_events(self, session: AsyncSession, cpo_id: int | None) -> None:
        limit = self._event_limits[0 if cpo_id is None else 1]
        same = GatewayEvent.cpo_id.is_(None) if cpo_id is None else GatewayEvent.cpo_id == cpo_id
        count = self._event_counts.get(cpo_id)
        if count is None:
            await session.flush()
            count = (
                await session.scalar(select(func.count()).select_from(GatewayEvent).where(same))
                or 0
            )
        else:
            count += 1
        if count > limit + limit // 10:
            await session.flush()
            newest_dropped = await session.scalar(
                select(GatewayEvent.pk)
                .where(same)
                .order_by(GatewayEvent.pk.desc())
                .offset(limit)
                .limit(1)
            )
            if newest_dropped is not None:
                await session.execute(
                    delete(GatewayEvent).where(same, GatewayEvent.pk <= newest_dropped)
                )
            count = limit
        self._event_counts[cpo_id] = count

    async def lookup(self, identity: str) -> StationLookup:
        """Decide whether ``identity`` may open a websocket now."""
        async with self._db.read() as session:
            row = (
                await session.execute(
                    select(Charger, Cpo)
                    .join(Cpo, Cpo.id == Charger.cpo_id)
                    .where(Charger.identity == identity)
                )
            ).one_or_none()
            if row is None:
                return StationLookup(None, (404, f"unknown charge point identity {identity!r}"))
            charger, cpo = row
            if cpo.status != "ready":
                return StationLookup(None, (403, f"CPO {cpo.id} is {cpo.status}"))
            evse_count = len(
                list(await session.scalars(select(Evse.pk).where(Evse.charger_pk == charger.pk)))
            )
        version: Literal["1.6", "2.0.1"] = "1.6" if charger.ocpp_version == "1.6" else "2.0.1"
        return StationLookup(
            Station(
                cpo_id=cpo.id,
                charger_pk=charger.pk,
                identity=charger.identity,
                ocpp_version=version,
                profile=PROFILES[cpo.mapping_profile],
                evse_count=evse_count,
                security_profile=cpo.ocpp_security_profile,
                password=charger.password,
            ),
        )

    async def reset_connectivity(self) -> None:
        """Mark every charger and EVSE offline: nothing is connected when the gateway starts."""
        now = self._clock()
        async with self._write() as session:
            chargers = await session.scalars(select(Charger.pk).where(Charger.online.is_(True)))
            for charger_pk in list(chargers):
                await self._go_offline(session, charger_pk, now)

    async def connected(self, station: Station) -> None:
        now = self._clock()
        async with self._write() as session:
            charger = await session.get_one(Charger, station.charger_pk)
            charger.online, charger.connected_at = True, now
            session.add(
                ConnectionEvent(
                    cpo_id=station.cpo_id, station_id=station.identity, event="connected", at=now
                )
            )

    async def disconnected(self, station: Station, *, still_current: bool) -> None:
        """Record the close; if no newer socket replaced this one, its EVSEs go offline."""
        now = self._clock()
        async with self._write() as session:
            session.add(
                ConnectionEvent(
                    cpo_id=station.cpo_id, station_id=station.identity, event="disconnected", at=now
                )
            )
            if still_current:
                await self._go_offline(session, station.charger_pk, now)

    async def _go_offline(self, session: AsyncSession, charger_pk: int, now: datetime) -> None:
        charger = await session.get_one(Charger, charger_pk)
        charger.online = False
        cpo = await session.get_one(Cpo, charger.cpo_id)
        profile = PROFILES[cpo.mapping_profile]
        for evse in await session.scalars(select(Evse).where(Evse.charger_pk == charger_pk)):
            evse.online = False
            await self._apply(session, evse, profile, now, ocpp_status=None)

    async def _apply(
        self,
        session: AsyncSession,
        evse: Evse,
        profile: MappingProfile,
        now: datetime,
        *,
        ocpp_status: str | None,
    ) -> None:
        """Recompute the EVSE's OCPI status, log history, bump ``last_updated`` on change."""
        status = profile.ocpi_status(
            evse.ocpp_status,
            online=evse.online,
            previous=evse.ocpi_status,  # type: ignore[arg-type]
        )
        session.add(
            EvseStatusHistory(
                cpo_id=evse.cpo_id,
                evse_pk=evse.pk,
                at=now,
                ocpp_status=ocpp_status,
                ocpi_status=status,
            )
        )
        if status != evse.ocpi_status:
            evse.ocpi_status, evse.last_updated = status, now
            self._changes.append(
                EvseChange(evse.cpo_id, evse.pk, evse.uid, evse.location_pk, status, now)
            )
            await session.execute(
                update(Location).where(Location.pk == evse.location_pk).values(last_updated=now)
            )

    async def count(self, station: Station, action: str) -> None:
        """Count one incoming CALL of ``action``."""
        async with self._write() as session:
            row = await session.get(MessageCount, (station.cpo_id, action))
            if row is None:
                session.add(MessageCount(cpo_id=station.cpo_id, action=action, count=1))
            else:
                row.count += 1

    async def booted(self, station: Station, firmware_version: str | None) -> None:
        async with self._write() as session:
            charger = await session.get_one(Charger, station.charger_pk)
            charger.last_boot_at = self._clock()
            charger.firmware_version = firmware_version

    async def silent(self, station: Station, limit: float) -> None:
        """The charger sent nothing for ``limit`` seconds: its EVSEs go offline (the socket
        stays open; each EVSE comes back with its next StatusNotification)."""
        now = self._clock()
        async with self._write() as session:
            session.add(
                GatewayEvent(
                    cpo_id=station.cpo_id,
                    station_id=station.identity,
                    kind="silent",
                    detail=f"no message for {limit:g} s: EVSEs offline",
                    at=now,
                )
            )
            await self._go_offline(session, station.charger_pk, now)

    async def revived(self, station: Station) -> None:
        """A silent charger spoke again: it is online (its EVSEs wait for StatusNotification)."""
        async with self._write() as session:
            charger = await session.get_one(Charger, station.charger_pk)
            charger.online = True

    def now(self) -> datetime:
        """The store's clock."""
        return self._clock()

    async def heartbeat(self, station: Station) -> None:
        async with self._write() as session:
            charger = await session.get_one(Charger, station.charger_pk)
            # A heartbeat proves liveness (it ends a silence the watchdog declared).
            charger.online, charger.last_heartbeat_at = True, self._clock()

    async def status(self, station: Station, number: int, ocpp_status: str) -> bool:
        """Set the OCPP status of EVSE ``number`` (1-based); number 0 is the station itself.

        Returns False when the charger has no such EVSE (the report is then ignored).
        """
        now = self._clock()
        async with self._write() as session:
            charger = await session.get_one(Charger, station.charger_pk)
            charger.online = True
            if number == 0:
                charger.station_status = ocpp_status
                return True
            evse = await session.scalar(
                select(Evse).where(
                    Evse.charger_pk == station.charger_pk, Evse.ocpp_number == number
                )
            )
            if evse is None:
                return False
            evse.ocpp_status, evse.ocpp_status_at, evse.online = ocpp_status, now, True
            await self._apply(session, evse, station.profile, now, ocpp_status=ocpp_status)
            return True

    async def start_transaction_16(
        self,
        station: Station,
        number: int,
        id_tag: str,
        meter_start_wh: float,
        started_at: datetime | None,
    ) -> int:
        """Persist an OCPP 1.6 StartTransaction and return the transactionId assigned to it."""
        async with self._write() as session:
            tx = Transaction(
                cpo_id=station.cpo_id,
                charger_pk=station.charger_pk,
                station_id=station.identity,
                ocpp_number=number,
                id_token=id_tag,
                meter_start_wh=meter_start_wh,
                last_meter_wh=meter_start_wh,
                started_at=started_at or self._clock(),
            )
            session.add(tx)
            await session.flush()
            tx.transaction_id = str(tx.pk)
            return tx.pk

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
        async with self._write() as session:
            tx = await session.scalar(
                select(Transaction).where(
                    Transaction.charger_pk == station.charger_pk,
                    Transaction.transaction_id == str(transaction_id),
                )
            )
            if tx is None:
                return False
            tx.meter_stop_wh = tx.last_meter_wh = meter_stop_wh
            tx.stopped_at = stopped_at or self._clock()
            tx.stop_reason = reason or "Local"
            for meter_value in transaction_data:
                session.add(self._sample(station, tx.ocpp_number, tx.pk, meter_value))
            return True

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
        async with self._write() as session:
            tx = await session.scalar(
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
                await session.flush()
            if number is not None and tx.ocpp_number is None:
                tx.ocpp_number = number
            if id_token is not None and tx.id_token is None:
                tx.id_token = id_token
            if energy is not None:
                tx.last_meter_wh = energy
                if tx.meter_start_wh is None:
                    tx.meter_start_wh = energy
            if event_type == "Ended":
                tx.stopped_at = at or self._clock()
                tx.stop_reason = stopped_reason or "Local"
                tx.meter_stop_wh = tx.last_meter_wh
            for meter_value in meter_values:
                session.add(self._sample(station, tx.ocpp_number, tx.pk, meter_value))

    async def meter_values(
        self,
        station: Station,
        number: int | None,
        transaction_id: str | None,
        meter_values: Sequence[dict[str, Any]],
    ) -> None:
        """Store standalone MeterValues; a known transaction's latest register is updated."""
        energy = energy_register_wh(meter_values)
        async with self._write() as session:
            tx = None
            if transaction_id is not None:
                tx = await session.scalar(
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
