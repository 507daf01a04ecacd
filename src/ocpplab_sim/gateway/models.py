"""ORM models of the gateway database (SQLAlchemy 2 declarative, typed).

The schema is owned by the Alembic migrations in ``gateway/migrations``; a test checks that the
newest migration produces exactly these models. Timestamps are stored as naive UTC and come back
timezone-aware (:class:`UtcDateTime`).
"""

from __future__ import annotations

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
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

__all__ = [
    "Base",
    "Charger",
    "ConnectionEvent",
    "Cpo",
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
    "UtcDateTime",
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
    template_params: Mapped[dict[str, Any] | None]
    ocpp_security_profile: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
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
    ocpi_version: Mapped[str | None] = mapped_column(String(8))
    peer_locations_url: Mapped[str | None]


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
    location_type: Mapped[str] = mapped_column(String(32), server_default="UNKNOWN")
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
    password: Mapped[str | None] = mapped_column(String(64))
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


class OcppCommand(Base):
    """A CALL the central system sent to a charger through the command API, and its outcome.

    ``status``: ``answered`` (CALLRESULT), ``callerror``, ``timeout``, ``offline`` (not
    connected, or the socket closed before an answer)."""

    __tablename__ = "ocpp_commands"

    pk: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    cpo_id: Mapped[int] = mapped_column(ForeignKey("cpos.id"), index=True)
    station_id: Mapped[str]
    action: Mapped[str] = mapped_column(String(64))
    message_id: Mapped[str | None] = mapped_column(String(36))
    payload: Mapped[dict[str, Any]]
    status: Mapped[str] = mapped_column(String(16))
    response: Mapped[dict[str, Any] | None]
    error: Mapped[dict[str, Any] | None]
    sent_at: Mapped[datetime]
    answered_at: Mapped[datetime | None]


class OcpiPush(Base):
    """One attempt to PATCH an EVSE status to the eMSP's Locations receiver."""

    __tablename__ = "ocpi_pushes"

    pk: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    cpo_id: Mapped[int] = mapped_column(ForeignKey("cpos.id"), index=True)
    location_id: Mapped[str] = mapped_column(String(36))
    evse_uid: Mapped[str] = mapped_column(String(36))
    url: Mapped[str]
    ocpi_status: Mapped[str] = mapped_column(String(16))
    last_updated: Mapped[datetime]
    attempt: Mapped[int]
    ok: Mapped[bool]
    http_status: Mapped[int | None]
    ocpi_status_code: Mapped[int | None]
    detail: Mapped[str | None]
    at: Mapped[datetime]


class GatewayEvent(Base):
    """Something refused or broken that is not a message count: a refused websocket
    handshake, an invalid OCPP frame, a charger gone silent. ``cpo_id`` is null when the
    identity is unknown (the event then belongs to no CPO)."""

    __tablename__ = "gateway_events"

    pk: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    cpo_id: Mapped[int | None] = mapped_column(ForeignKey("cpos.id"), index=True)
    station_id: Mapped[str | None]
    kind: Mapped[str] = mapped_column(String(32))
    detail: Mapped[str]
    at: Mapped[datetime]
