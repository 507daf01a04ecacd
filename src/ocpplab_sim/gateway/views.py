"""Read models: database rows → Gateway API and OCPI response objects.

Ordering is part of the contract: locations by template order, chargers by number within their
location, EVSEs by OCPP number (so the n-th EVSE of a charger is connectorId/evseId n).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from . import api_models as api
from . import ocpi_models as ocpi
from .db import (
    Charger,
    ConnectionEvent,
    Cpo,
    Evse,
    EvseStatusHistory,
    GatewayEvent,
    Location,
    MessageCount,
    OcpiCredentials,
    OcpiPush,
    OcppCommand,
    Topology,
    Transaction,
)

__all__ = [
    "as_utc",
    "command_view",
    "cpo_view",
    "gateway_locations",
    "ocpi_connector",
    "ocpi_connector_211",
    "ocpi_evse",
    "ocpi_evse_211",
    "ocpi_locations",
    "ocpi_locations_211",
    "report_view",
    "versions_url",
]


def versions_url(base_url: str, cpo_id: int) -> str:
    """The CPO's OCPI versions endpoint (``ocpi_peer_url``)."""
    return f"{base_url}/ocpi/peer/{cpo_id}/versions"


def cpo_view(cpo: Cpo, base_url: str, token_a: str | None = None) -> api.Cpo:
    """The ``Cpo`` resource; ``token_a`` (and with it ``roam_helper``) only on create."""
    party = api.PartyOut(country_code=cpo.country_code, party_id=cpo.party_id)
    peer_url = versions_url(base_url, cpo.id)
    return api.Cpo(
        cpo_id=str(cpo.id),
        party=party,
        name_prefix=cpo.name_prefix,
        template=cpo.template,
        template_version=cpo.template_version,
        ocpi_peer_url=peer_url,
        topology=api.Topology(
            locations=cpo.n_locations,
            chargers=cpo.n_chargers,
            evses=cpo.n_evses,
            connectors=cpo.n_connectors,
        ),
        report_url=f"/ocpi/cpos/{cpo.id}/report",
        destroy_url=f"/ocpi/cpos/{cpo.id}",
        token_a=token_a,
        roam_helper=(
            None
            if token_a is None
            else api.RoamHelper(versions_url=peer_url, token_a=token_a, party=party)
        ),
        expires_at=cpo.expires_at,
        created_at=cpo.created_at,
        updated_at=cpo.updated_at,
        status=cpo.status,
    )


async def _network(
    session: AsyncSession, locations: Sequence[Location]
) -> tuple[dict[int, list[Charger]], dict[int, list[Evse]]]:
    """Chargers by location pk and EVSEs by charger pk, both in contract order."""
    pks = [loc.pk for loc in locations]
    chargers: dict[int, list[Charger]] = defaultdict(list)
    evses: dict[int, list[Evse]] = defaultdict(list)
    if not pks:
        return chargers, evses
    for charger in await session.scalars(
        select(Charger).where(Charger.location_pk.in_(pks)).order_by(Charger.position)
    ):
        chargers[charger.location_pk].append(charger)
    for evse in await session.scalars(
        select(Evse).where(Evse.location_pk.in_(pks)).order_by(Evse.charger_pk, Evse.ocpp_number)
    ):
        evses[evse.charger_pk].append(evse)
    return chargers, evses


async def gateway_locations(
    session: AsyncSession, cpo: Cpo, page: int, limit: int
) -> api.OcpiLocationListResponse:
    """One page of the Gateway API location view of a CPO."""
    total = await session.scalar(
        select(func.count()).select_from(Location).where(Location.cpo_id == cpo.id)
    )
    locations = list(
        await session.scalars(
            select(Location)
            .where(Location.cpo_id == cpo.id)
            .order_by(Location.position)
            .offset((page - 1) * limit)
            .limit(limit)
        )
    )
    chargers, evses = await _network(session, locations)
    topologies: dict[int | str, str] = {}
    for topo in await session.scalars(select(Topology).where(Topology.cpo_id == cpo.id)):
        key = topo.evse_uid if topo.evse_uid is not None else -topo.location_pk
        topologies[key] = str(topo.pk)
    data = []
    for loc in locations:
        summaries = [
            api.ChargerSummary(
                id=str(ch.pk),
                identity=ch.identity,
                connector_type=ch.connector_type,
                ocpp_version=ch.ocpp_version,
                charge_point_id=ch.identity,
                evses=[
                    api.EvseSummary(
                        evse_uid=ev.uid,
                        ocpi_evse_id=ev.evse_id,
                        ocpi_connector_id="1",
                        topology_id=topologies.get(ev.uid),
                    )
                    for ev in evses[ch.pk]
                ],
                topology_default_id=topologies.get(-loc.pk) if index == 0 else None,
            )
            for index, ch in enumerate(chargers[loc.pk])
        ]
        data.append(
            api.OcpiLocationResponse(
                id=loc.ocpi_id,
                ocpp_location_id=str(loc.pk),
                organization_id=str(cpo.id),
                slug=loc.slug,
                name=loc.name,
                address=loc.address,
                city=loc.city,
                country=loc.country,
                coordinates=api.OcpiCoordinates(latitude=loc.latitude, longitude=loc.longitude),
                timezone=loc.time_zone,
                owner_name=loc.owner_name,
                public=loc.publish,
                chargers=summaries,
                created_at=loc.created_at,
                updated_at=loc.updated_at,
            )
        )
    return api.OcpiLocationListResponse(data=data, total=total or 0, page=page, limit=limit)


