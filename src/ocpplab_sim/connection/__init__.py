"""The websocket side of a charge point: connection, reconnect policy, offline queue.

The only package that touches sockets (``links``: over websockets or picows). Imports
``protocol`` (framing, schemas), never ``fleet``.
"""

from ocpplab_sim.connection.client import (
    BasicAuth,
    CallObserver,
    FrameHook,
    IncomingHandler,
    OcppConnection,
    Reply,
)
from ocpplab_sim.connection.links import TRANSPORTS, Link, LinkError, Transport
from ocpplab_sim.connection.queue import FileOfflineQueue, MemoryOfflineQueue, OfflineQueue
from ocpplab_sim.connection.reconnect import ReconnectPolicy

__all__ = [
    "TRANSPORTS",
    "BasicAuth",
    "CallObserver",
    "FileOfflineQueue",
    "FrameHook",
    "IncomingHandler",
    "Link",
    "LinkError",
    "MemoryOfflineQueue",
    "OcppConnection",
    "OfflineQueue",
    "ReconnectPolicy",
    "Reply",
    "Transport",
]
