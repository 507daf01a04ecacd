"""What a charge point's driver can make happen: the events of
:meth:`~ocpplab_sim.chargepoint.protocol.ChargePointProtocol.act`.

Plain immutable data (named tuples: one is built for every action of a load run): a scenario
step, a control API or a property-based test builds one and hands it over with the time it
happened.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from ocpplab_sim.station import Ev

__all__ = [
    "Authorize",
    "DataTransfer",
    "Event",
    "PlugIn",
    "Reboot",
    "Reset",
    "SendRaw",
    "SetEnergy",
    "SetEvDemand",
    "SetEvPower",
    "SetFault",
    "SetPowerLimit",
    "SetSoc",
    "StartCharging",
    "StopCharging",
    "Trigger",
    "Unplug",
]


class PlugIn(NamedTuple):
    """A cable is plugged in (1.6 Preparing, 2.0.1 Occupied); ``ev`` describes the car."""

    evse: int
    ev: Ev | None = None


class Unplug(NamedTuple):
    """The cable is removed; a running transaction ends first (EVDisconnected)."""

    evse: int


class Authorize(NamedTuple):
    """A token is presented; the op's result is the authorization status."""

    evse: int
    id_token: str


class StartCharging(NamedTuple):
    """Plug in if needed, authorize, start the transaction (fails if the token is refused)."""

    evse: int
    id_token: str


class StopCharging(NamedTuple):
    """End the transaction; ``reason`` is a 1.6 Reason / 2.0.1 ReasonEnumType value."""

    evse: int
    reason: str = "Local"


class SetEvDemand(NamedTuple):
    evse: int
    wants_energy: bool


class SetPowerLimit(NamedTuple):
    evse: int
    limit_w: float | None


class SetFault(NamedTuple):
    evse: int
    faulted: bool
    error_code: str = "OtherError"


class SetEvPower(NamedTuple):
    """The plugged EV draws at most ``power_w`` from now on."""

    evse: int
    power_w: float


class SetSoc(NamedTuple):
    """The plugged EV's state of charge is ``soc_pct`` from now on."""

    evse: int
    soc_pct: float


class SetEnergy(NamedTuple):
    """Set the energy register of a running transaction (never lower) and send a meter
    sample at once (1.6 MeterValues, 2.0.1 TransactionEvent Updated)."""

    evse: int
    energy_wh: float


class Trigger(NamedTuple):
    """Send ``message`` now, as a TriggerMessage of the central system would (1.6 §5.17,
    2.0.1 F06): a TriggerMessage name of either version; ``evse`` None is every EVSE."""

    message: str
    evse: int | None = None


class Reset(NamedTuple):
    """Reset on the spot: ``kind`` 1.6 ``Soft``/``Hard`` or 2.0.1 ``Immediate``/``OnIdle``;
    with ``evse`` (2.0.1) only that EVSE. Boot reason LocalReset."""

    kind: str
    evse: int | None = None


class DataTransfer(NamedTuple):
    """DataTransfer to the central system; the op's result is its answer."""

    vendor_id: str
    message_id: str | None = None
    data: str | None = None


class SendRaw(NamedTuple):
    """Any CALL (still schema-checked in strict mode); the op's result is its answer. The
    payload is sent as given: it must not change until the op is done."""

    action: str
    payload: dict[str, Any]


class Reboot(NamedTuple):
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
    | SetEvPower
    | SetSoc
    | SetEnergy
    | SetFault
    | Trigger
    | Reset
    | DataTransfer
    | SendRaw
    | Reboot
)
