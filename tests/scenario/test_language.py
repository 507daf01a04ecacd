"""The scenario language's structure in the loader: vars, env, blocks, phases, inline topology,
and the consistency rules — every problem located by line, column and field."""

from __future__ import annotations

import pytest

from ocpplab_sim.errors import ScenarioError
from ocpplab_sim.scenario.loader import parse_scenario
from ocpplab_sim.scenario.model import Each, ExpectOcpi, Parallel, Repeat, Wait

HEADER = """\
name: t
gateway:
  template: small-urban-ac
  party: {country_code: FR, party_id: ABC}
"""


def issues(
    text: str, env: dict[str, str] | None = None
) -> list[tuple[int | None, int | None, str | None, str]]:
    with pytest.raises(ScenarioError) as info:
        parse_scenario(text, "t.yaml", env=env or {})
    return [(i.line, i.column, i.field, i.message) for i in info.value.issues]


def test_vars_and_env_are_substituted_with_their_types() -> None:
    scenario = parse_scenario(
        "vars: {deadline: 4, status: CHARGING, who: '${env:WHO:-nobody}'}\n" + HEADER + "steps:\n"
        "  - expect_ocpi: {evse: 0, status: '${status}', within: '${deadline}'}\n"
        "    name: 'by ${who} in ${deadline}s, cost $${x}'\n"
        "  - wait: ${env:PAUSE}\n",
        env={"PAUSE": "250ms"},
    )
    expect, wait = scenario.steps
    assert isinstance(expect, ExpectOcpi) and expect.within == 4.0
    assert expect.status.value == "CHARGING"
    assert expect.name == "by nobody in 4s, cost ${x}"
    assert isinstance(wait, Wait) and wait.duration == pytest.approx(0.25)
    assert scenario.vars["deadline"] == 4


def test_unknown_references_are_located_and_list_what_is_defined() -> None:
    found = issues(
        "vars: {a: 1}\n"
        + HEADER
        + "steps:\n  - wait: ${b}\n  - plug_in: ${evse}\n  - wait: ${env:NOPE}\n"
    )

    def at(line: int, column: int, field: str, needle: str) -> bool:
        return any(issue[:3] == (line, column, field) and needle in issue[3] for issue in found)

    assert at(7, 11, "steps[0].wait", "unknown variable ${b}; defined in vars: a")
    assert at(8, 14, "steps[1].plug_in", "bound only inside a each block")
    assert at(9, 11, "steps[2].wait", "NOPE is not set")


def test_blocks_phases_and_step_keys_load() -> None:
    scenario = parse_scenario(
        HEADER
        + """\
setup: [{connect: all}]
phases:
  - name: one
    steps:
      - parallel:
          - plug_in: 0
          - plug_in: 1
        timeout: 5s
      - repeat: {times: 3, steps: [{wait: 1s}]}
      - each:
          charger: all
          steps:
            - unplug: {evse: {charger: '${charger}'}}
teardown: [{disconnect: all}]
"""
    )
    (phase,) = scenario.phases
    parallel, repeat, each = phase.steps
    assert isinstance(parallel, Parallel) and parallel.timeout == 5.0 and len(parallel.steps) == 2
    assert parallel.steps[1].line == 11
    assert isinstance(repeat, Repeat) and repeat.times == 3
    assert isinstance(each, Each) and each.binding == "charger"
    assert [where for where, _ in scenario.all_steps()][:3] == [
        "setup[0]",
        "phases[0].steps[0]",
        "phases[0].steps[0].parallel.steps[0]",
    ]


@pytest.mark.parametrize(
    ("body", "where", "needle"),
    [
        ("steps:\n  - parallel: []\n", "steps[0].parallel", "at least one step"),
        (
            "steps:\n  - parallel:\n      - plugin: 0\n",
            "steps[0].parallel[0].plugin",
            "did you mean plug_in",
        ),
        (
            "steps:\n  - repeat: {times: 0, steps: [{wait: 1s}]}\n",
            "steps[0].repeat.times",
            "greater than or equal to 1",
        ),
        (
            "steps:\n  - each: {steps: [{wait: 1s}]}\n",
            "steps[0].each",
            "exactly one of evse or charger",
        ),
        ("steps:\n  - wait: 1s\n    timeout: soon\n", "steps[0].timeout", "expected a duration"),
        (
            "steps:\n  - wait: 1s\nphases: [{name: a, steps: [{wait: 1s}]}]\n",
            "phases",
            "either steps or phases",
        ),
        (
            "phases:\n  - {name: a, steps: [{wait: 1s}]}\n  - {name: a, steps: [{wait: 1s}]}\n",
            "phases[1].name",
            "used twice",
        ),
        (
            "steps:\n  - expect_push: {evse: 0, status: AVAILABLE}\n",
            "steps[0].expect_push",
            "ocpi: {push: true}",
        ),
        ("steps:\n  - plug_in: {evse: {sample: {n: 0}}}\n", "steps[0].plug_in.evse", "sample.n"),
    ],
)
def test_structure_errors_are_located(body: str, where: str, needle: str) -> None:
    found = issues(HEADER + body)
    assert any(field == where and needle in message for _, _, field, message in found), found


INLINE = """\
name: inline
topology:
  chargers:
    - {identity: CP-1, ocpp_version: "1.6", evses: 2}
    - identity: CP-2
      ocpp_version: "2.0.1"
      evses: [{uid: MY-EVSE}]
csms: {url: "ws://127.0.0.1:9/ocpp"}
"""


def test_an_inline_topology_loads_and_refuses_ocpi_checks() -> None:
    scenario = parse_scenario(INLINE + "steps:\n  - connect: all\n")
    assert scenario.gateway is None and scenario.topology is not None
    found = issues(
        INLINE + "steps:\n  - connect: all\n  - expect_ocpi: {evse: 0, status: AVAILABLE}\n"
    )
    assert found[0][:3] == (11, 5, "steps[1].expect_ocpi")
    assert "expect_ocpi needs a gateway" in found[0][3]
    found = issues(INLINE + "ocpi: {version: '2.1.1'}\nsteps: [{wait: 1s}]\n")
    assert found[0][2] == "ocpi" and "needs a gateway" in found[0][3]


def test_neither_gateway_nor_topology() -> None:
    found = issues("name: t\nsteps: [{wait: 1s}]\n")
    assert found[0][2] == "gateway" and "or topology" in found[0][3]
