"""Scenario structure in the engine: phases, setup/teardown, blocks, bindings, timeouts, samples,
and the richer expectations (stays, connector fields, push) — with faked ports and a fake clock."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import pytest

from ocpplab_sim.scenario.engine import Engine, PushView
from ocpplab_sim.scenario.events import (
    CheckFinished,
    Event,
    OcpiStatusSeen,
    OcppStatusSeen,
    Outcome,
    PhaseStarted,
    StepFinished,
)
from ocpplab_sim.scenario.loader import parse_scenario
from ocpplab_sim.scenario.selectors import select_evses
from ocpplab_sim.scenario.types import Selector
from ocpplab_sim.topology import Charger, Evse, Topology
from tests.scenario.test_engine import Clock, Frame, Ocpi, Port

HEAD = """\
name: t
gateway:
  template: x
  party: {country_code: FR, party_id: ABC}
settings: {within: 5s, poll_interval: 0.5s}
"""


def topology() -> Topology:
    def charger(identity: str, version: Any, location: str, n: int) -> Charger:
        evses = tuple(
            Evse(
                uid=f"{identity}-E{i}",
                charger=identity,
                number=i,
                location_id=location,
                topology_id=f"T-{identity}-{i}",
            )
            for i in range(1, n + 1)
        )
        return Charger(identity, version, location, evses)

    return Topology.of([charger("CP1", "1.6", "L1", 1), charger("CP2", "2.0.1", "L2", 2)])


class Pushes:
    def __init__(self) -> None:
        self.items: list[PushView] = []

    def pushes(self) -> Sequence[PushView]:
        return list(self.items)


def build(
    body: str,
    clock: Clock,
    *,
    ocpi: Ocpi | None = None,
    ports: dict[str, Port] | None = None,
    pushes: Pushes | None = None,
    seed: int = 0,
    header: str = HEAD,
) -> tuple[Engine, list[Event], dict[str, Port]]:
    ports = ports if ports is not None else {"CP1": Port("CP1"), "CP2": Port("CP2")}
    events: list[Event] = []
    engine = Engine(
        parse_scenario(header + body, "t.yaml"),
        topology(),
        ports,
        ocpi if ocpi is not None else Ocpi(clock, initial="AVAILABLE"),
        events.append,
        pushes=pushes,
        seed=seed,
        clock=clock,
        sleep=clock.sleep,
    )
    return engine, events, ports


def finished(events: list[Event]) -> list[tuple[str, Outcome]]:
    return [(e.label, e.outcome) for e in events if isinstance(e, StepFinished)]


@pytest.fixture
def clock() -> Clock:
    return Clock()


async def test_phases_run_in_order_and_teardown_runs_after_a_failure(clock: Clock) -> None:
    engine, events, ports = build(
        """\
setup:
  - connect: all
phases:
  - name: charge
    steps:
      - expect_ocpi: {evse: 0, status: CHARGING, within: 1s}
        name: wrong on purpose
  - name: never
    steps:
      - plug_in: 0
teardown:
  - disconnect: all
""",
        clock,
        header=HEAD.replace("poll_interval: 0.5s", "poll_interval: 0.5s, stop_on_failure: true"),
    )
    result = await engine.run()
    assert not result.passed
    phases = [e.phase for e in events if isinstance(e, PhaseStarted)]
    assert phases == ["setup", "charge", "never", "teardown"]
    assert finished(events) == [
        ("connect all", Outcome.PASSED),
        ("wrong on purpose", Outcome.FAILED),
        ("plug_in index 0", Outcome.SKIPPED),
        ("disconnect all", Outcome.PASSED),
    ]
    assert ports["CP1"].calls == [("start",), ("stop",)]
    step = next(e for e in events if isinstance(e, StepFinished) and e.label == "plug_in index 0")
    assert (step.phase, step.path, step.line) == ("never", "never[0]", 15)


async def test_a_failed_setup_skips_the_phases_but_not_teardown(clock: Clock) -> None:
    ports = {"CP1": Port("CP1", fail_with=None), "CP2": Port("CP2")}
    engine, events, _ = build(
        "setup:\n  - authorize: {evse: 0, expect: Blocked}\nsteps:\n  - plug_in: 0\n"
        "teardown:\n  - unplug: 0\n",
        clock,
        ports=ports,
    )
    await engine.run()
    assert [o for _, o in finished(events)] == [Outcome.FAILED, Outcome.SKIPPED, Outcome.PASSED]
    assert ports["CP1"].calls == [("authorize", 1, "OCPPLAB0001"), ("unplug", 1)]


async def test_parallel_runs_children_at_the_same_time(clock: Clock) -> None:
    gate = asyncio.Event()

    class Waiting(Port):
        async def plug_in(self, evse: int) -> None:
            await gate.wait()  # released only by CP2's action in the same block
            await super().plug_in(evse)

    class Releasing(Port):
        async def plug_in(self, evse: int) -> None:
            gate.set()
            await super().plug_in(evse)

    ports: dict[str, Port] = {"CP1": Waiting("CP1"), "CP2": Releasing("CP2")}
    engine, events, _ = build(
        "steps:\n  - parallel:\n      - plug_in: 0\n      - plug_in: 1\n    timeout: 2s\n",
        clock,
        ports=ports,
    )
    result = await engine.run()
    assert result.passed, finished(events)
    block = next(e for e in events if isinstance(e, StepFinished) and e.block)
    assert block.label == "parallel (2 steps)" and block.message == "2 step(s): 2 passed"


async def test_repeat_and_each_bind_their_names(clock: Clock) -> None:
    engine, events, ports = build(
        """\
