"""The scenario schema shipped in `schemas/` is the one `ocpplab-sim schema scenario` prints, and
every shipped scenario points a YAML language server at it on its first line.

The step table in `docs/steps.md` is generated from the step registry too.

`OCPPLAB_UPDATE_SCHEMAS=1 pytest tests/scenario/test_shipped_schema.py` rewrites both files."""

from __future__ import annotations

import json
import os
from pathlib import Path

import jsonschema
import pytest
import yaml

from ocpplab_sim.scenario.loader import load_scenario
from ocpplab_sim.scenario.schema import scenario_schema, steps_reference

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "schemas" / "scenario.schema.json"
STEPS_DOC = ROOT / "docs" / "steps.md"
SCENARIOS = sorted((ROOT / "scenarios").glob("*.yaml"))
MODELINE = "# yaml-language-server: $schema="


def _printed() -> str:
    """What `ocpplab-sim schema scenario` prints."""
    return json.dumps(scenario_schema(), indent=2, ensure_ascii=False) + "\n"


def test_the_shipped_schema_is_the_generated_one() -> None:
    fresh = _printed()
    if os.environ.get("OCPPLAB_UPDATE_SCHEMAS", "") not in ("", "0"):
        SHIPPED.parent.mkdir(exist_ok=True)
        SHIPPED.write_text(fresh, encoding="utf-8")
    committed = SHIPPED.read_text(encoding="utf-8") if SHIPPED.is_file() else ""
    if committed != fresh:
        pytest.fail(
            f"{SHIPPED.relative_to(ROOT)} differs from what `ocpplab-sim schema scenario` prints "
            "(the scenario models changed): regenerate it with "
            "`OCPPLAB_UPDATE_SCHEMAS=1 pytest tests/scenario/test_shipped_schema.py` "
            "(or `ocpplab-sim schema scenario > schemas/scenario.schema.json`) and commit it",
            pytrace=False,
        )


def test_the_step_table_is_the_generated_one() -> None:
    fresh = steps_reference()
    if os.environ.get("OCPPLAB_UPDATE_SCHEMAS", "") not in ("", "0"):
        STEPS_DOC.write_text(fresh, encoding="utf-8")
    committed = STEPS_DOC.read_text(encoding="utf-8") if STEPS_DOC.is_file() else ""
    if committed != fresh:
        pytest.fail(
            f"{STEPS_DOC.relative_to(ROOT)} differs from the step registry: regenerate it with "
            "`OCPPLAB_UPDATE_SCHEMAS=1 pytest tests/scenario/test_shipped_schema.py` and commit it",
            pytrace=False,
        )


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.name)
def test_each_scenario_points_an_editor_at_the_shipped_schema(path: Path) -> None:
    first = path.read_text(encoding="utf-8").splitlines()[0]
    assert first.startswith(MODELINE), f"{path.name}: first line {first!r}"
    target = (path.parent / first.removeprefix(MODELINE).strip()).resolve()
    assert target == SHIPPED.resolve()
    load_scenario(path)  # the loader takes the comment line (it is YAML)
    schema = json.loads(SHIPPED.read_text(encoding="utf-8"))
    errors = jsonschema.Draft202012Validator(schema).iter_errors(yaml.safe_load(path.read_text()))
    assert [e.message for e in errors] == []
