"""A step added in one place: declared and registered here, it is validated by the loader,
described by the JSON Schema, checked before the run (it needs a connected charger), scheduled
and run by the engine and reported under its own label, like a built-in step."""

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

INLINE = """\
name: t
topology:
  chargers: [{identity: CP1, ocpp_version: "1.6"}, {identity: CP2, ocpp_version: "2.0.1"}]
settings: {within: 5s}
steps:
"""


class Beep(Action):
    """Beep each selected EVSE ``times`` times."""

    key: ClassVar[str] = "beep"
    evse: EvseSelection
    times: Annotated[int, Field(ge=1, le=10)] = 1

    def target(self) -> str:
        return f" {self.times}× on {self.evse.describe()}"


async def beep(run: StepRun, step: Beep) -> tuple[Outcome, str]:
    evses = run.evses(step.evse)
    for evse in evses:
        port = run.chargers[evse.charger]
        assert isinstance(port, Port)
        port.calls.append(("beep", evse.number, step.times))
    return Outcome.PASSED, f"{len(evses)} EVSE(s) beeped"


@pytest.fixture
def beep_step() -> Iterator[StepSpec]:
    with registered(StepSpec(Beep, beep, shorthand="evse", lifecycle="connected")) as spec:
        yield spec
    assert spec_for("beep") is None


def test_the_registered_step_is_validated_by_the_loader(beep_step: StepSpec) -> None:
    steps = "  - connect: all\n  - beep: {evse: 0, times: 2}\n  - beep: 1\n"
    _, first, second = parse_scenario(HEADER + steps, "t.yaml").steps
    assert isinstance(first, Beep) and (first.times, first.line) == (2, 8)
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
    steps = (
        "  - connect: all\n"
        "  - beep: {evse: {charger: CP2}, times: 2}\n"
        "  - parallel: [{beep: 0}, {wait: 1s}]\n"
    )
    engine, events = _engine(steps, clock, Ocpi(clock), ports)
    result = await engine.run()
    assert result.passed
    assert ports["CP2"].calls == [("start",), ("beep", 1, 2), ("beep", 2, 2)]
    assert ports["CP1"].calls == [("start",), ("beep", 1, 1)]
    started = [(e.label, e.line) for e in events if isinstance(e, StepStarted)]
    assert started[1] == ("beep 2× on charger CP2", 8)
    assert started[3] == ("beep 1× on index 0", 9)
    finished = [e for e in events if isinstance(e, StepFinished) and e.label.startswith("beep")]
    assert [(e.outcome, e.message, e.path) for e in finished] == [
        (Outcome.PASSED, "2 EVSE(s) beeped", "steps[1]"),
        (Outcome.PASSED, "1 EVSE(s) beeped", "steps[2].parallel[0]"),
    ]


@pytest.mark.parametrize(
    ("steps", "line", "why"),
    [
        ("  - beep: 0\n", 6, "not connected yet: beep needs a connected charger"),
        ("  - beep: {evse: {charger: CP1}}\n  - connect: all\n", 6, "not connected yet"),
        (
            "  - connect: all\n  - network_loss: all\n  - repeat: {times: 2, steps: [beep: 0]}\n",
            8,
            "offline after the network_loss at line 7",
        ),
        ("  - connect: all\n  - disconnect: all\n  - beep: 0\n", 8, "closed by the disconnect"),
    ],
)
def test_the_registered_step_gets_its_checks_from_its_declaration(
    beep_step: StepSpec, steps: str, line: int, why: str
) -> None:
    with pytest.raises(ScenarioError) as info:
        parse_scenario(INLINE + steps, "t.yaml")
    (issue,) = info.value.issues
    assert issue.line == line and why in issue.message, issue


def test_the_registered_step_runs_on_connected_chargers(beep_step: StepSpec) -> None:
    ok = "  - connect: all\n  - network_loss: 0\n  - reconnect: 0\n  - beep: 0\n  - plug_in: 1\n"
    assert len(parse_scenario(INLINE + ok, "t.yaml").steps) == 5
    # A built-in step that only needs the charger not closed may act before connect.
    assert parse_scenario(INLINE + "  - plug_in: 0\n  - connect: all\n", "t.yaml").steps


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
    lifecycles = {spec.name: spec.lifecycle for spec in step_specs()}
    assert (lifecycles["connect"], lifecycles["network_loss"], lifecycles["plug_in"]) == (
        "connect",
        "offline",
        "use",
    )
    assert lifecycles["wait"] is None and lifecycles["csms"] is None
    assert [spec.name for spec in step_specs() if spec.block] == ["parallel", "repeat", "each"]
