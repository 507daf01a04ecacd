"""eMSP side of OCPI: credentials handshake with a CPO and Locations pulls (2.2.1 today).

Errors surface only as :class:`ocpplab_sim.errors.OcpiError`.
"""

from ocpplab_sim.ocpi_client.client import OcpiClient
from ocpplab_sim.ocpi_client.dialect import DIALECTS, OcpiDialect, PartyLike, V221Dialect
from ocpplab_sim.ocpi_client.models import (
    BusinessDetails,
    Connector,
    ConnectorFormat,
    Credentials,
    CredentialsRole,
    Endpoint,
    Evse,
    EvseStatus,
    GeoLocation,
    InterfaceRole,
    Location,
    OcpiResponse,
    PowerType,
    Role,
    Version,
    VersionDetails,
)

__all__ = [
    "DIALECTS",
    "BusinessDetails",
    "Connector",
    "ConnectorFormat",
    "Credentials",
    "CredentialsRole",
    "Endpoint",
    "Evse",
    "EvseStatus",
    "GeoLocation",
    "InterfaceRole",
    "Location",
    "OcpiClient",
    "OcpiDialect",
    "OcpiResponse",
    "PartyLike",
    "PowerType",
    "Role",
    "V221Dialect",
    "Version",
    "VersionDetails",
]
