"""What the engine needs from the outside world, as protocols and plain values.

The runner adapts the real charge points, OCPI client and eMSP receiver to these; tests fake them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

__all__ = [
    "ChargerPort",
    "EvseView",
    "FrameLike",
    "PushSource",
    "PushView",
    "StatusSource",
]


class ChargerPort(Protocol):
    """What the engine needs of a simulated charge point (see ocpplab_sim.fleet)."""

    async def start(self) -> None: ...
    async def stop(self) -> None: ...
    async def plug_in(self, evse: int) -> None: ...
    async def unplug(self, evse: int) -> None: ...
    async def authorize(self, evse: int, id_token: str) -> str: ...
    async def start_charging(self, evse: int, id_token: str) -> None: ...
    async def stop_charging(self, evse: int, reason: str = "Local") -> None: ...


@dataclass(frozen=True)
class EvseView:
    """One EVSE as the OCPI peer shows it: status and connectors (OCPI field names, 2.2.1)."""

    status: str
    connectors: tuple[Mapping[str, Any], ...] = ()


class StatusSource(Protocol):
    """Where OCPI EVSE states are read from: EVSE uid → view, from one full pull."""

    async def evse_statuses(self) -> Mapping[str, EvseView]: ...


@dataclass(frozen=True)
class PushView:
    """One PUT/PATCH the CPO pushed to the harness's eMSP receiver, as it arrived.

    ``evse_uid`` is ``None`` for a push to a Location; ``problems`` lists what the receiver
    found wrong with it (a missing ``last_updated``, an unknown status, ...).
    """

    at: float
    method: str
    location_id: str
    evse_uid: str | None
    body: Mapping[str, Any]
    problems: tuple[str, ...] = field(default=())


class PushSource(Protocol):
    """Every push received so far, in arrival order."""

    def pushes(self) -> Sequence[PushView]: ...


class FrameLike(Protocol):
    @property
    def at(self) -> float: ...
    @property
    def direction(self) -> str: ...
    @property
    def identity(self) -> str: ...
    @property
    def message(self) -> list[Any]: ...
