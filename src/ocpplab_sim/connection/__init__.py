"""The websocket side of a charge point: one link kept open, reconnect policy, TLS/auth plumbing.

The only package that touches charger sockets (``links``: over websockets or picows). It knows
nothing of OCPP messages: the sans-I/O ``chargepoint`` decides every byte it writes.
"""

from ocpplab_sim.connection.client import BasicAuth, LinkKeeper
from ocpplab_sim.connection.links import TRANSPORTS, Link, LinkError, Transport
from ocpplab_sim.connection.reconnect import ReconnectPolicy

__all__ = [
    "TRANSPORTS",
    "BasicAuth",
    "Link",
    "LinkError",
    "LinkKeeper",
    "ReconnectPolicy",
    "Transport",
]
