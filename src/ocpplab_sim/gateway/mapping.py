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

Alternative profiles reproduce public implementations (as documented by them, early 2025):

==============  =========  ==========  ===========  ===========  ==========  ========  ========
profile         Preparing  Finishing   Reserved     Unavailable  Faulted     Occupied  offline
==============  =========  ==========  ===========  ===========  ==========  ========  ========
``default``     CHARGING   CHARGING    RESERVED     INOPERATIVE  OUTOFORDER  CHARGING  UNKNOWN
``citrineos``   CHARGING   CHARGING    RESERVED     INOPERATIVE  OUTOFORDER  UNKNOWN   (keeps)
``evserver``    AVAILABLE  CHARGING    RESERVED     CHARGING     INOPERATIVE CHARGING  INOPERATIVE
``greenflux``   AVAILABLE  CHARGING    RESERVED     OUTOFORDER   OUTOFORDER  CHARGING  UNKNOWN
==============  =========  ==========  ===========  ===========  ==========  ========  ========

Available is AVAILABLE and Charging/SuspendedEV/SuspendedEVSE are CHARGING everywhere.
``citrineos`` pushes nothing when a charger goes offline, so its EVSEs keep their last status
(``offline=None``); ``evserver`` maps 1.6 Unavailable to CHARGING as that implementation does.

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
    ``offline`` applies whenever the charger is not connected (or silent beyond the heartbeat
    limit) or has not reported since it connected; ``None`` there means "keep the previous
    status" (UNKNOWN if there is none). ``fallback`` applies to an OCPP value missing from
    ``table``.
    """

    name: str
    table: Mapping[str, OcpiEvseStatus]
    offline: OcpiEvseStatus | None = "UNKNOWN"
    fallback: OcpiEvseStatus = "UNKNOWN"
    description: str = field(default="", compare=False)

    def ocpi_status(
        self,
        ocpp_status: str | None,
        *,
        online: bool,
        previous: OcpiEvseStatus | None = None,
    ) -> OcpiEvseStatus:
        """Return the OCPI EVSE status for an OCPP status and the charger's connectivity;
        ``previous`` is the EVSE's current OCPI status (used when ``offline`` is None)."""
        if not online or ocpp_status is None:
            if self.offline is None:
                return previous or "UNKNOWN"
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

_IN_USE: Final[Mapping[str, OcpiEvseStatus]] = {
    "Available": "AVAILABLE",
    "Charging": "CHARGING",
    "SuspendedEV": "CHARGING",
    "SuspendedEVSE": "CHARGING",
    "Finishing": "CHARGING",
    "Reserved": "RESERVED",
}

_CITRINEOS = MappingProfile(
    name="citrineos",
    table=MappingProxyType(
        {**_IN_USE, "Preparing": "CHARGING", "Unavailable": "INOPERATIVE", "Faulted": "OUTOFORDER"}
    ),
    offline=None,
    description="citrineos-ocpi: 2.0.1 Occupied unhandled (UNKNOWN); no push when offline.",
)
_EVSERVER = MappingProfile(
    name="evserver",
    table=MappingProxyType(
        {
            **_IN_USE,
            "Preparing": "AVAILABLE",
            "Unavailable": "CHARGING",
            "Faulted": "INOPERATIVE",
            "Occupied": "CHARGING",
        }
    ),
    offline="INOPERATIVE",
    description="Open e-Mobility ev-server: Faulted INOPERATIVE; offline INOPERATIVE.",
)
_GREENFLUX = MappingProfile(
    name="greenflux",
    table=MappingProxyType(
        {
            **_IN_USE,
            "Preparing": "AVAILABLE",
            "Unavailable": "OUTOFORDER",
            "Faulted": "OUTOFORDER",
            "Occupied": "CHARGING",
        }
    ),
    description="GreenFlux: Preparing AVAILABLE; Unavailable and Faulted OUTOFORDER.",
)

PROFILES: Final[Mapping[str, MappingProfile]] = MappingProxyType(
    {p.name: p for p in (_DEFAULT, _CITRINEOS, _EVSERVER, _GREENFLUX)}
)
DEFAULT_PROFILE: Final[str] = _DEFAULT.name
