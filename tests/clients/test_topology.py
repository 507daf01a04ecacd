"""Topology built from the location listing: order, OCPP numbers, lookups, invariants."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from pydantic import ValidationError

from ocpplab_sim.errors import GatewayApiError
from ocpplab_sim.gateway_client import (
    GatewayClient,
    OcpiLocationResponse,
    Topology,
)

from .payloads import GATEWAY, TOKEN, Recorder, charger_payload, location_list, location_payload


def listing() -> list[dict[str, Any]]:
    return [
        location_payload(
            "LOC-B",
            [
                charger_payload("CP-DC", ["DC_C1", "DC_C2", "DC_C3"], version="2.0.1"),
                charger_payload("CP-AC1", ["AC1"], version="1.6"),
            ],
        ),
        location_payload("LOC-A", [charger_payload("CP-AC2", ["AC2_C2", "AC2_C1"])]),
        location_payload("LOC-EMPTY"),
    ]


def build(locations: list[dict[str, Any]]) -> Topology:
    return Topology.from_locations(
        "101", [OcpiLocationResponse.model_validate(loc) for loc in locations]
    )


def test_order_follows_the_listing_and_ocpp_number_is_position() -> None:
    topo = build(listing())
    assert [loc.id for loc in topo.locations] == ["LOC-B", "LOC-A", "LOC-EMPTY"]
    assert [c.identity for c in topo.chargers] == ["CP-DC", "CP-AC1", "CP-AC2"]
    assert [(e.evse_uid, e.ocpp_number) for e in topo.evses] == [
        ("DC_C1", 1),
        ("DC_C2", 2),
        ("DC_C3", 3),
        ("AC1", 1),
        # The listing order wins over any numbering hidden in the uid.
        ("AC2_C2", 1),
        ("AC2_C1", 2),
    ]


def test_evse_carries_its_charger_location_and_ids() -> None:
    topo = build(listing())
    evse = topo.evse("DC_C2")
    assert evse.charger_identity == "CP-DC"
    assert evse.location_id == "LOC-B"
    assert evse.ocpi_connector_id == "1"
    assert evse.ocpi_evse_id == "FR*ABC*EDC_C2"
    assert evse.topology_id == "topo-DC_C2"
    charger = topo.charger("CP-AC2")
    assert charger.ocpp_version == "1.6"
    assert charger.location_id == "LOC-A"
    assert [e.evse_uid for e in charger.evses] == ["AC2_C2", "AC2_C1"]
    assert topo.charger("CP-DC").ocpp_version == "2.0.1"


def test_lookups_of_unknown_keys_raise_key_error() -> None:
    topo = build(listing())
    with pytest.raises(KeyError, match="NOPE"):
        topo.evse("NOPE")
    with pytest.raises(KeyError, match="CP-NONE"):
        topo.charger("CP-NONE")


def test_topology_is_frozen() -> None:
    topo = build(listing())
    with pytest.raises(ValidationError):
        topo.cpo_id = "other"  # type: ignore[misc]
    with pytest.raises(ValidationError):
        topo.evses[0].ocpp_number = 9  # type: ignore[misc]


@pytest.mark.parametrize("version", [None, "1.5", "2.1"])
def test_unsupported_ocpp_version_is_refused(version: str | None) -> None:
    locations = [location_payload("L", [charger_payload("CP", ["E"], version=version)])]
    with pytest.raises(ValueError, match="ocpp_version"):
        build(locations)


def test_duplicate_evse_uid_is_refused() -> None:
    locations = [
        location_payload("L1", [charger_payload("CP-1", ["E1"])]),
        location_payload("L2", [charger_payload("CP-2", ["E1"])]),
    ]
    with pytest.raises(ValueError, match="duplicate EVSE uid 'E1'"):
        build(locations)


async def test_client_topology_reads_every_page() -> None:
    pages = [listing()[:2], listing()[2:]]

    def handler(request: httpx.Request) -> httpx.Response:
        page = int(request.url.params["page"])
        limit = int(request.url.params["limit"])
        body = location_list(pages[page - 1], total=3, page=page, limit=limit)
        return httpx.Response(200, json=body)

    rec = Recorder(handler)
    async with GatewayClient(GATEWAY, TOKEN, transport=rec.transport) as gw:
        topo = await gw.topology("101")
    assert len(rec.requests) == 2
    assert topo.cpo_id == "101"
    assert [e.evse_uid for e in topo.evses][-2:] == ["AC2_C2", "AC2_C1"]
    assert topo.evse("AC2_C1").ocpp_number == 2


async def test_client_topology_turns_bad_listing_into_gateway_api_error() -> None:
    locations = [
        location_payload("L1", [charger_payload("CP-1", ["E1"])]),
        location_payload("L2", [charger_payload("CP-1", ["E2"])]),
    ]
    body = location_list(locations, total=2, page=1, limit=50)
    rec = Recorder(lambda _r: httpx.Response(200, json=body))
    async with GatewayClient(GATEWAY, TOKEN, transport=rec.transport) as gw:
        with pytest.raises(GatewayApiError, match="duplicate charger identity 'CP-1'") as ei:
            await gw.topology("101")
    assert "\n" not in str(ei.value)
