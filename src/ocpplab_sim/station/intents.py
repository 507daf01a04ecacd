"""Version-neutral vocabulary of the station model: statuses, stop reasons and intents.

Intents are what the station asks its owner to tell the central system. They are frozen,
plain-data dataclasses so that an offline queue can hold them (and later persist them) and a
protocol adapter can translate them into OCPP 1.6J or 2.0.1 payloads at delivery time.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

__all__ = [
    "ChargingStateChanged",
    "Intent",
    "MeterSample",
    "ReservationEnded",
    "Status",
    "StatusChanged",
    "StopReason",
    "TransactionIntent",
    "TransactionStarted",
    "TransactionStopped",
    "decode_intent",
    "encode_intent",
]


class Status(StrEnum):
    """Internal EVSE status; the 1.6 ChargePointStatus values (OCPP 1.6 §7.7).

    The 2.0.1 adapter folds Preparing..Finishing into ``Occupied`` (OCPP 2.0.1 Part 2, G01).
    """

    AVAILABLE = "Available"
    PREPARING = "Preparing"
    CHARGING = "Charging"
    SUSPENDED_EV = "SuspendedEV"
    SUSPENDED_EVSE = "SuspendedEVSE"
    FINISHING = "Finishing"
    RESERVED = "Reserved"
    UNAVAILABLE = "Unavailable"
    FAULTED = "Faulted"


class StopReason(StrEnum):
    """Why a transaction ended: the union of 1.6 ``Reason`` and 2.0.1 ``ReasonEnumType``.

    Each adapter maps a value its version lacks to the nearest one, else ``Other``.
    """

    LOCAL = "Local"
    REMOTE = "Remote"
    EV_DISCONNECTED = "EVDisconnected"
    DEAUTHORIZED = "DeAuthorized"
    EMERGENCY_STOP = "EmergencyStop"
    HARD_RESET = "HardReset"
    SOFT_RESET = "SoftReset"
    IMMEDIATE_RESET = "ImmediateReset"
    POWER_LOSS = "PowerLoss"
    REBOOT = "Reboot"
    UNLOCK_COMMAND = "UnlockCommand"
    ENERGY_LIMIT_REACHED = "EnergyLimitReached"
    STOPPED_BY_EV = "StoppedByEV"
    TIMEOUT = "Timeout"
    OTHER = "Other"


@dataclass(frozen=True, slots=True)
class StatusChanged:
    """The status of ``evse`` became ``status`` at ``timestamp`` (epoch seconds).

    ``evse == 0`` is the whole station (1.6 connector 0, OCPP 1.6 §4.9).
    """

    evse: int
    status: Status
    timestamp: float
    fault: bool = False
    error_code: str | None = None


@dataclass(frozen=True, slots=True)
class TransactionStarted:
    """A transaction began on ``evse``.

    ``transaction_id`` is the station's own id (a uuid); the 1.6 adapter maps it to the
    integer id the central system assigns. ``remote_start_id`` is set when the central system
    asked for the start (2.0.1 RequestStartTransaction / 1.6 RemoteStartTransaction).
    """

    evse: int
    transaction_id: str
    id_token: str
    meter_start_wh: float
    timestamp: float
    remote_start_id: int | None = None
    id_token_type: str = "ISO14443"
    reservation_id: int | None = None
    offline: bool = False


@dataclass(frozen=True, slots=True)
class ReservationEnded:
    """A reservation ended without being used: ``Expired`` or ``Removed`` (2.0.1 Part 2, H01
    ReservationStatusUpdate; 1.6 reports the status change only, §5.13)."""

    evse: int
    reservation_id: int
    reason: str
    timestamp: float


@dataclass(frozen=True, slots=True)
class ChargingStateChanged:
    """The charging state of a running transaction changed (2.0.1 E01 ChargingStateChanged)."""

    evse: int
    transaction_id: str
    status: Status
    timestamp: float
    offline: bool = False


@dataclass(frozen=True, slots=True)
class MeterSample:
    """One periodic meter reading of a running transaction (1.6 §4.7, 2.0.1 J02)."""

    evse: int
    transaction_id: str
    timestamp: float
    energy_wh: float
    power_w: float
    current_a: float
    voltage_v: float
    context: str = "Sample.Periodic"
    soc_pct: float | None = None
    offered_w: float = 0.0
    offline: bool = False


@dataclass(frozen=True, slots=True)
class TransactionStopped:
    """A transaction ended on ``evse``; ``plugged`` tells whether the cable is still in."""

    evse: int
    transaction_id: str
    id_token: str
    meter_start_wh: float
    meter_stop_wh: float
    timestamp: float
    reason: StopReason
    plugged: bool
    offline: bool = False


TransactionIntent = TransactionStarted | ChargingStateChanged | MeterSample | TransactionStopped
"""Transaction-related messages (OCPP 1.6 §4.7, §4.8, §4.10; 2.0.1 Part 2, E04): queued while
offline and delivered in order. Status changes are not queued; the latest is re-sent instead.
``offline`` is set by the charge point on an intent created while it had no connection (2.0.1
TransactionEvent ``offline``, E04.FR.03); the station itself never knows."""

Intent = StatusChanged | ReservationEnded | TransactionIntent

_TYPES: dict[str, type[TransactionIntent]] = {
    cls.__name__: cls
    for cls in (TransactionStarted, ChargingStateChanged, MeterSample, TransactionStopped)
}


def encode_intent(intent: TransactionIntent) -> dict[str, Any]:
    """A JSON-ready dict of a transaction intent (for a durable offline queue)."""
    data = {name: getattr(intent, name) for name in intent.__slots__}
    data["type"] = type(intent).__name__
    return data


def decode_intent(data: dict[str, Any]) -> TransactionIntent:
    """The inverse of :func:`encode_intent`; raises ValueError on an unknown type."""
    fields = dict(data)
    cls = _TYPES.get(str(fields.pop("type", "")))
    if cls is None:
        raise ValueError(f"not a transaction intent: {data.get('type')!r}")
    if "status" in fields:
        fields["status"] = Status(fields["status"])
    if "reason" in fields:
        fields["reason"] = StopReason(fields["reason"])
    return cls(**fields)