def ocpi_connector(evse: Evse) -> ocpi.Connector:
    return ocpi.Connector(
        id="1",
        standard=evse.standard,
        format=evse.format,
        power_type=evse.power_type,
        max_voltage=evse.max_voltage,
        max_amperage=evse.max_amperage,
        max_electric_power=evse.max_electric_power,
        last_updated=evse.connector_last_updated,
    )


def ocpi_evse(evse: Evse) -> ocpi.Evse:
    return ocpi.Evse(
        uid=evse.uid,
        evse_id=evse.evse_id,
        status=evse.ocpi_status,
        connectors=[ocpi_connector(evse)],
        last_updated=evse.last_updated,
    )


async def ocpi_locations(
    session: AsyncSession, cpo: Cpo, locations: Sequence[Location]
) -> list[ocpi.Location]:
    """OCPI 2.2.1 Location objects (with EVSEs and connectors) for ``locations``."""
    chargers, evses = await _network(session, locations)
    result = []
    for loc in locations:
        loc_evses = [ev for ch in chargers[loc.pk] for ev in evses[ch.pk]]
        result.append(
            ocpi.Location(
                country_code=cpo.country_code,
                party_id=cpo.party_id,
                id=loc.ocpi_id,
                publish=loc.publish,
                name=loc.name,
                address=loc.address,
                city=loc.city,
                postal_code=loc.postal_code,
                country=loc.country,
                coordinates=ocpi.GeoLocation(
                    latitude=f"{loc.latitude:.6f}", longitude=f"{loc.longitude:.6f}"
                ),
                evses=[ocpi_evse(ev) for ev in loc_evses],
                operator=ocpi.Operator(name=loc.owner_name),
                time_zone=loc.time_zone,
                opening_times=ocpi.Hours(twentyfourseven=True),
                last_updated=loc.last_updated,
            )
        )
    return result


def ocpi_connector_211(evse: Evse) -> ocpi.Connector211:
    """2.1.1 mod_locations §8.3.3: ``voltage``/``amperage``."""
    return ocpi.Connector211(
        id="1",
        standard=evse.standard,
        format=evse.format,
        power_type=evse.power_type,
        voltage=evse.max_voltage,
        amperage=evse.max_amperage,
        last_updated=evse.connector_last_updated,
    )


def ocpi_evse_211(evse: Evse) -> ocpi.Evse211:
    return ocpi.Evse211(
        uid=evse.uid,
        evse_id=evse.evse_id,
        status=evse.ocpi_status,
        connectors=[ocpi_connector_211(evse)],
        last_updated=evse.last_updated,
    )


async def ocpi_locations_211(
    session: AsyncSession, cpo: Cpo, locations: Sequence[Location]
) -> list[ocpi.Location211]:
    """OCPI 2.1.1 Location objects (mod_locations §8.3.1) for ``locations``; a location
    without a postal code gets ``""`` (the field is required in 2.1.1)."""
    chargers, evses = await _network(session, locations)
    return [
        ocpi.Location211(
            id=loc.ocpi_id,
            type=loc.location_type,
            name=loc.name,
            address=loc.address,
            city=loc.city,
            postal_code=loc.postal_code or "",
            country=loc.country,
            coordinates=ocpi.GeoLocation(
                latitude=f"{loc.latitude:.6f}", longitude=f"{loc.longitude:.6f}"
            ),
            evses=[ocpi_evse_211(ev) for ch in chargers[loc.pk] for ev in evses[ch.pk]],
            operator=ocpi.BusinessDetails(name=loc.owner_name),
            time_zone=loc.time_zone,
            opening_times=ocpi.Hours(twentyfourseven=True),
            last_updated=loc.last_updated,
        )
        for loc in locations
    ]


