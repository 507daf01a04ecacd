"""The harness's shared vocabulary: the OCPP versions, the OCPI EVSE status and the OCPP
statuses, defined once and imported by every layer that needs them (every package but the
standalone gateway, whose wire models are its own; tests check they agree)."""

from __future__ import annotations

from enum import StrEnum
from typing import Final, Literal

__all__ = [
    "CHARGE_POINT_STATUSES_16",
    "CONNECTOR_STATUSES_201",
    "OCPP_VERSIONS",
    "EvseStatus",
    "OcppVersion",
]

OcppVersion = Literal["1.6", "2.0.1"]
OCPP_VERSIONS: Final[tuple[OcppVersion, ...]] = ("1.6", "2.0.1")


class EvseStatus(StrEnum):
    """OCPI EvseStatus (OCPI 2.2.1 mod_locations §8.4.22; the same nine values in 2.1.1).

    ``UNKNOWN`` also stands for an offline EVSE; ``INOPERATIVE`` is temporarily unavailable,
    ``OUTOFORDER`` broken.
    """

    AVAILABLE = "AVAILABLE"
    BLOCKED = "BLOCKED"
    CHARGING = "CHARGING"
    INOPERATIVE = "INOPERATIVE"
    OUTOFORDER = "OUTOFORDER"
    PLANNED = "PLANNED"
    REMOVED = "REMOVED"
    RESERVED = "RESERVED"
    UNKNOWN = "UNKNOWN"


#: OCPP 1.6 ChargePointStatus (§7.7)
CHARGE_POINT_STATUSES_16: Final[tuple[str, ...]] = (
    "Available",
    "Preparing",
    "Charging",
    "SuspendedEV",
    "SuspendedEVSE",
    "Finishing",
    "Reserved",
    "Unavailable",
    "Faulted",
)
#: OCPP 2.0.1 ConnectorStatusEnumType
CONNECTOR_STATUSES_201: Final[tuple[str, ...]] = (
    "Available",
    "Occupied",
    "Reserved",
    "Unavailable",
    "Faulted",
)
