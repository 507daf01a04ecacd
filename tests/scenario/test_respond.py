"""``expect_csms … respond``: the answer is armed when the step starts, the command sent from a
parallel step gets it, and every error is located in the file."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import pytest

from ocpplab_sim.errors import ChargePointError, ScenarioError
from ocpplab_sim.scenario.engine import Engine
from ocpplab_sim.scenario.events import CheckFinished, CheckResult, Event, Outcome, StepFinished
from ocpplab_sim.scenario.loader import parse_scenario
from ocpplab_sim.scenario.ports import CommandAnswer
from tests.scenario.test_actions import RichPort
from tests.scenario.test_engine import HEADER, Clock, Frame, Ocpi, _topology


class YieldingClock(Clock):
    """The fake clock, letting the other steps of a ``parallel`` run while one waits."""

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(0)
        await super().sleep(seconds)


class Loopback:
    """The gateway's command API and the charger's socket in one: a command becomes a CALL the
    engine observes, answered by the charger's armed answer (or Accepted)."""

    def __init__(self, ports: Mapping[str, RichPort], clock: Clock) -> None:
        self.ports = ports
        self.clock = clock
        self.engine: Engine | None = None

    async def command(
        self, identity: str, action: str, payload: Mapping[str, Any], timeout_s: float
    ) -> CommandAnswer:
        await asyncio.sleep(0)  # the round trip through the gateway
        assert self.engine is not None
        self.engine.observe_frame(Frame(self.clock(), "in", identity, [2, "m", action, payload]))
        answer = self.ports[identity].receive(action) or {"status": "Accepted"}
        return CommandAnswer("answered", answer)


def _run(steps: str, clock: Clock, ports: dict[str, RichPort]) -> tuple[Engine, list[Event]]:
    events: list[Event] = []
    commands = Loopback(ports, clock)
    engine = Engine(
        parse_scenario(HEADER + steps, "r.yaml"),
        _topology(),
        ports,
        Ocpi(clock),
        events.append,
        commands=commands,
        clock=clock,
        sleep=clock.sleep,
    )
    commands.engine = engine
    return engine, events


def _checks(events: list[Event]) -> list[CheckResult]:
    return [e.result for e in events if isinstance(e, CheckFinished)]


@pytest.fixture
def clock() -> Clock:
    return YieldingClock()


@pytest.fixture
def ports() -> dict[str, RichPort]:
    return {"CP1": RichPort("CP1"), "CP2": RichPort("CP2")}


@pytest.mark.parametrize("order", ["command first", "expectation first"])
async def test_a_parallel_command_gets_the_armed_answer(
    clock: Clock, ports: dict[str, RichPort], order: str
) -> None:
    command = "{remote_start: {evse: 0, expect: Rejected}}"
    expectation = (
        "{expect_csms: {evse: 0, action: RemoteStartTransaction, within: 5s,"
        " respond: {status: Rejected}}}"
    )
    pair = [command, expectation] if order == "command first" else [expectation, command]
    engine, events = _run(f"  - parallel: [{', '.join(pair)}]\n", clock, ports)
    assert (await engine.run()).passed
    by_kind = {check.kind: check for check in _checks(events)}
    assert by_kind["remote_start"].observed == {"CP1-E1": "RemoteStartTransaction: Rejected"}
    expect = by_kind["expect_csms"]
    assert (
        expect.message
        == 'RemoteStartTransaction sent to 1 target(s), answered {"status": "Rejected"}'
    )
    (seen,) = expect.observed.values()
    assert seen.startswith("RemoteStartTransaction at +")
    assert seen.endswith(', answered {"status": "Rejected"}')
    (armed,) = ports["CP1"].armed
    assert armed.status == "Rejected" and armed.payload is None and not armed.cancelled


async def test_a_full_payload_is_armed_on_every_target(
    clock: Clock, ports: dict[str, RichPort]
) -> None:
    engine, events = _run(
        "  - parallel:\n"
        "      - csms: {evse: [1, 2], action: RequestStartTransaction, expect: Rejected,"
        " payload: {remoteStartId: 1, idToken: {idToken: T, type: Central}}}\n"
        "      - expect_csms:\n"
        "          evse: [1, 2]\n"
        "          action: RequestStartTransaction\n"
        "          respond: {payload: {status: Rejected, statusInfo: {reasonCode: Busy}}}\n",
        clock,
        ports,
    )
    assert (await engine.run()).passed
    payload = {"status": "Rejected", "statusInfo": {"reasonCode": "Busy"}}
    assert [a.payload for a in ports["CP2"].armed] == [payload, payload]
    assert [a.answered for a in ports["CP2"].armed] == [payload, payload]
    csms = next(c for c in _checks(events) if c.kind == "csms")
    assert csms.outcome is Outcome.PASSED


async def test_an_unused_answer_is_disarmed_and_the_check_fails(
    clock: Clock, ports: dict[str, RichPort]
) -> None:
    engine, events = _run(
        "  - expect_csms: {chargers: 0, action: Reset, within: 1s, respond: {status: Rejected}}\n",
        clock,
        ports,
    )
    # Seen before the step started: with respond it does not count.
    engine.observe_frame(Frame(999, "in", "CP1", [2, "c0", "Reset", {"type": "Soft"}]))
    await engine.run()
    (check,) = _checks(events)
    assert check.outcome is Outcome.FAILED
    assert check.message == (
        'expected the central system to send Reset, answered {"status": "Rejected"} within 1s; '
        "not sent to CP1"
    )
    (armed,) = ports["CP1"].armed
    assert armed.cancelled and armed.answered is None


async def test_an_answer_the_charger_refuses_to_arm_errors_the_step(
    clock: Clock, ports: dict[str, RichPort]
) -> None:
    ports["CP2"].arm_error = ChargePointError("status 'Maybe' is not one of Accepted, Rejected")
    engine, events = _run(
        "  - expect_csms: {chargers: all, action: Reset, respond: {status: Maybe}}\n",
        clock,
        ports,
    )
    result = await engine.run()
    assert result.errored_steps == 1
    (finished,) = [e for e in events if isinstance(e, StepFinished)]
    assert finished.outcome is Outcome.ERROR
    assert finished.message == "CP2: status 'Maybe' is not one of Accepted, Rejected"
    (armed,) = ports["CP1"].armed  # armed on CP1 first, then disarmed
    assert armed.cancelled


def test_respond_errors_are_located() -> None:
    with pytest.raises(ScenarioError) as caught:
        parse_scenario(
            HEADER + "  - expect_csms: {evse: 0, action: Reset, respond: {}}\n"
            "  - expect_csms:\n"
            "      evse: 0\n"
            "      action: Reset\n"
            "      respond: {status: Rejected, answer: Accepted}\n"
            "  - expect_csms: {evse: 0, action: Reset, respond: {payload: [1]}}\n",
            "e.yaml",
        )
    text = str(caught.value)
    assert "e.yaml:7:52: steps[0].expect_csms.respond: respond takes status, payload or both" in (
        text
    )
    assert (
        "e.yaml:11:35: steps[1].expect_csms.respond.answer: unknown field; allowed: status, payload"
        in text
    )
    assert (
        "e.yaml:12:62: steps[2].expect_csms.respond.payload: Input should be a valid dict" in text
    )
