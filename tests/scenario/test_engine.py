"""The engine, with its two ports faked: a unit test of step semantics, verdicts and timing.

The real charge points and the real OCPI peer are exercised in tests/e2e; here a fake clock makes
deadlines and latencies exact.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest

from ocpplab_sim.errors import ChargePointError, ConnectivityError, CsmsUnreachable, ScenarioError
from ocpplab_sim.scenario.engine import Engine, EvseView
from ocpplab_sim.scenario.events import CheckFinished, Event, Outcome, StepFinished
from ocpplab_sim.scenario.loader import parse_scenario
from ocpplab_sim.topology import Charger, Evse, Topology

HEADER = """\
name: t
gateway:
  template: x
  party: {country_code: FR, party_id: ABC}
settings: {within: 5s, poll_interval: 0.5s}
steps:
"""


def _topology() -> Topology:
    def charger(identity: str, version: Any, location: str, n: int) -> Charger:
        evses = tuple(
            Evse(uid=f"{identity}-E{i}", charger=identity, number=i, location_id=location)
            for i in range(1, n + 1)
        )
        return Charger(identity, version, location, evses)

    return Topology.of([charger("CP1", "1.6", "L1", 1), charger("CP2", "2.0.1", "L2", 2)])


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class Armed:
    """A fake armed answer (see SimulatedChargePoint.answer_next)."""

    action: str
    payload: dict[str, Any] | None
    status: str | None
    answered: dict[str, Any] | None = None
    cancelled: bool = False

    def cancel(self) -> bool:
        if self.answered is not None or self.cancelled:
            return False
        self.cancelled = True
        return True


@dataclass
class Port:
    identity: str
    calls: list[tuple[Any, ...]] = field(default_factory=list)
    fail_with: Exception | None = None
    authorize_answer: str = "Accepted"
    armed: list[Armed] = field(default_factory=list)
    arm_error: Exception | None = None
    #: what the charger knows: the status and running transaction per EVSE
    statuses: dict[int, str] = field(default_factory=dict)
    transactions: dict[int, str | int] = field(default_factory=dict)

    def status(self, evse: int) -> str:
        return self.statuses.get(evse, "Available")

    def transaction_id(self, evse: int) -> str | int | None:
        return self.transactions.get(evse)

    def answer_next(
        self, action: str, payload: dict[str, Any] | None = None, *, status: str | None = None
    ) -> Armed:
        if self.arm_error is not None:
            raise self.arm_error
        armed = Armed(action, payload, status)
        self.armed.append(armed)
        return armed

    def receive(self, action: str) -> dict[str, Any] | None:
        """A CALL of ``action`` arrives: the first waiting armed answer is used (None: none)."""
        for armed in self.armed:
            if armed.action == action and not armed.cancelled and armed.answered is None:
                armed.answered = {**(armed.payload or {})}
                if armed.status is not None:
                    armed.answered["status"] = armed.status
                return armed.answered
        return None

    async def _do(self, *call: Any) -> None:
        self.calls.append(call)
        if self.fail_with is not None:
            raise self.fail_with

    async def start(self) -> None:
        await self._do("start")

    async def stop(self) -> None:
        await self._do("stop")

    async def plug_in(
        self,
        evse: int,
        *,
        ev_max_power_w: float | None = None,
        battery_wh: float | None = None,
        soc_pct: float | None = None,
    ) -> None:
        ev = {"ev_max_power_w": ev_max_power_w, "battery_wh": battery_wh, "soc_pct": soc_pct}
        given = {k: v for k, v in ev.items() if v is not None}  # the EV as the step described it
        await self._do("plug_in", evse, given) if given else await self._do("plug_in", evse)

    async def unplug(self, evse: int) -> None:
        await self._do("unplug", evse)

    async def authorize(self, evse: int, id_token: str) -> str:
        await self._do("authorize", evse, id_token)
        return self.authorize_answer

    async def start_charging(self, evse: int, id_token: str) -> None:
        await self._do("start_charging", evse, id_token)

    async def stop_charging(self, evse: int, reason: str = "Local") -> None:
        await self._do("stop_charging", evse, reason)


class Ocpi:
    """Statuses as a function of the fake clock: each EVSE switches to a status at a time."""

    def __init__(self, clock: Clock, initial: str = "UNKNOWN") -> None:
        self._clock = clock
        self.timeline: dict[str, list[tuple[float, str]]] = {}
        self.initial = initial
        self.polls = 0
        self.connectors: dict[str, Any] = {"standard": "IEC_62196_T2", "power_type": "AC_3_PHASE"}

    def at(self, uid: str, when: float, status: str) -> None:
        self.timeline.setdefault(uid, []).append((when, status))

    async def evse_statuses(self) -> Mapping[str, EvseView]:
        self.polls += 1
        out = {}
        for uid in ("CP1-E1", "CP2-E1", "CP2-E2"):
            status = self.initial
            for when, value in sorted(self.timeline.get(uid, [])):
                if when <= self._clock.now:
                    status = value
            out[uid] = EvseView(status, (self.connectors,))
        return out


@dataclass
class Frame:
    at: float
    direction: str
    identity: str
    message: list[Any]


def _engine(
    steps: str, clock: Clock, ocpi: Ocpi, ports: dict[str, Port]
) -> tuple[Engine, list[Event]]:
    events: list[Event] = []
    scenario = parse_scenario(HEADER + steps, "t.yaml")
    engine = Engine(
        scenario, _topology(), ports, ocpi, events.append, clock=clock, sleep=clock.sleep
    )
    return engine, events


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def ports() -> dict[str, Port]:
    return {"CP1": Port("CP1"), "CP2": Port("CP2")}


async def test_actions_reach_the_selected_evses_by_ocpp_number(
    clock: Clock, ports: dict[str, Port]
) -> None:
    engine, _ = _engine(
        """\
  - connect: {chargers: {charger: CP2}}
  - plug_in: {evse: 2}
  - start_charging: {evse: {ocpp_version: "2.0.1"}, id_token: TOK}
  - stop_charging: {evse: CP2-E1, reason: EVDisconnected}
  - unplug: all