steps:
  - repeat:
      times: 2
      steps:
        - wait: 1s
          name: round ${iteration}
  - each:
      evse: {charger: CP2}
      steps:
        - plug_in: ${evse}
          name: plug ${evse}
""",
        clock,
    )
    assert (await engine.run()).passed
    labels = [label for label, _ in finished(events)]
    assert "round 1 [1/2]" in labels and "round 2 [2/2]" in labels
    assert "plug CP2-E1 [evse CP2-E1]" in labels and "plug CP2-E2 [evse CP2-E2]" in labels
    assert ports["CP2"].calls == [("plug_in", 1), ("plug_in", 2)]
    assert clock.now == pytest.approx(1002.0)


async def test_an_expectation_with_a_status_binds_inside_repeat_and_each(clock: Clock) -> None:
    """An OCPI status is an enum that is also a str: binding names must leave it alone."""
    engine, events, _ports = build(
        """\
steps:
  - repeat:
      times: 2
      steps:
        - expect_ocpi: {evse: all, status: AVAILABLE}
          name: still available ${iteration}
  - each:
      evse: {charger: CP2}
      steps:
        - expect_ocpi: {evse: "${evse}", status: AVAILABLE}
""",
        clock,
    )
    assert (await engine.run()).passed
    labels = [label for label, _ in finished(events)]
    assert "still available 2 [2/2]" in labels


async def test_a_step_timeout_is_an_error_of_that_step(clock: Clock) -> None:
    class Hanging(Port):
        async def plug_in(self, evse: int) -> None:
            await asyncio.Event().wait()

    ports: dict[str, Port] = {"CP1": Hanging("CP1"), "CP2": Port("CP2")}
    engine, events, _ = build(
        "steps:\n  - plug_in: 0\n    timeout: 50ms\n  - unplug: 0\n", clock, ports=ports
    )
    result = await engine.run()
    assert finished(events) == [
        ("plug_in index 0", Outcome.ERROR),
        ("unplug index 0", Outcome.SKIPPED),
    ]
    message = next(e.message for e in events if isinstance(e, StepFinished))
    assert message == "step timed out after 0.05s"
    assert result.errored_steps == 1


def test_sample_is_repeatable_per_seed_and_topology_id_selects() -> None:
    sample = Selector.parse({"sample": {"n": 2, "of": "all"}})
    topo = topology()
    picks = {seed: [e.uid for e in select_evses(sample, topo, seed=seed)] for seed in range(12)}
    assert all(len(uids) == 2 for uids in picks.values())
    assert picks[3] == [e.uid for e in select_evses(sample, topo, seed=3)]
    assert len({tuple(uids) for uids in picks.values()}) > 1  # the seed changes the pick
    chosen = select_evses(Selector.parse({"topology_id": "T-CP2-2"}), topo)
    assert [e.uid for e in chosen] == ["CP2-E2"]
    with pytest.raises(ValueError, match="only 3 EVSEs"):
        select_evses(Selector.parse({"sample": {"n": 4}}), topo)


async def test_stays_passes_when_the_status_holds(clock: Clock) -> None:
    engine, _, _ = build(
        "steps:\n  - expect_ocpi: {evse: all, status: AVAILABLE, stays: 2s}\n", clock
    )
    result = await engine.run()
    (check,) = result.checks
    assert check.outcome is Outcome.PASSED
    assert check.message == "3 EVSE(s) stayed AVAILABLE for 2s"
    assert check.duration_s == pytest.approx(2.0)


async def test_stays_catches_flapping_and_explains_it(clock: Clock) -> None:
    ocpi = Ocpi(clock, initial="AVAILABLE")
    ocpi.at("CP2-E2", 1001.0, "UNKNOWN")
    ocpi.at("CP2-E2", 1001.5, "AVAILABLE")
    engine, events, _ = build(
        "steps:\n  - expect_ocpi: {evse: all, status: AVAILABLE, stays: 3s}\n", clock, ocpi=ocpi
    )
    engine.observe_frame(
        Frame(
            1000.9,
            "out",
            "CP2",
            [2, "7", "StatusNotification", {"evseId": 2, "connectorStatus": "Unavailable"}],
        )
    )
    (check,) = (await engine.run()).checks
    assert check.outcome is Outcome.FAILED
    assert check.message == "expected AVAILABLE to stay for 3s; changed after 1.00s: CP2-E2=UNKNOWN"
    assert "CP2-E2 (charger CP2, OCPP #2): expected AVAILABLE, saw UNKNOWN" in check.explanation
    assert "OCPI changes: +0.00s AVAILABLE, +1.00s UNKNOWN" in check.explanation
    assert '+0.90s → StatusNotification {"evseId": 2, "connectorStatus": "Unavailable"}' in (
        check.explanation
    )
    assert check.ocpp_messages["CP2-E2"][0].startswith("+0.90s → StatusNotification")
    seen = [e for e in events if isinstance(e, OcppStatusSeen)]
    assert [(e.evse_uid, e.status) for e in seen] == [("CP2-E2", "Unavailable")]
    polled = [(e.evse_uid, e.status) for e in events if isinstance(e, OcpiStatusSeen)]
    assert ("CP2-E2", "UNKNOWN") in polled


async def test_stays_without_within_must_hold_from_the_first_poll(clock: Clock) -> None:
    ocpi = Ocpi(clock, initial="UNKNOWN")
    engine, _, _ = build(
        "steps:\n  - expect_ocpi: {evse: 0, status: AVAILABLE, stays: 2s}\n", clock, ocpi=ocpi
    )
    (check,) = (await engine.run()).checks
    assert check.outcome is Outcome.FAILED
    assert check.message == "expected AVAILABLE from the first poll; still CP1-E1=UNKNOWN"
    assert ocpi.polls == 1


async def test_connector_fields_are_checked(clock: Clock) -> None:
    ok, _, _ = build(
        "steps:\n  - expect_ocpi: {evse: all, status: AVAILABLE, connector: {standard: IEC_62196_T2, power_type: AC_3_PHASE}}\n",
        clock,
    )
    assert (await ok.run()).passed
    wrong, _, _ = build(
        "steps:\n  - expect_ocpi: {evse: 0, status: AVAILABLE, within: 1s, connector: {power_type: DC}}\n",
        clock,
    )
    (check,) = (await wrong.run()).checks
    assert check.outcome is Outcome.FAILED
    assert "CP1-E1 connector expected power_type=DC, has power_type=AC_3_PHASE" in check.message
    assert check.expected == "AVAILABLE with connector power_type=DC"
    assert "connector: expected power_type=DC" in check.explanation


def push(at: float, uid: str, **body: Any) -> PushView:
    problems = () if "last_updated" in body else ("PATCH without last_updated",)
    return PushView(at, "PATCH", "L2", uid, body, problems)


async def test_expect_push_passes_on_the_latest_push(clock: Clock) -> None:
    pushes = Pushes()
    pushes.items = [
        push(999.0, "CP2-E1", status="AVAILABLE", last_updated="2030-01-01T00:00:00Z"),
        push(999.5, "CP2-E1", status="CHARGING", last_updated="2030-01-01T00:00:01Z"),
    ]
    header = HEAD + "ocpi: {push: true}\n"
    engine, _, _ = build(
        "steps:\n  - expect_push: {evse: 1, status: CHARGING}\n",
        clock,
        pushes=pushes,
        header=header,
    )
    (check,) = (await engine.run()).checks
    assert check.outcome is Outcome.PASSED, check.message


@pytest.mark.parametrize(
    ("items", "needle"),
    [
        ([push(999.0, "CP2-E1", status="CHARGING")], "PATCH without last_updated"),
        (
            [
                push(999.0, "CP2-E1", status="AVAILABLE", last_updated="2030-01-01T00:00:05Z"),
                push(999.1, "CP2-E1", status="CHARGING", last_updated="2030-01-01T00:00:01Z"),
            ],
            "is older than the previous push's",
        ),
        (
            [push(999.0, "CP2-E1", status="AVAILABLE", last_updated="2030-01-01T00:00:00Z")],
            "expected a push of CHARGING within 2s; latest CP2-E1=AVAILABLE",
        ),
        ([], "latest CP2-E1=no push"),
    ],
)
async def test_expect_push_fails_with_the_reason(
    clock: Clock, items: list[PushView], needle: str
) -> None:
    pushes = Pushes()
    pushes.items = items
    header = HEAD + "ocpi: {push: true}\n"
    engine, events, _ = build(
        "steps:\n  - expect_push: {evse: 1, status: CHARGING, within: 2s}\n",
        clock,
        pushes=pushes,
        header=header,
    )
    (check,) = (await engine.run()).checks
    assert check.outcome is Outcome.FAILED
    assert needle in check.message
    assert check.explanation.startswith("check started")
    assert any(isinstance(e, CheckFinished) for e in events)
