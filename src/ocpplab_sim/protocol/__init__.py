"""OCPP-J framing, official-schema validation and the 1.6J / 2.0.1 version adapters.

Imports ``station`` (inward) and never ``connection`` or ``fleet``; no sockets here.
"""

from ocpplab_sim.protocol.adapter import (
    Adapter,
    AvailabilityChange,
    BootResult,
    Command,
    Deauthorize,
    FirmwareUpdate,
    IncomingResult,
    LogUpload,
    OutgoingCall,
    RemoteStart,
    RemoteStop,
    ReportRequested,
    ResetRequested,
    SettingsChanged,
    TriggerRequested,
    iso,
)
from ocpplab_sim.protocol.rpc import (
    Call,
    CallError,
    CallErrorReply,
    CallResult,
    FrameError,
    Message,
    counter_ids,
    decode,
    encode,
)
from ocpplab_sim.protocol.schemas import SchemaViolation, Version, validate
from ocpplab_sim.protocol.settings import Settings
from ocpplab_sim.protocol.v16 import V16Adapter
from ocpplab_sim.protocol.v201 import V201Adapter

__all__ = [
    "Adapter",
    "AvailabilityChange",
    "BootResult",
    "Call",
    "CallError",
    "CallErrorReply",
    "CallResult",
    "Command",
    "Deauthorize",
    "FirmwareUpdate",
    "FrameError",
    "IncomingResult",
    "LogUpload",
    "Message",
    "OutgoingCall",
    "RemoteStart",
    "RemoteStop",
    "ReportRequested",
    "ResetRequested",
    "SchemaViolation",
    "Settings",
    "SettingsChanged",
    "TriggerRequested",
    "V16Adapter",
    "V201Adapter",
    "Version",
    "counter_ids",
    "decode",
    "encode",
    "iso",
    "validate",
]