""",
        clock,
        Ocpi(clock),
        ports,
    )
    result = await engine.run()
    assert result.passed
    assert ports["CP1"].calls == [("unplug", 1)]
    assert ports["CP2"].calls == [
        ("start",),
        ("plug_in", 2),
        ("start_charging", 1, "TOK"),
        ("start_charging", 2, "TOK"),
        ("stop_charging", 1, "EVDisconnected"),
        ("unplug", 1),
        ("unplug", 2),
    ]


async def test_expect_passes_when_the_status_appears_and_measures_latency(
    clock: Clock, ports: dict[str, Port]
) -> None:
    ocpi = Ocpi(clock, initial="AVAILABLE")
    ocpi.at("CP2-E2", 1002.0, "CHARGING")
    engine, events = _engine(
        "  - expect_ocpi: {evse: 2, status: CHARGING, within: 5s}\n", clock, ocpi, ports
    )
    engine.observe_frame(
        Frame(1000.5, "out", "CP2", [2, "1", "StatusNotification", {"evseId": 2, "connectorId": 1}])
    )
    # frames that are not the charger's own StatusNotification for that EVSE do not count
    engine.observe_frame(Frame(1001.5, "in", "CP2", [2, "9", "StatusNotification", {"evseId": 2}]))
    engine.observe_frame(Frame(1001.5, "out", "CP2", [2, "2", "StatusNotification", {"evseId": 1}]))
    result = await engine.run()
    (check,) = result.checks
    assert check.outcome is Outcome.PASSED
    assert check.duration_s == pytest.approx(2.0)
    assert check.latencies_s == {"CP2-E2": pytest.approx(1.5)}
    names = [
        type(e).__name__
        for e in events
        if "Step" in type(e).__name__ or "Check" in type(e).__name__
    ]
    assert names == ["StepStarted", "CheckFinished", "StepFinished"]


async def test_a_status_frame_is_measured_once(clock: Clock, ports: dict[str, Port]) -> None:
    ocpi = Ocpi(clock, initial="AVAILABLE")
    engine, _ = _engine(
        "  - expect_ocpi: {evse: 0, status: AVAILABLE}\n  - wait: 3s\n  - expect_ocpi: {evse: 0, status: AVAILABLE}\n",
        clock,
        ocpi,
        ports,
    )
    engine.observe_frame(
        Frame(999.75, "out", "CP1", [2, "1", "StatusNotification", {"connectorId": 1}])
    )
    result = await engine.run()
    first, second = result.checks
    assert first.latencies_s == {"CP1-E1": pytest.approx(0.25)}
    assert second.latencies_s == {}


async def test_expect_fails_at_the_deadline_naming_what_was_seen(
    clock: Clock, ports: dict[str, Port]
) -> None:
    ocpi = Ocpi(clock, initial="AVAILABLE")
    engine, events = _engine(
        "  - expect_ocpi: {evse: all, status: CHARGING, within: 3s}\n  - wait: 1s\n",
        clock,
        ocpi,
        ports,
    )
    result = await engine.run()
    (check,) = result.checks
    assert check.outcome is Outcome.FAILED
    assert check.duration_s == pytest.approx(3.0)
    assert "expected CHARGING within 3s" in check.message
    assert "CP1-E1=AVAILABLE" in check.message and "CP2-E2=AVAILABLE" in check.message
    assert check.observed == {"CP1-E1": "AVAILABLE", "CP2-E1": "AVAILABLE", "CP2-E2": "AVAILABLE"}
    assert ocpi.polls == 7  # every 0.5 s from 0 to 3 s
    # a failed expectation does not stop the run by default
    finished = [e for e in events if isinstance(e, StepFinished)]
    assert [f.outcome for f in finished] == [Outcome.FAILED, Outcome.PASSED]
    assert not result.passed


async def test_a_status_that_flaps_away_resets_the_match(
    clock: Clock, ports: dict[str, Port]
) -> None:
    ocpi = Ocpi(clock, initial="AVAILABLE")
    ocpi.at("CP1-E1", 1000.0, "CHARGING")
    ocpi.at("CP1-E1", 1000.5, "AVAILABLE")
    ocpi.at("CP1-E1", 1001.0, "CHARGING")
    ocpi.at("CP2-E1", 1001.5, "CHARGING")
    engine, _ = _engine("  - expect_ocpi: {evse: [0, 1], status: CHARGING}\n", clock, ocpi, ports)
    result = await engine.run()
    assert result.checks[0].outcome is Outcome.PASSED
    assert result.checks[0].duration_s == pytest.approx(1.5)


async def test_authorize_is_a_check(clock: Clock, ports: dict[str, Port]) -> None:
    ports["CP1"].authorize_answer = "Invalid"
    engine, _ = _engine("  - authorize: {evse: [0, 1], id_token: BAD}\n", clock, Ocpi(clock), ports)
    result = await engine.run()
    (check,) = result.checks
    assert check.outcome is Outcome.FAILED
    assert check.observed == {"CP1-E1": "Invalid", "CP2-E1": "Accepted"}
    assert "CP1-E1: Authorize answered Invalid (expected Accepted)" in check.message


async def test_a_charge_point_error_stops_the_run_and_skips_the_rest(
    clock: Clock, ports: dict[str, Port]
) -> None:
    ports["CP1"].fail_with = ChargePointError(
        "StartTransaction answered with CALLERROR InternalError"
    )
    engine, events = _engine("  - start_charging: all\n  - wait: 1s\n", clock, Ocpi(clock), ports)
    result = await engine.run()
    finished = [e for e in events if isinstance(e, StepFinished)]
    assert [f.outcome for f in finished] == [Outcome.ERROR, Outcome.SKIPPED]
    assert finished[0].message.startswith("CP1-E1: StartTransaction answered with CALLERROR")
    assert result.errored_steps == 1 and not result.passed


async def test_an_unreachable_central_system_propagates(
    clock: Clock, ports: dict[str, Port]
) -> None:
    ports["CP2"].fail_with = CsmsUnreachable("connection refused")
    engine, events = _engine("  - connect: all\n", clock, Ocpi(clock), ports)
    with pytest.raises(ConnectivityError, match="CP2: connection refused") as info:
        await engine.run()
    assert isinstance(info.value.__cause__, CsmsUnreachable)
    finished = [e for e in events if isinstance(e, StepFinished)]
    assert finished[-1].outcome is Outcome.ERROR


async def test_stop_on_failure(clock: Clock, ports: dict[str, Port]) -> None:
    steps = "  - expect_ocpi: {evse: 0, status: CHARGING, within: 1s}\n  - plug_in: 0\n"
    scenario_text = HEADER.replace(
        "poll_interval: 0.5s}", "poll_interval: 0.5s, stop_on_failure: true}"
    )
    events: list[Event] = []
    scenario = parse_scenario(scenario_text + steps)
    engine = Engine(
        scenario, _topology(), ports, Ocpi(clock), events.append, clock=clock, sleep=clock.sleep
    )
    await engine.run()
    assert [e.outcome for e in events if isinstance(e, StepFinished)] == [
        Outcome.FAILED,
        Outcome.SKIPPED,
    ]
    assert ports["CP1"].calls == []
    assert any(isinstance(e, CheckFinished) for e in events)


async def test_selectors_outside_the_topology_are_input_errors(
    clock: Clock, ports: dict[str, Port]
) -> None:
    engine, _ = _engine("  - wait: 1s\n  - plug_in: 7\n", clock, Ocpi(clock), ports)
    with pytest.raises(ScenarioError) as info:
        engine.check_selectors()
    issue = info.value.issues[0]
    assert (issue.path, issue.line, issue.field) == ("t.yaml", 8, "steps[1].plug_in")
    assert "index 7 is out of range: the topology has 3 EVSEs (0..2)" in issue.message
    engine, _ = _engine("  - plug_in: {evse: {charger: NOPE}}\n", clock, Ocpi(clock), ports)
    with pytest.raises(ScenarioError, match="no charger 'NOPE'"):
        engine.check_selectors()
