"""The scenario loader: valid files load; every problem is located by file, line, column, field."""

from __future__ import annotations

from pathlib import Path

import pytest

from ocpplab_sim.errors import ScenarioError
from ocpplab_sim.scenario.loader import load_scenario, parse_scenario
from ocpplab_sim.scenario.model import ExpectOcpi, PlugIn, Selector, Wait, parse_duration

ROOT = Path(__file__).resolve().parents[2]

HEADER = """\
name: t
gateway:
  template: small-urban-ac
  party: {country_code: FR, party_id: ABC}
"""


def _issues(text: str) -> list[tuple[int | None, int | None, str | None, str]]:
    with pytest.raises(ScenarioError) as info:
        parse_scenario(text, "t.yaml")
    return [(i.line, i.column, i.field, i.message) for i in info.value.issues]


@pytest.mark.parametrize("path", sorted((ROOT / "scenarios").glob("*.yaml")), ids=lambda p: p.name)
def test_shipped_scenarios_are_valid(path: Path) -> None:
    scenario = load_scenario(path)
    assert scenario.main_phases
    assert scenario.source == str(path)
    assert all(isinstance(step.line, int) for _, step in scenario.all_steps())


def test_short_and_long_forms_mean_the_same() -> None:
    scenario = parse_scenario(
        HEADER
        + """\
steps:
  - plug_in: 2
  - plug_in: {evse: {index: 2}}
  - wait: 1500ms
  - expect_ocpi: {evse: {charger: CP-1}, status: CHARGING, within: 2m}
"""
    )
    first, second, wait, expect = scenario.steps
    assert isinstance(first, PlugIn) and first.model_dump() == second.model_dump()
    assert first.evse == Selector(kind="index", values=(2,))
    assert isinstance(wait, Wait) and wait.duration == pytest.approx(1.5)
    assert isinstance(expect, ExpectOcpi) and expect.within == 120.0
    assert expect.evse == Selector(kind="charger", values=("CP-1",))
    assert scenario.step_lines == (6, 7, 8, 9)


def test_every_problem_is_reported_with_line_column_and_field() -> None:
    issues = _issues(
        """\
name: t
gateway:
  template: small-urban-ac
  party: {country_code: fr, party_id: ABC}
steps:
  - plugin: 0
  - expect_ocpi: {evse: 0, status: CHARGNG}
"""
    )
    assert issues[0][:3] == (4, 25, "gateway.party.country_code")
    assert issues[1][:3] == (6, 5, "steps[0].plugin")
    assert "did you mean plug_in?" in issues[1][3]
    assert issues[2][:3] == (7, 36, "steps[1].expect_ocpi.status")
    assert "'CHARGING'" in issues[2][3] and "'AVAILABLE'" in issues[2][3]


def test_error_text_is_file_line_column_field_message() -> None:
    with pytest.raises(ScenarioError) as info:
        parse_scenario(HEADER + "steps:\n  - wait: soon\n", "dir/x.yaml")
    assert str(info.value).startswith("dir/x.yaml:6:11: steps[0].wait: expected a duration")
    assert info.value.exit_code == 2


@pytest.mark.parametrize(
    ("text", "field", "needle"),
    [
        (HEADER, "steps", "Field required"),
        (HEADER + "steps: []\n", "steps", "at least one step"),
        (HEADER + "steps:\n  - {}\n", "steps[0]", "one action"),
        (HEADER + "steps:\n  - connect: all\n    wait: 1s\n", "steps[0]", "exactly one action"),
        (
            HEADER + "steps:\n  - plug_in: {evse: 0, colour: red}\n",
            "steps[0].plug_in.colour",
            "evse",
        ),
        (HEADER + "steps:\n  - plug_in: {}\n", "steps[0].plug_in.evse", "Field required"),
        (HEADER + "steps:\n  - plug_in: -1\n", "steps[0].plug_in", "index"),
        (HEADER + "steps:\n  - plug_in: {evse: {ocpp_version: '3.0'}}\n", None, "ocpp_version"),
        ("name: t\nsteps:\n  - wait: 1s\n", "gateway", "Field required"),
        (HEADER + "bogus: 1\nsteps:\n  - wait: 1s\n", "bogus", "allowed: name, description"),
    ],
)
def test_invalid_inputs_name_the_field(text: str, field: str | None, needle: str) -> None:
    issues = _issues(text)
    assert any((field is None or issue[2] == field) and needle in issue[3] for issue in issues), (
        issues
    )


def test_yaml_syntax_error_is_located() -> None:
    issues = _issues("name: t\nsteps: [\n")
    assert issues[0][0] == 3
    assert "YAML syntax error" in issues[0][3]


def test_duplicate_keys_are_refused() -> None:
    issues = _issues(HEADER + "name: again\nsteps:\n  - wait: 1s\n")
    assert issues[0][:3] == (5, 1, "name")
    assert "duplicate key" in issues[0][3]


def test_missing_file_and_empty_file(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match="file not found"):
        load_scenario(tmp_path / "nope.yaml")
    empty = tmp_path / "empty.yaml"
    empty.write_text("")
    with pytest.raises(ScenarioError, match="empty"):
        load_scenario(empty)


@pytest.mark.parametrize(
    ("raw", "seconds"), [("10s", 10.0), ("250ms", 0.25), ("2m", 120.0), ("1h", 3600.0), (3, 3.0)]
)
def test_durations(raw: object, seconds: float) -> None:
    assert parse_duration(raw) == pytest.approx(seconds)


@pytest.mark.parametrize("raw", ["ten", "-1s", True, None, "5 parsecs"])
def test_bad_durations(raw: object) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(raw)
