"""Charge-point actions beyond the charging cycle, central-system operations and the expectations
on what the central system sent and what the gateway reported: declared with their handlers in
:mod:`ocpplab_sim.scenario.language.steps.charger` and
:mod:`ocpplab_sim.scenario.language.steps.csms`; this import path keeps working."""

from __future__ import annotations

from ocpplab_sim.scenario.language.steps.charger import (
    ClearFault,
    EvRequestsEnergy,
    EvStopsEnergy,
    InjectFault,
    NetworkLoss,
    PowerUpdate,
    Reboot,
    Reconnect,
    SendRaw,
    SetConfiguration,
)
from ocpplab_sim.scenario.language.steps.csms import (
    CancelReservation,
    ChangeAvailability,
    CsmsCall,
    CsmsOperation,
    ExpectCsms,
    ExpectReport,
    RemoteStart,
    RemoteStop,
    Reserve,
    Reset,
    Respond,
    Unlock,
)

__all__ = [
    "CancelReservation",
    "ChangeAvailability",
    "ClearFault",
    "CsmsCall",
    "CsmsOperation",
    "EvRequestsEnergy",
    "EvStopsEnergy",
    "ExpectCsms",
    "ExpectReport",
    "InjectFault",
    "NetworkLoss",
    "PowerUpdate",
    "Reboot",
    "Reconnect",
    "RemoteStart",
    "RemoteStop",
    "Reserve",
    "Reset",
    "Respond",
    "SendRaw",
    "SetConfiguration",
    "Unlock",
]
