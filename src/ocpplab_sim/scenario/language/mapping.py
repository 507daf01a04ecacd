"""The harness's own copy of the gateway's OCPP → OCPI status tables (mapping profiles).

A scenario may write an expectation in OCPP terms (``expect_ocpi: {status_of_ocpp: Preparing}``);
the engine translates it through the profile the scenario names in ``gateway.mapping_profile``
(``default`` when not given). These tables are the ones documented in ``docs/reference-gateway.md``
("OCPI 2.2.1, CPO side"); they are copied here on purpose, never imported from the gateway: an
expectation must not follow the gateway when the gateway is wrong.

``offline`` stands for a charger that is not connected (or never reported). Under ``citrineos`` an
offline EVSE keeps its last status, which no single expectation can name: translating ``offline``
with that profile is refused.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from ocpplab_sim.vocabulary import CHARGE_POINT_STATUSES_16, CONNECTOR_STATUSES_201

__all__ = [
    "DEFAULT_PROFILE",
    "OCPP_STATUSES",
    "PROFILES",
    "MappingError",
    "ocpi_status_for",
    "profiles_giving",
]

DEFAULT_PROFILE = "default"
OFFLINE = "offline"
_KEEPS_LAST = "keeps the last status"

# The OCPP statuses an expectation may name: 1.6 ChargePointStatus, 2.0.1 ConnectorStatusEnumType
# (Occupied), and the pseudo status ``offline``.
OCPP_STATUSES: tuple[str, ...] = (
    *CHARGE_POINT_STATUSES_16,
    *(s for s in CONNECTOR_STATUSES_201 if s not in CHARGE_POINT_STATUSES_16),
    OFFLINE,
)

_COMMON = {
    "Available": "AVAILABLE",
    "Charging": "CHARGING",
    "SuspendedEV": "CHARGING",
    "SuspendedEVSE": "CHARGING",
}


def _table(**rows: str) -> Mapping[str, str]:
    fixed = {name.replace("_", ""): value for name, value in rows.items()}
    return MappingProxyType({**_COMMON, **fixed})


PROFILES: Mapping[str, Mapping[str, str]] = MappingProxyType(
    {
        "default": _table(
            Preparing="CHARGING",
            Finishing="CHARGING",
            Occupied="CHARGING",
            Reserved="RESERVED",
            Unavailable="INOPERATIVE",
            Faulted="OUTOFORDER",
            offline="UNKNOWN",
        ),
        "citrineos": _table(
            Preparing="CHARGING",
            Finishing="CHARGING",
            Occupied="UNKNOWN",
            Reserved="RESERVED",
            Unavailable="INOPERATIVE",
            Faulted="OUTOFORDER",
            offline=_KEEPS_LAST,
        ),
        "evserver": _table(
            Preparing="AVAILABLE",
            Finishing="CHARGING",
            Occupied="CHARGING",
            Reserved="RESERVED",
            Unavailable="CHARGING",
            Faulted="INOPERATIVE",
            offline="INOPERATIVE",
        ),
        "greenflux": _table(
            Preparing="AVAILABLE",
            Finishing="CHARGING",
            Occupied="CHARGING",
            Reserved="RESERVED",
            Unavailable="OUTOFORDER",
            Faulted="OUTOFORDER",
            offline="UNKNOWN",
        ),
    }
)


class MappingError(ValueError):
    """An OCPP status or profile the tables cannot translate; the message says why."""


def ocpi_status_for(ocpp_status: str, profile: str | None) -> str:
    """The OCPI EVSE status ``profile`` publishes for ``ocpp_status`` (any other value:
    UNKNOWN, as in every profile)."""
    name = profile or DEFAULT_PROFILE
    table = PROFILES.get(name)
    if table is None:
        known = ", ".join(PROFILES)
        raise MappingError(f"unknown mapping profile {name!r}; the harness knows {known}")
    if ocpp_status not in OCPP_STATUSES:
        raise MappingError(
            f"unknown OCPP status {ocpp_status!r}; allowed: {', '.join(OCPP_STATUSES)}"
        )
    status = table.get(ocpp_status, "UNKNOWN")
    if status == _KEEPS_LAST:
        raise MappingError(f"profile {name} keeps an offline EVSE's last status: name it instead")
    return status


def profiles_giving(ocpp_status: str, ocpi_status: str) -> list[str]:
    """The profiles that map ``ocpp_status`` to ``ocpi_status`` (to explain a mismatch)."""
    return [name for name, table in PROFILES.items() if table.get(ocpp_status) == ocpi_status]
