"""The exported JSON Schema describes the scenario files as written."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

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
    step = scenario_schema()["$defs"]["Step"]["anyOf"]
    titles = {kind["title"] for kind in step}
    assert {"plug_in", "expect_ocpi", "expect_push", "parallel", "repeat", "each"} <= titles
    assert all(kind["description"] for kind in step)


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
