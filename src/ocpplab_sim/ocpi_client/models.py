"""OCPI 2.2.1 and 2.1.1 objects the eMSP side reads and writes.

Only the fields OCPI marks required (cardinality ``1`` / ``+``) are required here; optional fields
the harness uses are typed, everything else is kept as extra data so a richer peer still parses.
Objects that differ between versions (Endpoint, Credentials, Location, EVSE, Connector) have 2.1.1
siblings suffixed ``211``.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from ocpplab_sim.vocabulary import EvseStatus

__all__ = [
    "BusinessDetails",
    "Connector",
    "Connector211",
    "ConnectorFormat",
    "Credentials",
    "Credentials211",
    "CredentialsRole",
    "Endpoint",
    "Endpoint211",
    "Evse",
    "Evse211",
    "EvseStatus",
    "GeoLocation",
    "InterfaceRole",
    "Location",
    "Location211",
    "OcpiResponse",
    "PowerType",
    "Role",
    "Version",
    "VersionDetails",
    "VersionDetails211",
]


class _OcpiModel(BaseModel):
    # OCPI lets parties add fields ("custom modules", newer minor versions); keep them readable
    # instead of failing, while the required fields below stay required.
    model_config = ConfigDict(extra="allow")


class OcpiResponse(_OcpiModel):
    """The envelope around every OCPI answer (OCPI 2.2.1 transport_and_format §4.1.7 Response).

    ``status_code`` 1000 means success; 2xxx are client errors, 3xxx server errors.
    """

    data: Any = None
    status_code: int
    status_message: str | None = None
    timestamp: datetime


class InterfaceRole(StrEnum):
    """Which side of a module an endpoint implements.

    OCPI 2.2.1 version_information_endpoint, InterfaceRole enum.
    """

    SENDER = "SENDER"
    RECEIVER = "RECEIVER"


class Role(StrEnum):
    """Role of a party in the roaming network (OCPI 2.2.1 types, Role enum)."""

    CPO = "CPO"
    EMSP = "EMSP"
    HUB = "HUB"
    NAP = "NAP"
    NSP = "NSP"
    OTHER = "OTHER"
    SCSP = "SCSP"


class PowerType(StrEnum):
    """Kind of current of a connector (OCPI 2.2.1 mod_locations §8.4.19 PowerType)."""

    AC_1_PHASE = "AC_1_PHASE"
    AC_2_PHASE = "AC_2_PHASE"
    AC_2_PHASE_SPLIT = "AC_2_PHASE_SPLIT"
    AC_3_PHASE = "AC_3_PHASE"
    DC = "DC"


class ConnectorFormat(StrEnum):
    """Whether a connector is a socket or a fixed cable (OCPI 2.2.1 mod_locations §8.4.4)."""

    SOCKET = "SOCKET"
    CABLE = "CABLE"


class Version(_OcpiModel):
    """One entry of the versions list (OCPI 2.2.1 version_information_endpoint, Version)."""

    version: str
    url: str


class Endpoint(_OcpiModel):
    """One module endpoint of a version (OCPI 2.2.1 version_information_endpoint, Endpoint).

    ``role`` is new in 2.2; ``identifier`` is the ModuleID (``credentials``, ``locations``, ...).
    """

    identifier: str
    role: InterfaceRole
    url: str


class VersionDetails(_OcpiModel):
    """The endpoints of one version (OCPI 2.2.1 version_information_endpoint, version details)."""

    version: str
    endpoints: list[Endpoint]

    def endpoint(self, identifier: str, role: InterfaceRole) -> Endpoint | None:
        """The endpoint of module ``identifier`` with ``role``, or ``None`` when absent."""
        for ep in self.endpoints:
            if ep.identifier == identifier and ep.role == role:
                return ep
        return None


class BusinessDetails(_OcpiModel):
    """Name (and optionally website, logo) of a business (OCPI 2.2.1 mod_locations §8.4.2)."""

    name: str
    website: str | None = None
    logo: dict[str, Any] | None = None


class CredentialsRole(_OcpiModel):
    """One role a platform plays (OCPI 2.2.1 credentials §7.3.1 CredentialsRole)."""

    role: Role
    business_details: BusinessDetails
    party_id: str = Field(min_length=3, max_length=3)
    country_code: str = Field(min_length=2, max_length=2)


class Credentials(_OcpiModel):
    """Credentials of a platform (OCPI 2.2.1 credentials §7.2.1 Credentials object).

    ``token`` is the plain token the *other* party must use; Base64 encoding only happens in the
    ``Authorization`` header.
    """

    token: str = Field(min_length=1, max_length=64)
    url: str
    roles: list[CredentialsRole] = Field(min_length=1)


class GeoLocation(_OcpiModel):
    """A point in decimal degrees, as strings (OCPI 2.2.1 mod_locations §8.4.13 GeoLocation).

    The spec asks for exactly six decimals; only "a decimal number in a string" is enforced so a
    peer that rounds differently still parses (numbers, a different JSON type, are refused).
    """

    latitude: str = Field(pattern=r"^-?[0-9]{1,2}\.[0-9]+$")
    longitude: str = Field(pattern=r"^-?[0-9]{1,3}\.[0-9]+$")


class Connector(_OcpiModel):
    """One connector of an EVSE (OCPI 2.2.1 mod_locations §8.3.3 Connector Object).

    ``standard`` is a ConnectorType (``IEC_62196_T2``, ``CHADEMO``, ...) kept as text because the
    list keeps growing.
    """

    id: str
    standard: str
    format: ConnectorFormat
    power_type: PowerType
    max_voltage: int
    max_amperage: int
    max_electric_power: int | None = None
    tariff_ids: list[str] | None = None
    terms_and_conditions: str | None = None
    last_updated: datetime


class Evse(_OcpiModel):
    """One EVSE (OCPI 2.2.1 mod_locations §8.3.2 EVSE Object); at least one connector."""

    uid: str
    evse_id: str | None = None
    status: EvseStatus
    capabilities: list[str] | None = None
    connectors: list[Connector] = Field(min_length=1)
    physical_reference: str | None = None
    floor_level: str | None = None
    coordinates: GeoLocation | None = None
    last_updated: datetime


class Location(_OcpiModel):
    """One location (OCPI 2.2.1 mod_locations §8.3.1 Location Object).

    ``country`` is ISO 3166 alpha-3; ``evses`` is optional in the spec and empty when absent.
    """

    country_code: str = Field(min_length=2, max_length=2)
    party_id: str = Field(min_length=3, max_length=3)
    id: str
    publish: bool
    name: str | None = None
    address: str
    city: str
    postal_code: str | None = None
    state: str | None = None
    country: str = Field(min_length=3, max_length=3)
    coordinates: GeoLocation
    time_zone: str
    evses: list[Evse] = Field(default_factory=list)
    operator: BusinessDetails | None = None
    last_updated: datetime


# -- OCPI 2.1.1 shapes (only where they differ from 2.2.1) -----------------------------------------


class Endpoint211(_OcpiModel):
    """One module endpoint (OCPI 2.1.1 version_information_endpoint, Endpoint): no ``role``."""

    identifier: str
    url: str


class VersionDetails211(_OcpiModel):
    """The endpoints of one version (OCPI 2.1.1 version_information_endpoint)."""

    version: str
    endpoints: list[Endpoint211]

    def endpoint(self, identifier: str) -> Endpoint211 | None:
        """The endpoint of module ``identifier``, or ``None`` when absent."""
        return next((ep for ep in self.endpoints if ep.identifier == identifier), None)


class Credentials211(_OcpiModel):
    """Credentials of a platform (OCPI 2.1.1 credentials §7.1): one party, no ``roles``."""

    token: str = Field(min_length=1, max_length=64)
    url: str
    business_details: BusinessDetails
    party_id: str = Field(min_length=3, max_length=3)
    country_code: str = Field(min_length=2, max_length=2)


class Connector211(_OcpiModel):
    """One connector (OCPI 2.1.1 mod_locations Connector): ``voltage``/``amperage``."""

    id: str
    standard: str
    format: ConnectorFormat
    power_type: PowerType
    voltage: int
    amperage: int
    tariff_id: str | None = None
    last_updated: datetime


class Evse211(_OcpiModel):
    """One EVSE (OCPI 2.1.1 mod_locations EVSE Object); at least one connector."""

    uid: str
    evse_id: str | None = None
    status: EvseStatus
    connectors: list[Connector211] = Field(min_length=1)
    last_updated: datetime


class Location211(_OcpiModel):
    """One location (OCPI 2.1.1 mod_locations Location Object): ``type`` and ``postal_code``
    required; no ``country_code``/``party_id``/``publish``/``time_zone`` requirement."""

    id: str
    type: str
    name: str | None = None
    address: str
    city: str
    postal_code: str
    country: str = Field(min_length=3, max_length=3)
    coordinates: GeoLocation
    evses: list[Evse211] = Field(default_factory=list)
    last_updated: datetime
