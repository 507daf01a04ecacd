"""Sans-I/O charge-point model: events in, version-neutral intents out.

Imports nothing from ``protocol``, ``connection`` or ``fleet``; no asyncio, no sockets.
"""

from ocpplab_sim.station.intents import (
    ChargingStateChanged,
    Intent,
    MeterSample,
    Status,
    StatusChanged,
    StopReason,
    TransactionIntent,
    TransactionStarted,
    TransactionStopped,
)
from ocpplab_sim.station.meter import Meter, MeterReading
from ocpplab_sim.station.station import Evse, Station, StationError, Transaction

__all__ = [
    "ChargingStateChanged",
    "Evse",
    "Intent",
    "Meter",
    "MeterReading",
    "MeterSample",
    "Station",
    "StationError",
    "Status",
    "StatusChanged",
    "StopReason",
    "Transaction",
    "TransactionIntent",
    "TransactionStarted",
    "TransactionStopped",
]
