"""Composed simulated charge points for the scenario engine.

``SimulatedChargePoint`` joins the station model (``station``), an OCPP version adapter
(``protocol``) and a websocket connection (``connection``); ``Fleet`` runs many of them.
"""

from ocpplab_sim.chargepoint.config import ChargePointConfig, FrameRecord
from ocpplab_sim.connection import TRANSPORTS, Transport
from ocpplab_sim.fleet.chargepoint import SimulatedChargePoint
from ocpplab_sim.fleet.fleet import Fleet

__all__ = [
    "TRANSPORTS",
    "ChargePointConfig",
    "Fleet",
    "FrameRecord",
    "SimulatedChargePoint",
    "Transport",
]
