"""OCPP connector status → OCPI 2.2.1 EVSE status: the one mapping table of the gateway.

Platforms disagree on this mapping (1.6 ``Preparing``, ``Unavailable`` vs ``Faulted``, 2.0.1
``Occupied``, what "offline" means), so it is a set of named, immutable profiles. A CPO picks
one at creation (``mapping_profile``, default ``default``); every OCPI EVSE status the gateway
serves for that CPO comes from :meth:`MappingProfile.ocpi_status` and nowhere else.

Profile ``default``:

=================================================================  ===========
OCPP status (1.6 ChargePointStatus / 2.0.1 ConnectorStatusEnumType)  OCPI status
=================================================================  ===========
Available                                                          AVAILABLE
Preparing, Charging, SuspendedEV, SuspendedEVSE, Finishing (1.6)   CHARGING
Occupied (2.0.1)                                                   CHARGING
Reserved                                                           RESERVED
Unavailable                                                        INOPERATIVE
Faulted                                                            OUTOFORDER
charger offline, or no status reported since it connected          UNKNOWN
any other value                                                    UNKNOWN
=================================================================  ===========

OCPI 2.2.1 ``mod_locations`` §8.4.22 (EvseStatus) defines UNKNOWN as "no status information
available (also used when offline)", which is why offline maps there.

To add a profile, add one :class:`MappingProfile` to :data:`PROFILES`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Final, Literal

__all__ = ["DEFAULT_PROFILE", "OCPI_EVSE_STATUSES", "PROFILES", "MappingProfile", "OcpiEvseStatus"]

OcpiEvseStatus = Literal[
    "AVAILABLE",
    "BLOCKED",
    "CHARGING",
    "INOPERATIVE",
    "OUTOFORDER",
    "PLANNED",
    "REMOVED",
    "RESERVED",
    "UNKNOWN",
]
OCPI_EVSE_STATUSES: Final[tuple[OcpiEvseStatus, ...]] = (
    "AVAILABLE",
    "BLOCKED",
    "CHARGING",
    "INOPERATIVE",
    "OUTOFORDER",
    "PLANNED",
    "REMOVED",
    "RESERVED",
    "UNKNOWN",
)


@dataclass(frozen=True)
class MappingProfile:
    """One named OCPP → OCPI status table.

    ``table`` is keyed by the OCPP status string exactly as it appears on the wire (1.6 and
    2.0.1 share the key space: equal names mean the same thing in both versions).
    ``offline`` applies whenever the charger is not connected or has not reported since it
    connected; ``fallback`` applies to an OCPP value missing from ``table``.
    """

    name: str
    table: Mapping[str, OcpiEvseStatus]
    offline: OcpiEvseStatus = "UNKNOWN"
    fallback: OcpiEvseStatus = "UNKNOWN"
    description: str = field(default="", compare=False)

    def ocpi_status(self, ocpp_status: str | None, *, online: bool) -> OcpiEvseStatus:
        """Return the OCPI EVSE status for an OCPP status and the charger's connectivity."""
        if not online or ocpp_status is None:
            return self.offline
        return self.table.get(ocpp_status, self.fallback)


_DEFAULT = MappingProfile(
    name="default",
    table=MappingProxyType(
        {
            "Available": "AVAILABLE",
            "Preparing": "CHARGING",
            "Charging": "CHARGING",
            "SuspendedEV": "CHARGING",
            "SuspendedEVSE": "CHARGING",
            "Finishing": "CHARGING",
            "Occupied": "CHARGING",
            "Reserved": "RESERVED",
            "Unavailable": "INOPERATIVE",
            "Faulted": "OUTOFORDER",
        }
    ),
    description="Connector in use from plug-in to unplug counts as CHARGING; offline is UNKNOWN.",
)

PROFILES: Final[Mapping[str, MappingProfile]] = MappingProxyType({_DEFAULT.name: _DEFAULT})
DEFAULT_PROFILE: Final[str] = _DEFAULT.name
