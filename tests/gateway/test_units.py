"""Unit tests of the pure parts: mapping profiles, templates, meter parsing, package boundary."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ocpp.charge_point import camel_to_snake_case, snake_to_camel_case

import ocpplab_sim.gateway as gateway
from ocpplab_sim.gateway import csms_base
from ocpplab_sim.gateway.csms_handlers import CentralSystem16, CentralSystem201
from ocpplab_sim.gateway.mapping import DEFAULT_PROFILE, OCPI_EVSE_STATUSES, PROFILES
from ocpplab_sim.gateway.station_store import energy_register_wh, parse_ocpp_time
from ocpplab_sim.gateway.templates import TemplateError, builtin_catalog, load_template

DEFAULT_TABLE = {
    "Available": "AVAILABLE",
    "Preparing": "CHARGING",
    "Charging": "CHARGING",
    "SuspendedEV": "CHARGING",
    "SuspendedEVSE": "CHARGING",
    "Finishing": "CHARGING",
    "Occupied": "CHARGING",
    "Reserved": "RESERVED",
    "Unavailable": "INOPERATIVE",
    "Faulted": "OUTOFORDER",
}


@pytest.mark.parametrize(("ocpp", "ocpi"), sorted(DEFAULT_TABLE.items()))
def test_default_profile_matches_contract(ocpp: str, ocpi: str):
    profile = PROFILES[DEFAULT_PROFILE]
    assert profile.ocpi_status(ocpp, online=True) == ocpi
    assert profile.ocpi_status(ocpp, online=False) == "UNKNOWN"


def test_default_profile_unknowns():
    profile = PROFILES["default"]
    assert profile.ocpi_status(None, online=True) == "UNKNOWN"
    assert profile.ocpi_status("Levitating", online=True) == "UNKNOWN"
    assert set(profile.table.values()) <= set(OCPI_EVSE_STATUSES)
    with pytest.raises(TypeError):
        profile.table["Available"] = "BLOCKED"  # type: ignore[index]


def test_builtin_templates():
    catalog = builtin_catalog()
    assert catalog["small-urban-ac"].topology() == {
        "locations": 2,
        "chargers": 6,
        "evses": 6,
        "connectors": 6,
    }
    highway = catalog["highway-dc"]
    assert highway.version == 1
    assert any(model.outputs > 1 for model in highway.models.values())
    assert {m.ocpp_version for m in highway.models.values()} == {"2.0.1"}
    assert {m.ocpp_version for m in catalog["small-urban-ac"].models.values()} == {"1.6"}
    for template in catalog.values():
        for loc in template.locations:
            assert len(loc.country) == 3 and "/" in loc.time_zone


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("name: x\nversion: [", "not valid YAML"),
        ("name: x\nversion: 1\nowner_name: o\nmodels: {}\nlocations: []", "locations"),
        (
            "name: x\nversion: 1\nowner_name: o\nmodels: {}\nlocations:\n"
            "  - {key: L1, name: n, address: a, city: c, country: FRA, latitude: 1,"
            " longitude: 2, time_zone: Europe/Paris, chargers: [{model: missing, count: 1}]}",
            "unknown charger model",
        ),
    ],
)
def test_bad_templates_are_rejected(text: str, message: str):
    with pytest.raises(TemplateError, match=message):
        load_template(text)


def test_energy_register_parsing():
    v16 = [
        {"sampled_value": [{"value": "1.5", "unit": "kWh"}, {"value": "7", "measurand": "Voltage"}]}
    ]
    assert energy_register_wh(v16) == 1500
    v201 = [
        {"sampled_value": [{"value": 12, "unit_of_measure": {"unit": "Wh", "multiplier": 3}}]},
        {"sampled_value": [{"value": 13000}]},
    ]
    assert energy_register_wh(v201) == 13000
    assert energy_register_wh([{"sampled_value": [{"value": "x"}]}]) is None
    phased = [{"sampled_value": [{"value": "5", "phase": "L1"}]}]
    assert energy_register_wh(phased) is None


def test_parse_ocpp_time():
    assert parse_ocpp_time("2024-05-01T10:00:00Z") is not None
    assert parse_ocpp_time("2024-05-01T10:00:00") is None
    assert parse_ocpp_time(None) is None


def test_public_api():
    assert set(gateway.__all__) >= {"GatewaySettings", "create_app", "EmbeddedGateway", "serve"}
    settings = gateway.GatewaySettings(db_url="sqlite+aiosqlite:///:memory:")
    assert (settings.token, settings.heartbeat_interval) == ("ocpplab-dev-token", 300)


def test_gateway_package_stands_alone():
    """The gateway imports nothing from the rest of ocpplab_sim (it is reached over the network)."""
    root = Path(gateway.__file__).parent
    offenders = []
    for path in root.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            offenders += [
                f"{path.name}: {n}"
                for n in names
                if n.startswith("ocpplab_sim") and not n.startswith("ocpplab_sim.gateway")
            ]
    assert offenders == []


def test_command_catalog_has_official_schemas():
    from ocpplab_sim.gateway.commands import CSMS_ACTIONS, schema_errors, validate_request

    for version, actions in CSMS_ACTIONS.items():
        for action in actions:
            # Loads the request and response schema of every operation the API can send.
            schema_errors(version, action, {}, response=False)
            schema_errors(version, action, {}, response=True)
    assert validate_request("1.6", "Reset", {"type": "Hard"}) == []
    assert validate_request("2.0.1", "Reset", {"type": "Hard"})[0]["loc"] == ["body", "payload"]
    assert validate_request("2.0.1", "RemoteStartTransaction", {})[0]["loc"] == ["body", "action"]


def test_parameterised_template_expands():
    large = builtin_catalog()["large-network"]
    concrete = large.expand({"locations": 3, "chargers_per_location": 7})
    assert [loc.key for loc in concrete.locations] == ["N1", "N2", "N3"]
    assert large.topology({"locations": 50, "chargers_per_location": 20})["chargers"] == 1000
    with pytest.raises(ValueError, match="between"):
        large.check_params({"locations": 0})
    depot = builtin_catalog()["mixed-depot"]
    assert {m.ocpp_version for m in depot.models.values()} == {"1.6", "2.0.1"}
    assert depot.topology() == {"locations": 1, "chargers": 6, "evses": 8, "connectors": 8}


@pytest.mark.parametrize("name", ["citrineos", "evserver", "greenflux"])
def test_alternative_profiles_cover_every_ocpp_status(name: str):
    profile = PROFILES[name]
    for status in DEFAULT_TABLE:
        assert profile.ocpi_status(status, online=True) in OCPI_EVSE_STATUSES
    assert PROFILES["citrineos"].ocpi_status(None, online=False, previous="CHARGING") == "CHARGING"
    assert PROFILES["evserver"].ocpi_status("Available", online=False) == "INOPERATIVE"


_KEYS = st.one_of(
    st.sampled_from(
        [
            "chargePointVendor",
            "connectorId",
            "ocppCSMSURL",
            "evseId",
            "V2XChargingParameters",
            "soc_limit_reached",
            "responder_url",
            "charging_station",
            "custom_data",
        ]
    ),
    st.text(max_size=12),
)
_PAYLOADS = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_KEYS, inner, max_size=4),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(payload=_PAYLOADS)
def test_key_conversion_is_the_librarys(payload: object) -> None:
    """The gateway's cached key conversion gives what the ``ocpp`` library's functions give."""
    assert csms_base._to_snake(payload) == camel_to_snake_case(payload)
    assert csms_base._to_camel(payload) == snake_to_camel_case(payload)


def test_no_central_system_handler_is_an_after_hook() -> None:
    """The gateway's dispatch runs ``@on`` handlers only (no ``@after`` ones exist)."""
    for cls in (CentralSystem16, CentralSystem201):
        handlers = [getattr(cls, name) for name in dir(cls)]
        assert any(hasattr(h, "_on_action") for h in handlers)
        assert not [h for h in handlers if hasattr(h, "_after_action")], cls
