"""The shared vocabulary agrees with the deliberate mirrors: the reference gateway's own wire
models, the station model's statuses and the official OCPP schemas."""

from __future__ import annotations

import json
from importlib import resources

from ocpplab_sim.gateway.mapping import OCPI_EVSE_STATUSES
from ocpplab_sim.station import Status
from ocpplab_sim.vocabulary import CHARGE_POINT_STATUSES_16, CONNECTOR_STATUSES_201, EvseStatus


def _enum(version: str, schema: str, *path: str) -> list[str]:
    folder = resources.files("ocpp") / version / "schemas"
    node = json.loads((folder / schema).read_text(encoding="utf-8"))
    for key in path:
        node = node[key]
    return list(node["enum"])


def test_the_gateway_publishes_the_same_ocpi_evse_statuses() -> None:
    assert set(OCPI_EVSE_STATUSES) == {status.value for status in EvseStatus}


def test_the_ocpp_statuses_are_the_official_ones() -> None:
    assert set(CHARGE_POINT_STATUSES_16) == set(
        _enum("v16", "StatusNotification.json", "properties", "status")
    )
    assert set(CONNECTOR_STATUSES_201) == set(
        _enum(
            "v201",
            "StatusNotificationRequest.json",
            "definitions",
            "ConnectorStatusEnumType",
        )
    )
    assert {status.value for status in Status} <= set(CHARGE_POINT_STATUSES_16)
