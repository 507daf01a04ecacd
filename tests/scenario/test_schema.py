"""The exported JSON Schema describes the scenario files as written."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from jsonschema.exceptions import best_match

from ocpplab_sim.scenario.schema import scenario_schema

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft202012Validator:
    schema = scenario_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


@pytest.mark.parametrize("path", sorted((ROOT / "scenarios").glob("*.yaml")), ids=lambda p: p.name)
def test_every_shipped_scenario_validates(
    validator: jsonschema.Draft202012Validator, path: Path
) -> None:
    errors = [e.message for e in validator.iter_errors(yaml.safe_load(path.read_text()))]
    assert not errors


def test_every_action_is_described_for_autocompletion() -> None:
    step = scenario_schema()["$defs"]["Step"]["properties"]
    actions = {key: kind for key, kind in step.items() if key not in ("name", "timeout")}
    assert {"plug_in", "expect_ocpi", "expect_push", "parallel", "repeat", "each"} <= set(actions)
    assert all(kind["title"] == key for key, kind in actions.items())
    assert all(kind["description"] for kind in actions.values())


@pytest.mark.parametrize(
    "doc",
    [
        {
            "name": "x",
            "gateway": {"template": "t", "party": {"country_code": "FR", "party_id": "ABC"}},
            "steps": [{"plug_inn": 0}],
        },
        {"name": "x", "steps": [{"wait": "1s"}]},
        {
            "name": "x",
            "topology": {"chargers": [{"identity": "a", "ocpp_version": "1.6"}]},
            "steps": [{"wait": "soon"}],
        },
    ],
)
def test_invalid_documents_fail(
    validator: jsonschema.Draft202012Validator, doc: dict[str, Any]
) -> None:
    assert list(validator.iter_errors(doc))


def test_a_structured_document_passes(validator: jsonschema.Draft202012Validator) -> None:
    doc = yaml.safe_load(
        """
name: x
vars: {d: 2s}
topology: {chargers: [{identity: a, ocpp_version: "2.0.1", evses: 2}]}
csms: {url: ws://h/ocpp}
setup: [{connect: all}]
phases:
  - name: p
    steps:
      - parallel: [{plug_in: 0}, {plug_in: {sample: {n: 1, of: all}}}]
      - repeat: {times: 2, steps: [{wait: "${d}"}]}
      - each: {evse: all, steps: [{unplug: "${evse}", timeout: 5s}]}
teardown: [{disconnect: all}]
"""
    )
    assert not [e.message for e in validator.iter_errors(doc)]


TOPOLOGY = {"chargers": [{"identity": "a", "ocpp_version": "1.6", "evses": 2}]}


def _first_error(validator: jsonschema.Draft202012Validator, steps: list[Any]) -> Any:
    doc = {"name": "x", "topology": TOPOLOGY, "csms": {"url": "ws://h/ocpp"}, "steps": steps}
    error = best_match(validator.iter_errors(doc))
    assert error is not None, "the document should not validate"
    return error


@pytest.mark.parametrize(
    ("steps", "where"),
    [
        ([{"conect": "all"}], [0]),
        ([{"wait": "1s"}, {"plugin": 0, "name": "n"}], [1]),
        ([{"parallel": [{"plug_in": 0}, {"strat_charging": 1}]}], [0, "parallel", 1]),
        ([{"repeat": {"times": 2, "steps": [{"wiat": "1s"}]}}], [0, "repeat", "steps", 0]),
    ],
)
def test_an_unknown_action_is_reported_as_a_key_not_allowed(
    validator: jsonschema.Draft202012Validator, steps: list[Any], where: list[Any]
) -> None:
    """Not `Missing property "connect"` (the first action of an anyOf): the unknown key, named,
    with the valid ones."""
    error = _first_error(validator, steps)
    unknown = next(k for k in _keys(steps, where) if k not in ("name", "timeout"))
    assert f"{unknown!r} is not one of" in error.message
    assert "'connect'" in error.message
    assert "'plug_in'" in error.message
    assert list(error.absolute_path) == ["steps", *where]


def _keys(steps: list[Any], where: list[Any]) -> list[str]:
    node: Any = steps
    for part in where:
        node = node[part]
    return list(node)


def test_two_actions_in_one_step_name_the_second(
    validator: jsonschema.Draft202012Validator,
) -> None:
    error = _first_error(validator, [{"connect": "all", "plug_in": 0}])
    assert error.message == "'plug_in' is not one of ['connect', 'name', 'timeout']"


def test_a_step_without_an_action_says_so(validator: jsonschema.Draft202012Validator) -> None:
    error = _first_error(validator, [{"name": "x"}])
    assert "a step without an action" in error.message


@pytest.mark.parametrize(
    "selector",
    [{"locaton": "L1"}, {"chargr": "L1-C1"}],
)
@pytest.mark.parametrize("form", ["full", "short"])
def test_an_unknown_selector_key_names_the_selector_forms(
    validator: jsonschema.Draft202012Validator, selector: dict[str, str], form: str
) -> None:
    """Not `Value must be "all"` (the first alternative): the selector keys."""
    step = {"plug_in": {"evse": selector}} if form == "full" else {"plug_in": selector}
    error = _first_error(validator, [step])
    assert f"{next(iter(selector))!r} is not one of" in error.message
    for key in ("index", "evse_uid", "charger", "location", "ocpp_version", "sample"):
        assert repr(key) in error.message
    assert "all" not in error.message


@pytest.mark.parametrize("selector", [True, 1.5, {"charger": "a", "location": "b"}])
def test_a_wrong_selector_is_reported_with_the_selector_forms(
    validator: jsonschema.Draft202012Validator, selector: Any
) -> None:
    error = _first_error(validator, [{"expect_ocpi": {"evse": selector, "status": "AVAILABLE"}}])
    assert list(error.absolute_path) == ["steps", 0, "expect_ocpi", "evse"]
    assert error.message != 'Value must be "all"'
    described = f"{error.message} {error.schema.get('title')} {error.schema.get('description')}"
    assert "index" in described
    assert "location" in described or "one key" in described


def test_the_selector_forms_are_titled_and_described() -> None:
    selector = scenario_schema()["$defs"]["Selector"]
    assert "all" in selector["description"]
    assert all(form.get("title") for form in selector["anyOf"])
