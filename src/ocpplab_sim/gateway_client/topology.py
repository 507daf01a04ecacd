"""The shape of a provisioned CPO network: locations → chargers → EVSEs.

Built from the gateway's location listing. The OCPP number of an EVSE is its 1-based position in
its charger's ``evses`` list, which the gateway orders by OCPP number: connectorId n for OCPP 1.6,
evseId n (connectorId 1) for OCPP 2.0.1.
"""

from __future__ import annotations

from collections.abc import Iterable

from pydantic import BaseModel, ConfigDict, model_validator

from ocpplab_sim.gateway_client.models import OcpiLocationResponse
from ocpplab_sim.vocabulary import OcppVersion

__all__ = [
    "OcppVersion",
    "Topology",
    "TopologyCharger",
    "TopologyEvse",
    "TopologyLocation",
]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class TopologyEvse(_Frozen):
    """One EVSE and where it sits in OCPP terms.

    ``ocpp_number`` is connectorId (OCPP 1.6) or evseId (OCPP 2.0.1), starting at 1.
    """

    evse_uid: str
    ocpi_evse_id: str | None
    ocpi_connector_id: str | None
    topology_id: str | None
    ocpp_number: int
    location_id: str
    charger_identity: str


class TopologyCharger(_Frozen):
    """One charger (an OCPP station) with its EVSEs in OCPP-number order."""

    id: str
    identity: str
    ocpp_version: OcppVersion
    location_id: str
    evses: tuple[TopologyEvse, ...]


class TopologyLocation(_Frozen):
    """One location (``id`` equals the OCPI Location ``id``) with its chargers."""

    id: str
    name: str | None
    chargers: tuple[TopologyCharger, ...]


class Topology(_Frozen):
    """A whole CPO network, immutable.

    Invariants (checked on construction, ``ValueError`` otherwise): EVSE uids and charger
    identities are unique across the network.
    """

    cpo_id: str
    locations: tuple[TopologyLocation, ...]

    @model_validator(mode="after")
    def _unique_keys(self) -> Topology:
        # Lookups by uid / identity would silently pick one of two duplicates; refuse instead.
        for what, keys in (
            ("EVSE uid", [e.evse_uid for e in self.evses]),
            ("charger identity", [c.identity for c in self.chargers]),
        ):
            seen: set[str] = set()
            for key in keys:
                if key in seen:
                    raise ValueError(f"duplicate {what} {key!r} in CPO {self.cpo_id}")
                seen.add(key)
        return self

    @property
    def chargers(self) -> tuple[TopologyCharger, ...]:
        """All chargers, location by location, in listing order."""
        return tuple(c for loc in self.locations for c in loc.chargers)

    @property
    def evses(self) -> tuple[TopologyEvse, ...]:
        """All EVSEs, charger by charger, in OCPP-number order within each charger."""
        return tuple(e for c in self.chargers for e in c.evses)

    def evse(self, evse_uid: str) -> TopologyEvse:
        """The EVSE with this uid. Raises ``KeyError`` if there is none."""
        for e in self.evses:
            if e.evse_uid == evse_uid:
                return e
        raise KeyError(f"no EVSE {evse_uid!r} in CPO {self.cpo_id}")

    def charger(self, identity: str) -> TopologyCharger:
        """The charger with this OCPP identity. Raises ``KeyError`` if there is none."""
        for c in self.chargers:
            if c.identity == identity:
                return c
        raise KeyError(f"no charger {identity!r} in CPO {self.cpo_id}")

    @classmethod
    def from_locations(cls, cpo_id: str, locations: Iterable[OcpiLocationResponse]) -> Topology:
        """Build the topology from the gateway's location listing, keeping its order.

        Raises ``ValueError`` when a charger's ``ocpp_version`` is not ``"1.6"`` or ``"2.0.1"``,
        or when uids / identities repeat.
        """
        built: list[TopologyLocation] = []
        for loc in locations:
            chargers: list[TopologyCharger] = []
            for ch in loc.chargers:
                version = ch.ocpp_version
                if version != "1.6" and version != "2.0.1":
                    raise ValueError(
                        f"charger {ch.identity!r} has ocpp_version {version!r}; "
                        "expected '1.6' or '2.0.1'"
                    )
                evses = tuple(
                    TopologyEvse(
                        evse_uid=ev.evse_uid,
                        ocpi_evse_id=ev.ocpi_evse_id,
                        ocpi_connector_id=ev.ocpi_connector_id,
                        topology_id=ev.topology_id,
                        ocpp_number=number,
                        location_id=loc.id,
                        charger_identity=ch.identity,
                    )
                    for number, ev in enumerate(ch.evses, start=1)
                )
                chargers.append(
                    TopologyCharger(
                        id=ch.id,
                        identity=ch.identity,
                        ocpp_version=version,
                        location_id=loc.id,
                        evses=evses,
                    )
                )
            built.append(TopologyLocation(id=loc.id, name=loc.name, chargers=tuple(chargers)))
        return cls(cpo_id=cpo_id, locations=tuple(built))
