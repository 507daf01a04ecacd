"""The network under test, version-neutral: locations → chargers → EVSEs.

Built by the runner from whatever describes the network (the Gateway API's locations today, an
inline topology in a scenario later). The scenario engine and the selectors only ever see this, so
they do not depend on any one edge's wire models.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

__all__ = ["Charger", "Evse", "OcppVersion", "Topology"]

OcppVersion = Literal["1.6", "2.0.1"]


@dataclass(frozen=True)
class Evse:
    """One OCPI EVSE, mapped 1:1 to an OCPP (station, connectorId | evseId).

    ``number`` is the OCPP number on its charger: connectorId (1.6) or evseId (2.0.1), 1-based.
    """

    uid: str
    charger: str
    number: int
    location_id: str
    ocpi_evse_id: str | None = None
    topology_id: str | None = None


@dataclass(frozen=True)
class Charger:
    """One OCPP charge point (station) and its EVSEs in OCPP number order."""

    identity: str
    ocpp_version: OcppVersion
    location_id: str
    evses: tuple[Evse, ...]


@dataclass(frozen=True)
class Topology:
    """Chargers in a stable order; ``evses`` flattens them, which is what selector indexes count."""

    chargers: tuple[Charger, ...]
    _by_uid: dict[str, Evse] = field(init=False, repr=False, compare=False)
    _by_identity: dict[str, Charger] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        by_uid: dict[str, Evse] = {}
        for charger in self.chargers:
            for evse in charger.evses:
                if evse.uid in by_uid:
                    raise ValueError(f"duplicate EVSE uid {evse.uid!r} in topology")
                by_uid[evse.uid] = evse
        by_identity = {charger.identity: charger for charger in self.chargers}
        if len(by_identity) != len(self.chargers):
            raise ValueError("duplicate charger identity in topology")
        object.__setattr__(self, "_by_uid", by_uid)
        object.__setattr__(self, "_by_identity", by_identity)

    @classmethod
    def of(cls, chargers: Iterable[Charger]) -> Topology:
        return cls(tuple(chargers))

    @property
    def evses(self) -> tuple[Evse, ...]:
        return tuple(evse for charger in self.chargers for evse in charger.evses)

    @property
    def location_ids(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(charger.location_id for charger in self.chargers))

    def evse(self, uid: str) -> Evse:
        """The EVSE with this uid; ``KeyError`` if there is none."""
        return self._by_uid[uid]

    def charger(self, identity: str) -> Charger:
        """The charger with this identity; ``KeyError`` if there is none."""
        return self._by_identity[identity]

    def charger_of(self, evse: Evse) -> Charger:
        return self._by_identity[evse.charger]
