"""The websocket side of a charge point: connection, reconnect policy, offline queue.

The only package that touches sockets. Imports ``protocol`` (framing, schemas), never ``fleet``.
"""

from ocpplab_sim.connection.client import (
    BasicAuth,
    FrameHook,
    IncomingHandler,
    OcppConnection,
    Reply,
)
from ocpplab_sim.connection.queue import FileOfflineQueue, MemoryOfflineQueue, OfflineQueue
from ocpplab_sim.connection.reconnect import ReconnectPolicy

__all__ = [
    "BasicAuth",
    "FileOfflineQueue",
    "FrameHook",
    "IncomingHandler",
    "MemoryOfflineQueue",
    "OcppConnection",
    "OfflineQueue",
    "ReconnectPolicy",
    "Reply",
]
