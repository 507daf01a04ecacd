"""Resolve a step's selector against the topology under test."""

from __future__ import annotations

import random

from ocpplab_sim.scenario.language.types import Selector
from ocpplab_sim.topology import Charger, Evse, Topology

__all__ = ["SelectionError", "select_chargers", "select_evses"]


class SelectionError(ValueError):
    """The selector matches nothing, or points outside the topology."""


def select_evses(selector: Selector, topology: Topology, *, seed: int = 0) -> tuple[Evse, ...]:
    """The EVSEs ``selector`` names, in topology order, without repeats.

    A ``sample`` draws with a generator seeded by ``seed`` and the sample's own description, so
    one run picks the same EVSEs for the same expression, and ``--seed`` changes the pick.
    Raises SelectionError when an index is out of range, a name is unknown, a sample asks for
    more EVSEs than its selection has, or nothing matches.
    """
    evses = topology.evses
    if selector.kind == "all":
        chosen = evses
    elif selector.kind == "sample":
        assert selector.of is not None
        pool = select_evses(selector.of, topology, seed=seed)
        n = int(selector.values[0])
        if n > len(pool):
            raise SelectionError(
                f"sample of {n} from ({selector.of.describe()}), which has only {len(pool)} EVSEs"
            )
        rng = random.Random(f"{seed}/{selector.describe()}")
        picked = {evse.uid for evse in rng.sample(pool, n)}
        chosen = tuple(evse for evse in pool if evse.uid in picked)
    elif selector.kind == "index":
        out_of_range = [v for v in selector.values if not isinstance(v, int) or v >= len(evses)]
        if out_of_range:
            raise SelectionError(
                f"index {out_of_range[0]} is out of range: the topology has {len(evses)} EVSEs "
                f"(0..{len(evses) - 1})"
            )
        wanted_index = set(selector.values)
        chosen = tuple(evse for i, evse in enumerate(evses) if i in wanted_index)
    else:
        wanted = {str(v) for v in selector.values}
        names = {evse.uid: _names(selector.kind, evse, topology) for evse in evses}
        known = set().union(*names.values())
        unknown = sorted(wanted - known)
        if unknown:
            shown = ", ".join(sorted(known)[:8]) or "none"
            raise SelectionError(
                f"no {selector.kind} {unknown[0]!r} in the topology (have: {shown})"
            )
        chosen = tuple(evse for evse in evses if names[evse.uid] & wanted)
    if not chosen:
        raise SelectionError(f"selector {selector.describe()} matches no EVSE")
    return chosen


def select_chargers(
    selector: Selector, topology: Topology, *, seed: int = 0
) -> tuple[Charger, ...]:
    """The chargers that own the EVSEs ``selector`` names, in topology order."""
    evses = select_evses(selector, topology, seed=seed)
    identities = dict.fromkeys(evse.charger for evse in evses)
    return tuple(topology.charger(identity) for identity in identities)


def _names(kind: str, evse: Evse, topology: Topology) -> set[str]:
    """Every name ``evse`` answers to as a ``kind`` selector: the ids the network assigned and,
    for chargers and locations, the portable names (a location's name and its ``L<n>``
    label, a charger's ``L<n>-C<m>``), which hold on any gateway and across runs."""
    if kind == "evse_uid":
        return {evse.uid}
    if kind == "charger":
        return {evse.charger, topology.charger_label(evse.charger)}
    if kind == "location":
        names = {evse.location_id, topology.location_label(evse.location_id)}
        location_name = topology.charger_of(evse).location_name
        return names | ({location_name} if location_name else set())
    if kind == "topology_id":
        return {evse.topology_id} if evse.topology_id is not None else set()
    return {topology.charger_of(evse).ocpp_version}
