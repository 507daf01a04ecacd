"""A step added in one place: registered here, it is validated by the loader, described by the
JSON Schema, scheduled and run by the engine and reported like a built-in step."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, ClassVar

import jsonschema
import pytest
from pydantic import Field

from ocpplab_sim.errors import ScenarioError
from ocpplab_sim.scenario.base import Action
from ocpplab_sim.scenario.engine import StepRun
from ocpplab_sim.scenario.events import Outcome, StepFinished, StepStarted
from ocpplab_sim.scenario.loader import parse_scenario
from ocpplab_sim.scenario.registry import (
    StepSpec,
    register_step,
    registered,
    shorthand_fields,
    spec_for,
    step_models,
    step_specs,
)
from ocpplab_sim.scenario.schema import scenario_schema
from ocpplab_sim.scenario.types import EvseSelection
from tests.scenario.test_engine import HEADER, Clock, Ocpi, Port, _engine


class Beep(Action):
    """Beep each selected EVSE ``times`` times."""

    key: ClassVar[str] = "beep"
    evse: EvseSelection
    times: Annotated[int, Field(ge=1, le=10)] = 1


async def beep(run: StepRun, step: Beep) -> tuple[Outcome, str]:
    evses = run.evses(step.evse)
    for evse in evses:
        port = run.chargers[evse.charger]
        assert isinstance(port, Port)
        port.calls.append(("beep", evse.number, step.times))
    return Outcome.PASSED, f"{len(evses)} EVSE(s) beeped"


@pytest.fixture
def beep_step() -> Iterator[StepSpec]:
    with registered(StepSpec(Beep, beep, shorthand="evse")) as spec:
        yield spec
    assert spec_for("beep") is None


def test_the_registered_step_is_validated_by_the_loader(beep_step: StepSpec) -> None:
    scenario = parse_scenario(HEADER + "  - beep: {evse: 0, times: 2}\n  - beep: 1\n", "t.yaml")
    first, second = scenario.steps
    assert isinstance(first, Beep) and (first.times, first.line) == (2, 7)
    assert isinstance(second, Beep) and second.times == 1
    with pytest.raises(ScenarioError) as info:
        parse_scenario(HEADER + "  - wait: 1s\n  - beep: {evse: 0, times: 20}\n", "t.yaml")
    (issue,) = info.value.issues
    assert (issue.path, issue.line, issue.field) == ("t.yaml", 8, "steps[1].beep.times")
    assert str(info.value).startswith("t.yaml:8:")
    with pytest.raises(ScenarioError, match="unknown action 'beeep' \\(did you mean beep\\?\\)"):
        parse_scenario(HEADER + "  - beeep: 0\n", "t.yaml")


def test_the_registered_step_is_in_the_schema(beep_step: StepSpec) -> None:
    schema = scenario_schema()
    step = schema["$defs"]["Step"]
    assert step["properties"]["beep"]["description"] == "Beep each selected EVSE ``times`` times."
    assert "beep" in step["propertyNames"]["enum"]
    validator = jsonschema.Draft202012Validator(schema)
    doc = {"name": "x", "topology": {"chargers": [{"identity": "a", "ocpp_version": "1.6"}]}}
    assert not list(validator.iter_errors({**doc, "steps": [{"beep": {"evse": 0, "times": 2}}]}))
    assert not list(validator.iter_errors({**doc, "steps": [{"beep": 0}]}))
    assert list(validator.iter_errors({**doc, "steps": [{"beep": {"evse": 0, "loud": True}}]}))


async def test_the_engine_runs_and_reports_the_registered_step(beep_step: StepSpec) -> None:
    clock = Clock()
    ports = {"CP1": Port("CP1"), "CP2": Port("CP2")}
    steps = "  - beep: {evse: {charger: CP2}, times: 2}\n  - parallel: [{beep: 0}, {wait: 1s}]\n"
    engine, events = _engine(steps, clock, Ocpi(clock), ports)
    result = await engine.run()
    assert result.passed
    assert ports["CP2"].calls == [("beep", 1, 2), ("beep", 2, 2)]
    assert ports["CP1"].calls == [("beep", 1, 1)]
    started = [(e.label, e.line) for e in events if isinstance(e, StepStarted)]
    assert started[0] == ("beep charger CP2", 7)
    finished = [e for e in events if isinstance(e, StepFinished) and e.label.startswith("beep")]
    assert [(e.outcome, e.message, e.path) for e in finished] == [
        (Outcome.PASSED, "2 EVSE(s) beeped", "steps[0]"),
        (Outcome.PASSED, "1 EVSE(s) beeped", "steps[1].parallel[0]"),
    ]


def test_unregistered_steps_are_unknown() -> None:
    assert spec_for("beep") is None
    with pytest.raises(ScenarioError, match="unknown action 'beep'"):
        parse_scenario(HEADER + "  - beep: 0\n", "t.yaml")


class OtherWait(Beep):
    """A second ``wait``."""

    key: ClassVar[str] = "wait"


def test_names_are_unique_and_short_forms_are_fields() -> None:
    with pytest.raises(ValueError, match="already registered"):
        register_step(StepSpec(OtherWait, beep))
    with pytest.raises(ValueError, match="shorthand 'volume' is not a field"):
        StepSpec(Beep, beep, shorthand="volume")


def test_the_builtin_steps_are_registered_in_order() -> None:
    names = [spec.name for spec in step_specs()]
    assert names[:3] == ["connect", "disconnect", "plug_in"]
    assert names[-3:] == ["parallel", "repeat", "each"]
    assert step_models()["plug_in"].__name__ == "PlugIn"
    assert shorthand_fields()["wait"] == "duration"
    assert all(spec.doc for spec in step_specs())
