"""OCPI 2.2.1 models: required fields are required, enums are the spec's."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from pydantic import ValidationError

from ocpplab_sim.gateway_client import Party
from ocpplab_sim.ocpi_client import (
    DIALECTS,
    Credentials,
    Evse,
    EvseStatus,
    Location,
    VersionDetails,
)

from .payloads import cpo_credentials, ocpi_evse, ocpi_location


def test_evse_status_has_the_nine_spec_values() -> None:
    assert {s.value for s in EvseStatus} == {
        "AVAILABLE",
        "BLOCKED",
        "CHARGING",
        "INOPERATIVE",
        "OUTOFORDER",
        "PLANNED",
        "REMOVED",
        "RESERVED",
        "UNKNOWN",
    }


@pytest.mark.parametrize(
    "field",
    [
        "country_code",
        "party_id",
        "id",
        "publish",
        "address",
        "city",
        "country",
        "coordinates",
        "time_zone",
        "last_updated",
    ],
)
def test_location_required_fields(field: str) -> None:
    body = ocpi_location("L1")
    Location.model_validate(body)
    del body[field]
    with pytest.raises(ValidationError, match=field):
        Location.model_validate(body)


def test_location_without_evses_is_valid_and_extra_fields_are_kept() -> None:
    body = ocpi_location("L1")
    del body["evses"]
    body["facilities"] = ["CAFE"]
    loc = Location.model_validate(body)
    assert loc.evses == []
    assert loc.model_extra == {"facilities": ["CAFE"]}


@pytest.mark.parametrize(
    ("mutate", "match"),
    [
        (lambda e: e.update(status="BROKEN"), "status"),
        (lambda e: e.update(connectors=[]), "connectors"),
        (lambda e: e["connectors"][0].pop("max_amperage"), "max_amperage"),
        (lambda e: e["connectors"][0].update(power_type="AC_9_PHASE"), "power_type"),
        (lambda e: e.pop("last_updated"), "last_updated"),
    ],
)
def test_evse_and_connector_are_checked(mutate: Any, match: str) -> None:
    body = ocpi_evse("E1")
    Evse.model_validate(body)
    mutate(body)
    with pytest.raises(ValidationError, match=match):
        Evse.model_validate(body)


def test_credentials_need_at_least_one_role() -> None:
    body = cpo_credentials("tok", "http://x/versions")
    assert Credentials.model_validate(body).roles[0].business_details.name == "Demo CPO"
    body["roles"] = []
    with pytest.raises(ValidationError, match="roles"):
        Credentials.model_validate(body)


def test_221_dialect_encodes_the_header_but_not_the_body() -> None:
    dialect = DIALECTS["2.2.1"]
    assert dialect.authorization("abc-123") == "Token " + base64.b64encode(b"abc-123").decode()
    body = dialect.credentials_body(
        token="abc-123",
        url="http://emsp/versions",
        party=Party(country_code="BE", party_id="EMP"),
        business_name="Me",
    )
    assert body["token"] == "abc-123"
    assert body["roles"][0]["role"] == "EMSP"
    assert body["roles"][0]["country_code"] == "BE"


def test_221_dialect_finds_credentials_under_either_role() -> None:
    dialect = DIALECTS["2.2.1"]
    details = VersionDetails.model_validate(
        {
            "version": "2.2.1",
            "endpoints": [
                {"identifier": "credentials", "role": "SENDER", "url": "http://c"},
                {"identifier": "locations", "role": "RECEIVER", "url": "http://l"},
            ],
        }
    )
    endpoint = dialect.credentials_endpoint(details)
    assert endpoint is not None
    assert endpoint.url == "http://c"
    # A Locations *receiver* is not where an eMSP pulls from.
    assert dialect.locations_sender(details) is None
