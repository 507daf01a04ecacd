"""One simulated charge point as a sans-I/O protocol object.

:class:`ChargePointProtocol` owns the station model, the 1.6J / 2.0.1 adapter, the OCPP-J
session with its one ordered outbox, the transaction-message queue and every command's state
machine. It has no asyncio, no sockets and no clock: ``fleet`` drives it over a link.
"""

from ocpplab_sim.chargepoint.answers import ACCEPTING, ArmedAnswer
from ocpplab_sim.chargepoint.config import ChargePointConfig, FrameRecord, Transport
from ocpplab_sim.chargepoint.protocol import ChargePointProtocol
from ocpplab_sim.chargepoint.queue import FileOfflineQueue, MemoryOfflineQueue, OfflineQueue
from ocpplab_sim.chargepoint.session import CallObserver, Op

__all__ = [
    "ACCEPTING",
    "ArmedAnswer",
    "CallObserver",
    "ChargePointConfig",
    "ChargePointProtocol",
    "FileOfflineQueue",
    "FrameRecord",
    "MemoryOfflineQueue",
    "OfflineQueue",
    "Op",
    "Transport",
]
