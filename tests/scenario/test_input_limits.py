"""In process: the loader's limits (with LibYAML and with PyYAML's own parser), variables that
use variables, the duration grammar, and what connect / disconnect mean for the engine."""

from __future__ import annotations

import time

import pytest

from ocpplab_sim.errors import ChargePointError, ScenarioError
from ocpplab_sim.scenario import loader
from ocpplab_sim.scenario.engine import Engine
from ocpplab_sim.scenario.events import Event, Outcome, StepFinished
from ocpplab_sim.scenario.loader import MAX_DEPTH, MAX_NODES, parse_scenario
from ocpplab_sim.scenario.model import Wait, parse_duration
from ocpplab_sim.scenario.preflight import lifecycle_problems
from ocpplab_sim.scenario.schema import scenario_schema
from ocpplab_sim.scenario.types import parse_positive_duration
from ocpplab_sim.scenario.variables import TextBudget, resolve_variables, substitute
from tests.scenario.test_engine import HEADER, Clock, Ocpi, Port, _topology

GATEWAY = "gateway: {template: t, party: {country_code: FR, party_id: ABC}}\n"
HEAD = "name: t\n" + GATEWAY


@pytest.fixture(params=["libyaml", "pyyaml"])
def parser(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    if request.param == "libyaml" and not loader._HAS_LIBYAML:
        pytest.skip("PyYAML without LibYAML")
    monkeypatch.setattr(loader, "_USE_LIBYAML", request.param == "libyaml")
    return str(request.param)


def _refused(text: str) -> tuple[float, list[tuple[int | None, int | None, str | None, str]]]:
    started = time.perf_counter()
    with pytest.raises(ScenarioError) as info:
        parse_scenario(text, "t.yaml")
    seconds = time.perf_counter() - started
    return seconds, [(i.line, i.column, i.field, i.message) for i in info.value.issues]


def _laughs(depth: int) -> str:
    lines = ["name: t", "vars:", "  a0: &a0 [" + ", ".join(["lol"] * 10) + "]"]
    lines += [f"  a{n}: &a{n} [" + ", ".join([f"*a{n - 1}"] * 10) + "]" for n in range(1, depth)]
    return "\n".join(lines) + "\n" + GATEWAY + "steps: [{wait: 1s}]\n"


HOSTILE = {
    "billion laughs": (_laughs(9), "more than 100,000 values once aliases are expanded"),
    "recursive alias": (HEAD + "x: &a {b: *a}\nsteps: [{wait: 1s}]\n", "inside the anchor &a"),
    "nested flow": (HEAD + "x: " + "[" * 100_000 + "\n", "nested deeper than 64 levels"),
    "nested blocks": (
        HEAD + "steps:\n" + "".join("  " * (n + 1) + "- parallel:\n" for n in range(300)),
        "nested deeper than 64 levels",
    ),
    "alias flood": (
        HEAD + "steps:\n  - &w {wait: 1s}\n" + "  - *w\n" * (MAX_NODES // 3),
        "more than 100,000 values",
    ),
}


@pytest.mark.parametrize("name", list(HOSTILE))
def test_hostile_yaml_is_refused_fast_with_a_location(parser: str, name: str) -> None:
    text, needle = HOSTILE[name]
    seconds, issues = _refused(text)
    assert len(issues) == 1
    line, column, _, message = issues[0]
    assert needle in message
    assert line is not None and column is not None
    assert seconds < 0.5 or name == "alias flood", seconds  # the flood is 100,000 lines long


def test_depth_and_size_just_within_the_limits_load(parser: str) -> None:
    # 64 levels: the root mapping, payload, then nested lists down to a scalar.
    payload = "[" * (MAX_DEPTH - 6) + "1" + "]" * (MAX_DEPTH - 6)
    text = HEAD + f"steps:\n  - send_raw: {{action: X, payload: {{a: {payload}}}}}\n"
    assert parse_scenario(text).steps
    _, issues = _refused(text.replace("{a: [", "{a: [["))
    assert "nested deeper than 64" in issues[0][3]
    # aliases reused many times, well within the budget, are fine
    reused = HEAD + "steps:\n  - &w {wait: 1s}\n" + "  - *w\n" * 500
    assert len(parse_scenario(reused).steps) == 501


def test_merge_keys_and_anchors_still_work(parser: str) -> None:
    text = (
        HEAD
        + "x-common: &common {evse: 0, status: AVAILABLE}\n"
        + "steps:\n  - expect_ocpi: {<<: *common, within: 2s}\n"
    )
    with pytest.raises(ScenarioError, match="x-common"):  # unknown top-level field, located
        parse_scenario(text)
    ok = HEAD + "steps:\n  - expect_ocpi: &e {evse: 0, status: AVAILABLE}\n  - expect_ocpi: *e\n"
    assert len(parse_scenario(ok).steps) == 2


@pytest.mark.parametrize(
    ("value", "needle"),
    [
        ("2001-02-30", "day is out of range for month"),
        ("!!int soon", "invalid literal for int()"),
        ("!!float soon", "could not convert string to float"),
        ("!!bool maybe", "not a valid bool"),
        ("1" * 5000, "Exceeds the limit (4300 digits)"),
    ],
)
def test_values_yaml_cannot_build_are_located(parser: str, value: str, needle: str) -> None:
    _, issues = _refused(HEAD + f"description: {value}\nsteps: [{{wait: 1s}}]\n")
    assert issues == [(3, 14, "description", issues[0][3])]
    assert needle in issues[0][3]


def test_control_characters_are_located(parser: str) -> None:
    _, issues = _refused(HEAD + 'description: "é a\x07"\nsteps: [{wait: 1s}]\n')
    assert issues[0][:2] == (3, 18)
    assert "U+0007" in issues[0][3]


def test_a_text_over_the_size_limit_is_refused_before_parsing() -> None:
    seconds, issues = _refused(HEAD + "#" * (2 * 1024 * 1024))
    assert "larger than 1,048,576" in issues[0][3]
    assert seconds < 0.1


# -- variables ---------------------------------------------------------------------------------


def test_variables_use_variables_in_any_order() -> None:
    scenario = parse_scenario(
        "name: t\n"
        "vars: {within: '${base}', base: 2s, label: 'wait ${base} (${n} times)', n: 3}\n"
        + GATEWAY
        + "steps:\n  - wait: '${within}'\n    name: '${label}'\n"
    )
    assert scenario.vars == {"within": "2s", "base": "2s", "label": "wait 2s (3 times)", "n": 3}
    (step,) = scenario.steps
    assert isinstance(step, Wait) and step.duration == 2.0 and step.name == "wait 2s (3 times)"


def test_a_cycle_is_reported_once_where_it_closes() -> None:
    _, issues = _refused(
        "name: t\nvars:\n  a: '${b}'\n  b: 'x${c}'\n  c: '${a}'\n"
        + GATEWAY
        + "steps:\n  - wait: '${a}'\n  - wait: '${c}'\n"
    )
    assert issues == [
        (5, 6, "vars.c", "variables refer to each other in a cycle: a → b → c → a "
         "(a variable cannot depend on itself)"),
    ]  # fmt: skip


def test_a_broken_variable_is_reported_where_it_is_defined_only() -> None:
    _, issues = _refused(
        "name: t\nvars: {a: '${nope}'}\n" + GATEWAY + "steps:\n  - wait: '${a}'\n"
        "  - plug_in: {evse: {charger: '${a}'}}\n"
    )
    assert [(i[0], i[2]) for i in issues] == [(2, "vars.a")]


def test_substitution_has_a_text_budget() -> None:
    reported: list[tuple[tuple[str | int, ...], str]] = []

    def report(path: tuple[str | int, ...], message: str) -> None:
        reported.append((path, message))

    budget = TextBudget(limit=100)
    variables = resolve_variables({"a": "x" * 30, "b": "${a}${a}"}, report, budget=budget)
    assert variables["b"] == "x" * 60
    out = substitute({"f": "${b}${b}"}, variables, report, budget=budget)
    assert out == {"f": "${b}${b}"}  # left as written: 120 more characters do not fit
    assert reported == [(("f",), reported[0][1])]
    assert "more than 100 characters" in reported[0][1]
    assert substitute("${b}", variables, report, budget=budget) == "x" * 60  # shared, free


# -- durations ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "seconds"),
    [("500ms", 0.5), ("10s", 10.0), ("2m", 120.0), ("1h", 3600.0), (3, 3.0), (2.5, 2.5),
     ("7", 7.0), (" 2 m ", 120.0), ("1.5s", 1.5), (0, 0.0), ("8760h", 365 * 86400.0)],
)  # fmt: skip
def test_the_duration_grammar(raw: object, seconds: float) -> None:
    assert parse_duration(raw) == pytest.approx(seconds)


@pytest.mark.parametrize(
    ("raw", "needle"),
    [
        ("1d", "unknown unit 'd'"),
        ("1h30m", "one number and one unit"),
        ("-1s", "cannot be negative"),
        (-1, "cannot be negative"),
        (float("nan"), "must be a number"),
        (float("inf"), "at most 365 days"),
        (10**400, "at most 365 days"),
        ("8761h", "at most 365 days"),
        ("", "expected a duration"),
        (None, "expected a duration"),
        (True, "expected a duration"),
    ],
)
def test_bad_durations_say_why(raw: object, needle: str) -> None:
    with pytest.raises(ValueError, match="duration") as info:
        parse_duration(raw)
    assert needle in str(info.value)


def test_intervals_and_timeouts_must_be_more_than_zero() -> None:
    assert parse_positive_duration("1ms") == pytest.approx(0.001)
    for zero in (0, "0s", "0.0ms"):
        with pytest.raises(ValueError, match="must be longer than 0"):
            parse_positive_duration(zero)
    settings = scenario_schema()["$defs"]["Settings"]["properties"]
    meter = settings["meter_interval"]["anyOf"]
    assert meter[0]["exclusiveMinimum"] == 0
    assert settings["within"]["anyOf"][0]["minimum"] == 0  # 0 is a valid deadline: check now


# -- connect, disconnect and the engine --------------------------------------------------------


@pytest.mark.parametrize(
    "steps",
    [
        "  - connect: all\n  - connect: all\n",
        "  - connect: 0\n  - connect: all\n",
        "  - connect: all\n  - network_loss: all\n  - reconnect: all\n  - connect: all\n",
        "  - connect: all\n  - disconnect: 0\n  - connect: 1\n",  # maybe another charger
        "  - connect: all\n  - disconnect: {chargers: {location: L1}}\n"
        "  - connect: {chargers: {charger: CP2}}\n",
        "  - each: {charger: all, steps: [{connect: {chargers: {charger: '${charger}'}}},"
        " {disconnect: {chargers: {charger: '${charger}'}}}]}\n",
        "  - parallel: [{connect: all}, {plug_in: 0}]\n  - disconnect: all\n",
        "  - repeat: {times: 3, steps: [{connect: all}, {network_loss: all}, {reconnect: all}]}\n",
    ],
)
def test_orders_that_can_run_pass_without_the_topology(steps: str) -> None:
    scenario = parse_scenario(HEADER + steps)
    assert lifecycle_problems(scenario) == []
    assert lifecycle_problems(scenario, _topology()) == []


@pytest.mark.parametrize(
    ("steps", "needle"),
    [
        ("  - connect: all\n  - disconnect: 0\n  - connect: 0\n", "charger CP1 was closed"),
        ("  - connect: all\n  - disconnect: {chargers: {location: L2}}\n  - connect: 1\n",
         "charger CP2 was closed"),
        ("  - connect: all\n  - disconnect: 1\n  - reboot: {chargers: {charger: CP2}}\n",
         "cannot run reboot"),
        ("  - connect: all\n  - network_loss: 0\n  - connect: all\n", "use reconnect"),
        ("  - each: {evse: all, steps: [{connect: all}, {disconnect: all}]}\n",
         "cannot connect again"),
    ],
)  # fmt: skip
def test_the_engine_refuses_with_the_topology_before_anything_runs(
    steps: str, needle: str, clock: Clock
) -> None:
    ports = {"CP1": Port("CP1"), "CP2": Port("CP2")}
    scenario = parse_scenario(HEADER + steps, "t.yaml")  # validate cannot tell: no topology
    events: list[Event] = []
    engine = Engine(scenario, _topology(), ports, Ocpi(clock), events.append)
    with pytest.raises(ScenarioError) as info:
        engine.check_selectors()
    (issue,) = info.value.issues
    assert needle in issue.message
    assert issue.path == "t.yaml" and issue.line is not None and issue.column is not None
    assert ports["CP1"].calls == ports["CP2"].calls == []


@pytest.fixture
def clock() -> Clock:
    return Clock()


async def test_connect_opens_each_charger_once(clock: Clock) -> None:
    ports = {"CP1": Port("CP1"), "CP2": Port("CP2")}
    events: list[Event] = []
    scenario = parse_scenario(
        HEADER + "  - connect: 0\n  - connect: all\n  - parallel: [{connect: all}, {connect: 1}]\n"
    )
    engine = Engine(
        scenario, _topology(), ports, Ocpi(clock), events.append, clock=clock, sleep=clock.sleep
    )
    engine.check_selectors()
    result = await engine.run()
    assert result.passed
    assert ports["CP1"].calls == [("start",)] and ports["CP2"].calls == [("start",)]
    finished = [e for e in events if isinstance(e, StepFinished) and not e.block]
    assert [e.message for e in finished[:2]] == [
        "1 charger(s)",
        "2 charger(s) (1 already connected)",
    ]


async def test_connect_after_disconnect_is_an_error_of_the_step_when_not_checked(
    clock: Clock,
) -> None:
    ports = {"CP1": Port("CP1"), "CP2": Port("CP2")}
    events: list[Event] = []
    scenario = parse_scenario(HEADER + "  - connect: all\n  - disconnect: 0\n  - connect: 0\n")
    engine = Engine(
        scenario, _topology(), ports, Ocpi(clock), events.append, clock=clock, sleep=clock.sleep
    )
    await engine.run()  # check_selectors skipped: the step itself refuses, clearly
    last = [e for e in events if isinstance(e, StepFinished)][-1]
    assert last.outcome is Outcome.ERROR
    assert "CP1: disconnect closed it" in last.message
    assert ports["CP1"].calls == [("start",), ("stop",)]


async def test_a_failed_connect_fails_the_next_connect_the_same_way(clock: Clock) -> None:
    ports = {"CP1": Port("CP1", fail_with=ChargePointError("boot rejected")), "CP2": Port("CP2")}
    events: list[Event] = []
    scenario = parse_scenario(HEADER + "  - parallel: [{connect: 0}, {connect: 0}]\n")
    engine = Engine(
        scenario, _topology(), ports, Ocpi(clock), events.append, clock=clock, sleep=clock.sleep
    )
    await engine.run()
    errors = [e for e in events if isinstance(e, StepFinished) and e.outcome is Outcome.ERROR]
    assert sum("boot rejected" in e.message for e in errors) >= 2
    assert ports["CP1"].calls == [("start",)]
