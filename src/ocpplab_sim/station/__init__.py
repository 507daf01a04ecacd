"""Sans-I/O charge-point model: events in, version-neutral intents out.

Imports nothing from ``protocol``, ``connection`` or ``fleet``; no asyncio, no sockets.
"""

from ocpplab_sim.station.auth import AuthEntry, AuthStore
from ocpplab_sim.station.evse import Ev, Evse, Reservation, Transaction
from ocpplab_sim.station.intents import (
    ChargingStateChanged,
    Intent,
    MeterSample,
    ReservationEnded,
    Status,
    StatusChanged,
    StopReason,
    TransactionIntent,
    TransactionStarted,
    TransactionStopped,
    decode_intent,
    encode_intent,
)
from ocpplab_sim.station.meter import Meter, MeterReading
from ocpplab_sim.station.profiles import ChargingProfile, ProfileSet, SchedulePeriod
from ocpplab_sim.station.station import Station, StationError

__all__ = [
    "AuthEntry",
    "AuthStore",
    "ChargingProfile",
    "ChargingStateChanged",
    "Ev",
    "Evse",
    "Intent",
    "Meter",
    "MeterReading",
    "MeterSample",
    "ProfileSet",
    "Reservation",
    "ReservationEnded",
    "SchedulePeriod",
    "Station",
    "StationError",
    "Status",
    "StatusChanged",
    "StopReason",
    "Transaction",
    "TransactionIntent",
    "TransactionStarted",
    "TransactionStopped",
    "decode_intent",
    "encode_intent",
]
