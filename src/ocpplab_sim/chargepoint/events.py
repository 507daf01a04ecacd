"""What a charge point's driver can make happen: the events of
:meth:`~ocpplab_sim.chargepoint.protocol.ChargePointProtocol.act`.

Plain frozen data: a scenario step, a control API or a property-based test builds one and
hands it over with the time it happened.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ocpplab_sim.station import Ev

__all__ = [
    "Authorize",
    "DataTransfer",
    "Event",
    "PlugIn",
    "Reboot",
    "SendRaw",
    "SetEvDemand",
    "SetFault",
    "SetPowerLimit",
    "StartCharging",
    "StopCharging",
    "Unplug",
]


@dataclass(frozen=True, slots=True)
class PlugIn:
    """A cable is plugged in (1.6 Preparing, 2.0.1 Occupied); ``ev`` describes the car."""

    evse: int
    ev: Ev | None = None


@dataclass(frozen=True, slots=True)
class Unplug:
    """The cable is removed; a running transaction ends first (EVDisconnected)."""

    evse: int


@dataclass(frozen=True, slots=True)
class Authorize:
    """A token is presented; the op's result is the authorization status."""

    evse: int
    id_token: str


@dataclass(frozen=True, slots=True)
class StartCharging:
    """Plug in if needed, authorize, start the transaction (fails if the token is refused)."""

    evse: int
    id_token: str


@dataclass(frozen=True, slots=True)
class StopCharging:
    """End the transaction; ``reason`` is a 1.6 Reason / 2.0.1 ReasonEnumType value."""

    evse: int
    reason: str = "Local"


@dataclass(frozen=True, slots=True)
class SetEvDemand:
    evse: int
    wants_energy: bool


@dataclass(frozen=True, slots=True)
class SetPowerLimit:
    evse: int
    limit_w: float | None


@dataclass(frozen=True, slots=True)
class SetFault:
    evse: int
    faulted: bool
    error_code: str = "OtherError"


@dataclass(frozen=True, slots=True)
class DataTransfer:
    """DataTransfer to the central system; the op's result is its answer."""

    vendor_id: str
    message_id: str | None = None
    data: str | None = None


@dataclass(frozen=True, slots=True)
class SendRaw:
    """Any CALL (still schema-checked in strict mode); the op's result is its answer."""

    action: str
    payload: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Reboot:
    """Power-cycle: transactions end (PowerLoss), then the connection restarts and the charge
    point boots with ``reason`` (2.0.1 BootReason) and reports ResetOrReboot."""

    reason: str = "PowerUp"


Event = (
    PlugIn
    | Unplug
    | Authorize
    | StartCharging
    | StopCharging
    | SetEvDemand
    | SetPowerLimit
    | SetFault
    | DataTransfer
    | SendRaw
    | Reboot
)
