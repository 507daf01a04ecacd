"""The charge-point actions, central-system operations, expect_csms and expect_report, with the
engine's ports faked (a fake clock makes deadlines exact)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest

from ocpplab_sim.errors import ScenarioError
from ocpplab_sim.scenario.engine import Engine
from ocpplab_sim.scenario.events import CheckFinished, CheckResult, Event, Outcome, StepFinished
from ocpplab_sim.scenario.loader import parse_scenario
from ocpplab_sim.scenario.ports import CommandAnswer, ReportView, TransactionView
from tests.scenario.test_engine import HEADER, Clock, Frame, Ocpi, Port, _topology


@dataclass
class RichPort(Port):
    queued: int = 0

    async def disconnect(self) -> None:
        await self._do("disconnect")

    async def reconnect(self) -> None:
        await self._do("reconnect")

    async def reboot(self, reason: str = "PowerUp") -> None:
        await self._do("reboot", reason)

    async def set_fault(self, evse: int, faulted: bool, error_code: str = "OtherError") -> None:
        await self._do("set_fault", evse, faulted, error_code)

    async def set_ev_demand(self, evse: int, wants_energy: bool) -> None:
        await self._do("set_ev_demand", evse, wants_energy)

    async def set_power_limit(self, evse: int, limit_w: float | None) -> None:
        await self._do("set_power_limit", evse, limit_w)

    async def set_configuration(self, name: str, value: str) -> bool:
        await self._do("set_configuration", name, value)
        return name != "ReadOnlyKey"

    async def send_raw(self, action: str, payload: dict[str, Any]) -> Mapping[str, Any]:
        await self._do("send_raw", action, payload)
        return {"status": "Accepted"}


@dataclass
class Commands:
    answers: dict[str, CommandAnswer] = field(default_factory=dict)
    sent: list[tuple[str, str, Mapping[str, Any]]] = field(default_factory=list)

    async def command(
        self, identity: str, action: str, payload: Mapping[str, Any], timeout_s: float
    ) -> CommandAnswer:
        self.sent.append((identity, action, payload))
        return self.answers.get(action, CommandAnswer("answered", {"status": "Accepted"}))


@dataclass
class Reports:
    transactions: list[TransactionView] = field(default_factory=list)

    async def report(self) -> ReportView:
        return ReportView(tuple(self.transactions))


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def ports() -> dict[str, RichPort]:
    return {"CP1": RichPort("CP1"), "CP2": RichPort("CP2")}


def _engine(
    steps: str,
    clock: Clock,
    ports: dict[str, RichPort],
    commands: Commands | None = None,
    reports: Reports | None = None,
    header: str = HEADER,
) -> tuple[Engine, list[Event]]:
    events: list[Event] = []
    engine = Engine(
        parse_scenario(header + steps, "t.yaml"),
        _topology(),
        ports,
        Ocpi(clock),
        events.append,
        commands=commands,
        reports=reports,
        clock=clock,
        sleep=clock.sleep,
    )
    return engine, events


def _checks(events: list[Event]) -> list[CheckResult]:
    return [e.result for e in events if isinstance(e, CheckFinished)]


async def test_charger_actions_reach_the_charge_points(
    clock: Clock, ports: dict[str, RichPort]
) -> None:
    engine, _ = _engine(
        "  - plug_in: {evse: 0, ev_max_power_w: 7400, battery_wh: 50000, soc_pct: 30}\n"
        "  - inject_fault: {evse: 1, error_code: GroundFailure}\n"
        "  - clear_fault: 1\n"
        "  - ev_stops_energy: 2\n"
        "  - ev_requests_energy: 2\n"
        "  - power_update: {evse: 0, limit_w: 3700}\n"
        "  - power_update: {evse: 0, limit_w: null}\n"
        "  - set_configuration: {chargers: all, key: HeartbeatInterval, value: 60}\n"
        "  - send_raw: {chargers: 0, action: DataTransfer, payload: {vendorId: X}}\n"
        "  - network_loss: {chargers: {charger: CP2}}\n"
        "  - reconnect: {chargers: {charger: CP2}}\n"
        "  - reboot: 0\n",
        clock,
        ports,
    )
    assert (await engine.run()).passed
    assert ports["CP1"].calls == [
        ("plug_in", 1, {"ev_max_power_w": 7400, "battery_wh": 50000, "soc_pct": 30}),
        ("set_power_limit", 1, 3700),
        ("set_power_limit", 1, None),
        ("set_configuration", "HeartbeatInterval", "60"),
        ("send_raw", "DataTransfer", {"vendorId": "X"}),
        ("reboot", "PowerUp"),
    ]
    assert ports["CP2"].calls == [
        ("set_fault", 1, True, "GroundFailure"),
        ("set_fault", 1, False, "OtherError"),
        ("set_ev_demand", 2, False),
        ("set_ev_demand", 2, True),
        ("set_configuration", "HeartbeatInterval", "60"),
        ("disconnect",),
        ("reconnect",),
    ]


async def test_a_refused_setting_is_an_error_of_its_step(
    clock: Clock, ports: dict[str, RichPort]
) -> None:
    engine, events = _engine(
        "  - set_configuration: {chargers: 0, key: ReadOnlyKey, value: true}\n", clock, ports
    )
    result = await engine.run()
    assert result.errored_steps == 1
    (finished,) = [e for e in events if isinstance(e, StepFinished)]
    assert (
        finished.message == "CP1: setting ReadOnlyKey=true refused (unknown, read-only or invalid)"
    )


async def test_neutral_operations_are_written_per_ocpp_version(
    clock: Clock, ports: dict[str, RichPort]
) -> None:
    commands = Commands()
    engine, _ = _engine(
        "  - remote_start: [0, 1]\n"
        "  - change_availability: {evse: [0, 2], operative: false}\n"
        "  - change_availability: {chargers: 1, operative: true}\n"
        "  - reset: {chargers: all, hard: true}\n"
        "  - reserve: {evse: [0, 1], id_token: R1, expires_in: 60s}\n"
        "  - cancel_reservation: [0, 1]\n",
        clock,
        ports,
        commands,
    )
    assert (await engine.run()).passed
    expiry = "1970-01-01T00:17:40Z"  # the fake clock's 1000 s + 60 s
    assert commands.sent == [
        ("CP1", "RemoteStartTransaction", {"connectorId": 1, "idTag": "OCPPLAB0001"}),
        (
            "CP2",
            "RequestStartTransaction",
            {
                "evseId": 1,
                "idToken": {"idToken": "OCPPLAB0001", "type": "Central"},
                "remoteStartId": 2,
            },
        ),
        ("CP1", "ChangeAvailability", {"connectorId": 1, "type": "Inoperative"}),
        ("CP2", "ChangeAvailability", {"operationalStatus": "Inoperative", "evse": {"id": 2}}),
        ("CP2", "ChangeAvailability", {"operationalStatus": "Operative"}),
        ("CP1", "Reset", {"type": "Hard"}),
        ("CP2", "Reset", {"type": "Immediate"}),
        (
            "CP1",
            "ReserveNow",
            {"connectorId": 1, "expiryDate": expiry, "idTag": "R1", "reservationId": 3},
        ),
        (
            "CP2",
            "ReserveNow",
            {
                "id": 4,
                "expiryDateTime": expiry,
                "idToken": {"idToken": "R1", "type": "Central"},
                "evseId": 1,
            },
        ),
        ("CP1", "CancelReservation", {"reservationId": 3}),
        ("CP2", "CancelReservation", {"reservationId": 4}),
    ]


async def test_remote_stop_uses_the_transaction_the_charger_holds(
    clock: Clock, ports: dict[str, RichPort]
) -> None:
    commands = Commands()
    engine, _events = _engine("  - remote_stop: [0, 1]\n", clock, ports, commands)
    ports["CP1"].transactions[1] = 42  # 1.6: the central system's integer
    ports["CP2"].transactions[1] = "t-9"
    assert (await engine.run()).passed
    assert commands.sent == [
        ("CP1", "RemoteStopTransaction", {"transactionId": 42}),
        ("CP2", "RequestStopTransaction", {"transactionId": "t-9"}),
    ]


async def test_remote_stop_without_a_session_is_an_error(
    clock: Clock, ports: dict[str, RichPort]
) -> None:
    engine, events = _engine("  - remote_stop: 0\n", clock, ports, Commands())
    result = await engine.run()
    assert result.errored_steps == 1
    (finished,) = [e for e in events if isinstance(e, StepFinished)]
    assert "no session is running on CP1-E1" in finished.message


async def test_a_rejected_or_failed_command_fails_its_check(
    clock: Clock, ports: dict[str, RichPort]
) -> None:
    commands = Commands(
        {
            "RemoteStartTransaction": CommandAnswer("answered", {"status": "Rejected"}),
            "RequestStartTransaction": CommandAnswer(
                "callerror", error={"code": "NotSupported", "description": "no"}
            ),
            "Reset": CommandAnswer("timeout"),
        }
    )
    engine, events = _engine(
        "  - remote_start: [0, 1]\n"
        "  - csms: {chargers: 0, action: Reset, payload: {type: Soft}}\n"
        "  - csms: {chargers: 0, action: GetConfiguration, expect: null}\n",
        clock,
        ports,
        commands,
    )
    await engine.run()
    start, reset, get = _checks(events)
    assert start.outcome is Outcome.FAILED
    assert start.message == (
        "CP1-E1: RemoteStartTransaction → Rejected; CP2-E1: RequestStartTransaction → "
        "CALLERROR NotSupported: no (expected Accepted)"
    )
    assert (
        reset.outcome is Outcome.FAILED
        and reset.message == "CP1: Reset → timeout (expected Accepted)"
    )
    assert get.outcome is Outcome.PASSED


async def test_expect_csms_waits_for_the_message_and_counts_it_once(
    clock: Clock, ports: dict[str, RichPort]
) -> None:
    engine, events = _engine(
        "  - expect_csms: {evse: 0, action: RemoteStartTransaction, payload: {idTag: T1}}\n"
        "  - expect_csms: {evse: 0, action: RemoteStartTransaction, within: 2s}\n",
        clock,
        ports,
    )
    frame = [2, "c1", "RemoteStartTransaction", {"connectorId": 1, "idTag": "T1"}]
    engine.observe_frame(Frame(999, "in", "CP1", frame))
    await engine.run()
    first, second = _checks(events)
    assert first.outcome is Outcome.PASSED
    assert second.outcome is Outcome.FAILED
    assert second.message == (
        "expected the central system to send RemoteStartTransaction within 2s; not sent to CP1-E1"
    )
    assert "RemoteStartTransaction" in second.explanation and '"idTag": "T1"' in second.explanation


async def test_expect_csms_fails_on_a_payload_mismatch(
    clock: Clock, ports: dict[str, RichPort]
) -> None:
    engine, events = _engine(
        "  - expect_csms: {chargers: 1, action: Reset, payload: {type: Immediate}, within: 1s}\n",
        clock,
        ports,
    )
    engine.observe_frame(Frame(999, "in", "CP2", [2, "c1", "Reset", {"type": "OnIdle"}]))
    await engine.run()
    (check,) = _checks(events)
    assert check.outcome is Outcome.FAILED
    assert 'with {"type": "Immediate"}' in check.message
    assert '-1.00s Reset {"type": "OnIdle"}' in check.explanation


def _tx(number: int, energy: float | None, start: float, stop: float | None) -> TransactionView:
    return TransactionView("CP2", number, f"t{number}", start, stop, energy, stop is not None)


async def test_expect_report_counts_sessions_and_compares_energy(
    clock: Clock, ports: dict[str, RichPort]
) -> None:
    reports = Reports([_tx(1, 10.0, 0.0, 10.0), _tx(2, 12.0, 0.0, 15.0), _tx(2, None, 0, None)])
    engine, events = _engine(
        "  - expect_report: {evse: 1, sessions: 1, finished_sessions: 1, energy_tolerance_wh: 0.5}\n"
        "  - expect_report: {evse: 2, sessions: 2, energy_tolerance_wh: 1, within: 1s}\n"
        "  - expect_report: {evse: all, sessions: 4, within: 1s}\n",
        clock,
        ports,
        reports=reports,
    )
    await engine.run()
    ok, energy, count = _checks(events)
    assert ok.outcome is Outcome.PASSED
    assert energy.outcome is Outcome.FAILED
    assert energy.message == (
        "transaction t2 (CP2 #2): metered 12 Wh but meter stop - start = 15 Wh (tolerance 1 Wh) "
        "(after 1s)"
    )
    assert count.outcome is Outcome.FAILED
    assert count.message == "3 session(s) counted, expected 4 (after 1s)"


async def test_expect_ocpi_in_ocpp_terms_uses_the_mapping_profile(
    clock: Clock, ports: dict[str, RichPort]
) -> None:
    header = HEADER.replace("party:", "mapping_profile: greenflux\n  party:")
    engine, events = _engine(
        "  - expect_ocpi: {evse: 0, status_of_ocpp: Unavailable, within: 1s}\n",
        clock,
        ports,
        header=header,
    )
    await engine.run()
    (check,) = _checks(events)
    assert check.expected == "OUTOFORDER"
    assert check.outcome is Outcome.FAILED
    assert check.message.endswith(
        "(OUTOFORDER is what mapping profile greenflux publishes for OCPP Unavailable; "
        "UNKNOWN for OCPP Unavailable matches no known profile)"
    )


def test_csms_steps_need_a_gateway_and_ocpp_terms_a_known_profile() -> None:
    inline = (
        "name: t\ntopology:\n  chargers: [{identity: A, ocpp_version: '1.6'}]\n"
        "csms: {url: 'ws://x'}\nsteps:\n  - remote_start: 0\n  - expect_report: {sessions: 1}\n"
    )
    with pytest.raises(ScenarioError) as caught:
        parse_scenario(inline, "i.yaml")
    text = str(caught.value)
    assert "i.yaml:6:5: steps[0].remote_start: remote_start needs a gateway" in text
    assert "i.yaml:7:5: steps[1].expect_report: expect_report needs a gateway" in text
    header = HEADER.replace("party:", "mapping_profile: citrineos\n  party:")
    with pytest.raises(ScenarioError) as caught:
        parse_scenario(
            header + "  - expect_ocpi: {evse: 0, status_of_ocpp: offline}\n"
            "  - expect_ocpi: {evse: 0, status_of_ocpp: Plugged}\n",
            "p.yaml",
        )
    text = str(caught.value)
    assert "p.yaml:8:44: steps[0].expect_ocpi.status_of_ocpp: profile citrineos keeps" in text
    assert "p.yaml:9:44: steps[1].expect_ocpi.status_of_ocpp: unknown OCPP status" in text
    with pytest.raises(ScenarioError) as caught:
        parse_scenario(
            header + "  - expect_ocpi: {evse: 0, status: AVAILABLE, status_of_ocpp: Available}\n"
            "  - change_availability: {operative: false}\n",
            "p.yaml",
        )
    text = str(caught.value)
    assert "expect_ocpi takes exactly one of status or status_of_ocpp" in text
    assert "change_availability takes exactly one of chargers or evse" in text