def command_view(row: OcppCommand) -> api.CommandResult:
    """The API view of a recorded command."""
    return api.CommandResult(
        command_id=str(row.pk),
        station_id=row.station_id,
        action=row.action,
        payload=row.payload,
        status=row.status,
        message_id=row.message_id,
        response=row.response,
        response_valid=None if row.response is None else (row.error is None),
        error=row.error,
        sent_at=row.sent_at,
        answered_at=row.answered_at,
    )


def _energy(tx: Transaction) -> float | None:
    end = tx.meter_stop_wh if tx.meter_stop_wh is not None else tx.last_meter_wh
    if tx.meter_start_wh is None or end is None:
        return None
    return end - tx.meter_start_wh


async def report_view(session: AsyncSession, cpo: Cpo) -> api.CpoReport:
    """Everything the gateway observed for one CPO."""
    rows = (
        await session.execute(
            select(Evse, Charger, Location)
            .join(Charger, Charger.pk == Evse.charger_pk)
            .join(Location, Location.pk == Evse.location_pk)
            .where(Evse.cpo_id == cpo.id)
            .order_by(Location.position, Charger.position, Evse.ocpp_number)
        )
    ).all()
    history: dict[int, list[api.ReportHistoryEntry]] = defaultdict(list)
    for entry in await session.scalars(
        select(EvseStatusHistory)
        .where(EvseStatusHistory.cpo_id == cpo.id)
        .order_by(EvseStatusHistory.pk)
    ):
        history[entry.evse_pk].append(
            api.ReportHistoryEntry(
                at=entry.at,
                ocpp_status=entry.ocpp_status,
                ocpi_status=entry.ocpi_status,
            )
        )
    evses = [
        api.ReportEvse(
            evse_uid=evse.uid,
            station_id=charger.identity,
            ocpp_number=evse.ocpp_number,
            ocpp_status=evse.ocpp_status,
            ocpi_status=evse.ocpi_status,
            online=charger.online,
            history=history[evse.pk],
        )
        for evse, charger, _loc in rows
    ]
    messages = {
        row.action: row.count
        for row in await session.scalars(
            select(MessageCount).where(MessageCount.cpo_id == cpo.id).order_by(MessageCount.action)
        )
    }
    connections = [
        api.ReportConnection.model_validate(
            {"station_id": ev.station_id, "event": ev.event, "at": ev.at}
        )
        for ev in await session.scalars(
            select(ConnectionEvent)
            .where(ConnectionEvent.cpo_id == cpo.id)
            .order_by(ConnectionEvent.pk)
        )
    ]
    transactions = [
        api.ReportTransaction(
            station_id=tx.station_id,
            ocpp_number=tx.ocpp_number,
            transaction_id=tx.transaction_id,
            id_token=tx.id_token,
            meter_start_wh=tx.meter_start_wh,
            meter_stop_wh=tx.meter_stop_wh,
            energy_wh=_energy(tx),
            started_at=tx.started_at,
            stopped_at=tx.stopped_at,
        )
        for tx in await session.scalars(
            select(Transaction).where(Transaction.cpo_id == cpo.id).order_by(Transaction.pk)
        )
    ]
    creds = await session.get(OcpiCredentials, cpo.id)
    commands = [
        command_view(row)
        for row in await session.scalars(
            select(OcppCommand).where(OcppCommand.cpo_id == cpo.id).order_by(OcppCommand.pk)
        )
    ]
    pushes = [
        api.ReportPush.model_validate(row, from_attributes=True)
        for row in await session.scalars(
            select(OcpiPush).where(OcpiPush.cpo_id == cpo.id).order_by(OcpiPush.pk)
        )
    ]
    events = [
        api.ReportEvent.model_validate(row, from_attributes=True)
        for row in await session.scalars(
            select(GatewayEvent).where(GatewayEvent.cpo_id == cpo.id).order_by(GatewayEvent.pk)
        )
    ]
    return api.CpoReport(
        commands=commands,
        pushes=pushes,
        events=events,
        cpo_id=str(cpo.id),
        status=cpo.status,
        evses=evses,
        messages=messages,
        connections=connections,
        transactions=transactions,
        ocpi=api.ReportOcpi(
            registered=creds is not None and creds.registered_at is not None,
            peer_url=None if creds is None else creds.peer_url,
            peer_versions_ok=None if creds is None else creds.peer_check_ok,
            peer_versions_detail=None if creds is None else creds.peer_check_detail,
            peer_versions_at=None if creds is None else creds.peer_check_at,
        ),
    )


def as_utc(value: datetime | None) -> datetime | None:
    """Treat a naive query datetime as UTC (OCPI DateTime is always UTC)."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)
