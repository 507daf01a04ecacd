"""Portable selectors: a scenario names a place without an id the gateway assigns — a location by
its name or its place ``L<n>``, a charger by ``L<n>-C<m>`` — and assigned ids keep working."""

from __future__ import annotations

import pytest

from ocpplab_sim.scenario.selectors import SelectionError, select_chargers, select_evses
from ocpplab_sim.scenario.types import Selector
from ocpplab_sim.topology import Charger, Evse, Topology


def network(cpo: str) -> Topology:
    """Two locations as a gateway would assign them for CPO ``cpo``: ids carry the CPO id."""
    chargers = []
    for loc, name, count in (("L1", "Parking Bastille", 2), ("L2", "Gare de Lyon", 3)):
        for n in range(1, count + 1):
            identity = f"urban-{cpo}-{loc}-{n:02d}"
            evse = Evse(f"{identity}-E1", identity, 1, f"{cpo}-{loc}")
            chargers.append(Charger(identity, "1.6", f"{cpo}-{loc}", (evse,), name))
    return Topology.of(chargers)


def chosen(raw: object, topology: Topology) -> list[str]:
    return [evse.charger for evse in select_evses(Selector.parse(raw), topology)]


@pytest.mark.parametrize("cpo", ["1", "101", "9042"])
def test_the_same_portable_names_select_the_same_places_whatever_ids_the_gateway_gave(
    cpo: str,
) -> None:
    topology = network(cpo)
    second = [f"urban-{cpo}-L2-{n:02d}" for n in (1, 2, 3)]
    assert chosen({"location": "L2"}, topology) == second
    assert chosen({"location": "Gare de Lyon"}, topology) == second
    assert chosen({"location": f"{cpo}-L2"}, topology) == second  # the assigned id still works
    assert chosen({"charger": "L2-C3"}, topology) == [f"urban-{cpo}-L2-03"]
    assert chosen({"charger": ["L1-C1", f"urban-{cpo}-L2-01"]}, topology) == [
        f"urban-{cpo}-L1-01",
        f"urban-{cpo}-L2-01",
    ]
    picked = select_chargers(Selector.parse({"location": ["L1", "Gare de Lyon"]}), topology)
    assert len(picked) == 5


def test_an_unknown_portable_name_lists_what_there_is() -> None:
    with pytest.raises(SelectionError, match=r"no location 'L3'.*Gare de Lyon.*L1"):
        chosen({"location": "L3"}, network("7"))
    with pytest.raises(SelectionError, match="no charger 'L1-C3'"):
        chosen({"charger": "L1-C3"}, network("7"))


def test_labels_follow_the_topology_order_per_location() -> None:
    topology = network("5")
    assert [topology.charger_label(c.identity) for c in topology.chargers] == [
        "L1-C1",
        "L1-C2",
        "L2-C1",
        "L2-C2",
        "L2-C3",
    ]
    assert [topology.location_label(loc) for loc in topology.location_ids] == ["L1", "L2"]
