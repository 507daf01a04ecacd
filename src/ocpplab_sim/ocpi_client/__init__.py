"""eMSP side of OCPI: credentials handshake with a CPO and Locations pulls (2.2.1 and 2.1.1).

Errors surface only as :class:`ocpplab_sim.errors.OcpiError`.
"""

from ocpplab_sim.ocpi_client.client import OcpiClient
from ocpplab_sim.ocpi_client.dialect import (
    DIALECTS,
    OcpiDialect,
    PartyLike,
    V211Dialect,
    V221Dialect,
)
from ocpplab_sim.ocpi_client.models import (
    BusinessDetails,
    Connector,
    Connector211,
    ConnectorFormat,
    Credentials,
    Credentials211,
    CredentialsRole,
    Endpoint,
    Endpoint211,
    Evse,
    Evse211,
    EvseStatus,
    GeoLocation,
    InterfaceRole,
    Location,
    Location211,
    OcpiResponse,
    PowerType,
    Role,
    Version,
    VersionDetails,
    VersionDetails211,
)

__all__ = [
    "DIALECTS",
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
    "OcpiClient",
    "OcpiDialect",
    "OcpiResponse",
    "PartyLike",
    "PowerType",
    "Role",
    "V211Dialect",
    "V221Dialect",
    "Version",
    "VersionDetails",
    "VersionDetails211",
]
