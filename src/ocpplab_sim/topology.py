"""The network under test, version-neutral: locations → chargers → EVSEs.

Built by the runner from whatever describes the network (the Gateway API's locations today, an
inline topology in a scenario later). The scenario engine and the selectors only ever see this, so
they do not depend on any one edge's wire models.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from ocpplab_sim.vocabulary import OcppVersion

__all__ = ["Charger", "Evse", "OcppVersion", "Topology"]


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
    """One OCPP charge point (station) and its EVSEs in OCPP number order; ``location_name`` is
    the location's name where the network gives one."""

    identity: str
    ocpp_version: OcppVersion
    location_id: str
    evses: tuple[Evse, ...]
    location_name: str | None = None


@dataclass(frozen=True)
class Topology:
    """Chargers in a stable order; ``evses`` flattens them, which is what selector indexes count."""

    chargers: tuple[Charger, ...]
    _by_uid: dict[str, Evse] = field(init=False, repr=False, compare=False)
    _by_identity: dict[str, Charger] = field(init=False, repr=False, compare=False)
    _location_labels: dict[str, str] = field(init=False, repr=False, compare=False)
    _charger_labels: dict[str, str] = field(init=False, repr=False, compare=False)

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
        locations: dict[str, str] = {}
        chargers: dict[str, str] = {}
        per_location: dict[str, int] = {}
        for charger in self.chargers:
            location = charger.location_id
            if location not in locations:
                locations[location] = f"L{len(locations) + 1}"
            per_location[location] = per_location.get(location, 0) + 1
            chargers[charger.identity] = f"{locations[location]}-C{per_location[location]}"
        object.__setattr__(self, "_location_labels", locations)
        object.__setattr__(self, "_charger_labels", chargers)

    @classmethod
    def of(cls, chargers: Iterable[Charger]) -> Topology:
        return cls(tuple(chargers))

    @property
    def evses(self) -> tuple[Evse, ...]:
        return tuple(evse for charger in self.chargers for evse in charger.evses)

    @property
    def location_ids(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(charger.location_id for charger in self.chargers))

    def location_label(self, location_id: str) -> str:
        """``L<n>``: the location's place in the network, 1-based in topology order (the
        location keys of the reference gateway's templates)."""
        return self._location_labels[location_id]

    def charger_label(self, identity: str) -> str:
        """``L<n>-C<m>``: the m-th charger (1-based) of the n-th location."""
        return self._charger_labels[identity]

    def evse(self, uid: str) -> Evse:
        """The EVSE with this uid; ``KeyError`` if there is none."""
        return self._by_uid[uid]

    def charger(self, identity: str) -> Charger:
        """The charger with this identity; ``KeyError`` if there is none."""
        return self._by_identity[identity]

    def charger_of(self, evse: Evse) -> Charger:
        return self._by_identity[evse.charger]
