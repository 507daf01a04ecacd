"""OCPI 2.2.1 objects served by the CPO side (field names and types as the specification).

Sections refer to the OCPI 2.2.1 documents: ``transport_and_format`` (envelope),
``version_information_endpoint``, ``credentials`` and ``mod_locations``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, WithJsonSchema

from .mapping import OcpiEvseStatus

__all__ = [
    "BusinessDetails",
    "Connector",
    "Connector211",
    "Credentials",
    "Credentials211",
    "CredentialsRole",
    "Endpoint",
    "Endpoint211",
    "Evse",
    "Evse211",
    "GeoLocation",
    "Location",
    "Location211",
    "OcpiDateTime",
    "OcpiResponse",
    "Version",
    "VersionDetails",
    "VersionDetails211",
    "ocpi_timestamp",
]

T = TypeVar("T")


def ocpi_timestamp(value: datetime) -> str:
    """OCPI DateTime (2.2.1 types §16.2, 2.1.1 types §14.2: string(25), RFC 3339 in UTC):
    ``2026-12-02T16:21:58.078Z``, milliseconds at most (a naive value is taken as UTC). Every
    OCPI timestamp the gateway writes (responses of both versions, pushes) goes through here,
    so a pushed ``last_updated`` equals the listed one."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


#: A datetime field written as an OCPI DateTime (:func:`ocpi_timestamp`).
OcpiDateTime = Annotated[
    datetime,
    PlainSerializer(ocpi_timestamp, return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "format": "date-time", "maxLength": 25}),
]


class OcpiResponse(BaseModel, Generic[T]):
    """Response envelope (transport_and_format §4.1.7): ``status_code`` 1xxx success,
    2xxx client error, 3xxx server error."""

    data: T | None = None
    status_code: int
    status_message: str | None = None
    timestamp: OcpiDateTime


class Version(BaseModel):
    """version_information_endpoint §6.1.2 Version."""

    version: str
    url: str


class Endpoint(BaseModel):
    """version_information_endpoint §6.2.2 Endpoint."""

    identifier: str
    role: Literal["SENDER", "RECEIVER"]
    url: str


class VersionDetails(BaseModel):
    """version_information_endpoint §6.2 version details."""

    version: str
    endpoints: list[Endpoint]


class BusinessDetails(BaseModel):
    """types §16.2 BusinessDetails."""

    name: str = Field(max_length=100)
    website: str | None = None


class CredentialsRole(BaseModel):
    """credentials §7.4.2 CredentialsRole."""

    role: Literal["CPO", "EMSP", "HUB", "NAP", "NSP", "OTHER", "SCSP"]
    business_details: BusinessDetails
    party_id: str = Field(min_length=3, max_length=3)
    country_code: str = Field(min_length=2, max_length=2)


class Credentials(BaseModel):
    """credentials §7.3.1 Credentials object. ``token`` is not Base64-encoded here."""

    model_config = ConfigDict(extra="ignore")

    token: str = Field(min_length=1, max_length=64)
    url: str = Field(min_length=1, max_length=255)
    roles: list[CredentialsRole] = Field(min_length=1)


class GeoLocation(BaseModel):
    """types §8.4.13 GeoLocation: decimal degrees as strings."""

    latitude: str = Field(pattern=r"^-?[0-9]{1,2}\.[0-9]{5,7}$")
    longitude: str = Field(pattern=r"^-?[0-9]{1,3}\.[0-9]{5,7}$")


class Connector(BaseModel):
    """mod_locations §8.3.3 Connector."""

    id: str
    standard: str
    format: Literal["SOCKET", "CABLE"]
    power_type: str
    max_voltage: int
    max_amperage: int
    max_electric_power: int | None = None
    last_updated: OcpiDateTime


class Evse(BaseModel):
    """mod_locations §8.3.2 EVSE."""

    uid: str
    evse_id: str | None = None
    status: OcpiEvseStatus
    connectors: list[Connector] = Field(min_length=1)
    physical_reference: str | None = None
    last_updated: OcpiDateTime


class Operator(BaseModel):
    name: str


class Hours(BaseModel):
    """mod_locations §8.4.14 Hours (always open here)."""

    twentyfourseven: bool


class Location(BaseModel):
    """mod_locations §8.3.1 Location. ``last_updated`` moves when an EVSE changes."""

    country_code: str
    party_id: str
    id: str
    publish: bool
    name: str | None = None
    address: str
    city: str
    postal_code: str | None = None
    country: str
    coordinates: GeoLocation
    evses: list[Evse] | None = None
    operator: Operator | None = None
    time_zone: str
    opening_times: Hours | None = None
    last_updated: OcpiDateTime


# -- OCPI 2.1.1 (only the objects that differ; sections of the 2.1.1 documents) ----------------


class Endpoint211(BaseModel):
    """2.1.1 version_information_endpoint §6.2.2 Endpoint: no ``role``."""

    identifier: str
    url: str


class VersionDetails211(BaseModel):
    """2.1.1 version_information_endpoint §6.2 version details."""

    version: str
    endpoints: list[Endpoint211]


class Credentials211(BaseModel):
    """2.1.1 credentials §7.3.1 Credentials object: one party, no ``roles``."""

    model_config = ConfigDict(extra="ignore")

    token: str = Field(min_length=1, max_length=64)
    url: str = Field(min_length=1, max_length=255)
    business_details: BusinessDetails
    party_id: str = Field(min_length=3, max_length=3)
    country_code: str = Field(min_length=2, max_length=2)


class Connector211(BaseModel):
    """2.1.1 mod_locations §8.3.3 Connector: ``voltage``/``amperage`` (``max_`` in 2.2.1)."""

    id: str
    standard: str
    format: Literal["SOCKET", "CABLE"]
    power_type: str
    voltage: int
    amperage: int
    last_updated: OcpiDateTime


class Evse211(BaseModel):
    """2.1.1 mod_locations §8.3.2 EVSE."""

    uid: str
    evse_id: str | None = None
    status: OcpiEvseStatus
    connectors: list[Connector211] = Field(min_length=1)
    last_updated: OcpiDateTime


class Location211(BaseModel):
    """2.1.1 mod_locations §8.3.1 Location: ``type`` and ``postal_code`` required; no
    ``country_code``/``party_id``/``publish``; ``time_zone`` optional."""

    id: str
    type: Literal[
        "ON_STREET", "PARKING_GARAGE", "UNDERGROUND_GARAGE", "PARKING_LOT", "OTHER", "UNKNOWN"
    ]
    name: str | None = None
    address: str
    city: str
    postal_code: str
    country: str
    coordinates: GeoLocation
    evses: list[Evse211] | None = None
    operator: BusinessDetails | None = None
    time_zone: str | None = None
    opening_times: Hours | None = None
    last_updated: OcpiDateTime
