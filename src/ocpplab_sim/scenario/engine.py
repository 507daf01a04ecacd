"""Run a scenario's steps against live charge points and an OCPI status source, emitting events.

The engine knows nothing of sockets, HTTP or report formats: the runner hands it the charge points
(anything with the :class:`ChargerPort` methods), an OCPI status source and an event sink.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from ocpplab_sim.errors import ChargePointError, ConnectivityError, OcpiError, ScenarioError
from ocpplab_sim.scenario.events import (
    CheckFinished,
    CheckResult,
    EventSink,
    Outcome,
    StepFinished,
    StepStarted,
)
from ocpplab_sim.scenario.model import (
    Authorize,
    Connect,
    Disconnect,
    ExpectOcpi,
    PlugIn,
    Scenario,
    StartCharging,
    Step,
    StopCharging,
    Unplug,
    Wait,
)
from ocpplab_sim.scenario.selectors import SelectionError, select_chargers, select_evses
from ocpplab_sim.topology import Evse, Topology

__all__ = ["ChargerPort", "Engine", "EngineResult", "FrameLike", "StatusSource", "step_label"]


class ChargerPort(Protocol):
    """What the engine needs of a simulated charge point (see ocpplab_sim.fleet)."""

    async def start(self) -> None: ...
    async def stop(self) -> None: ...
    async def plug_in(self, evse: int) -> None: ...
    async def unplug(self, evse: int) -> None: ...
    async def authorize(self, evse: int, id_token: str) -> str: ...
    async def start_charging(self, evse: int, id_token: str) -> None: ...
    async def stop_charging(self, evse: int, reason: str = "Local") -> None: ...


class StatusSource(Protocol):
    """Where OCPI EVSE statuses are read from: EVSE uid → status string."""

    async def evse_statuses(self) -> Mapping[str, str]: ...


class FrameLike(Protocol):
    @property
    def at(self) -> float: ...
    @property
    def direction(self) -> str: ...
    @property
    def identity(self) -> str: ...
    @property
    def message(self) -> list[Any]: ...


@dataclass
class EngineResult:
    checks: list[CheckResult] = field(default_factory=list)
    failed_steps: int = 0
    errored_steps: int = 0

    @property
    def passed(self) -> bool:
        return (
            self.failed_steps == 0
            and self.errored_steps == 0
            and all(check.outcome is Outcome.PASSED for check in self.checks)
        )


def step_label(index: int, step: Step) -> str:
    """How reports name a step: its ``name`` if given, else the action and its target."""
    if step.name:
        return step.name
    target = ""
    if isinstance(step, Connect | Disconnect):
        target = f" {step.chargers.describe()}"
    elif isinstance(step, Wait):
        target = f" {step.duration:g}s"
    elif isinstance(step, ExpectOcpi):
        target = f" {step.status.value} on {step.evse.describe()}"
    else:
        target = f" {step.evse.describe()}"
    return f"{step.key}{target}"


class Engine:
    """Runs ``scenario.steps`` in order. Not reusable: one engine, one run."""

    def __init__(
        self,
        scenario: Scenario,
        topology: Topology,
        chargers: Mapping[str, ChargerPort],
        ocpi: StatusSource | None,
        emit: EventSink,
        *,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._scenario = scenario
        self._topology = topology
        self._chargers = chargers
        self._ocpi = ocpi
        self._emit = emit
        self._clock = clock
        self._sleep = sleep
        self._settings = scenario.settings
        # EVSE uid → wall time of the last StatusNotification its charger sent for it
        self._last_status_sent: dict[str, float] = {}
        self._uid_by_number = {(evse.charger, evse.number): evse.uid for evse in topology.evses}

    def check_selectors(self) -> None:
        """Resolve every selector before anything runs; ScenarioError (exit 2) names the step."""
        issues = []
        for index, step in enumerate(self._scenario.steps):
            selector = step.chargers if isinstance(step, Connect | Disconnect) else None
            selector = getattr(step, "evse", selector)
            if selector is None:
                continue
            try:
                select_evses(selector, self._topology)
            except SelectionError as exc:
                lines = self._scenario.step_lines
                line = lines[index] if index < len(lines) else None
                issues.append((str(exc), line, f"steps[{index}].{step.key}"))
        if issues:
            message, line, where = issues[0]
            raise ScenarioError.single(message, path=self._scenario.source, line=line, field=where)

    def observe_frame(self, record: FrameLike) -> None:
        """Feed every OCPP frame here; StatusNotifications time the OCPI propagation latency."""
        message = record.message
        if record.direction != "out" or len(message) < 4 or message[0] != 2:
            return
        if message[2] != "StatusNotification" or not isinstance(message[3], dict):
            return
        payload = message[3]
        number = payload.get("evseId", payload.get("connectorId"))
        uid = (
            self._uid_by_number.get((record.identity, number)) if isinstance(number, int) else None
        )
        if uid is not None:
            self._last_status_sent[uid] = record.at

    async def run(self) -> EngineResult:
        """Run every step; ConnectivityError propagates (exit 3) after its StepFinished."""
        result = EngineResult()
        stop = False
        for index, step in enumerate(self._scenario.steps):
            label = step_label(index, step)
            if stop:
                self._emit(StepFinished(index=index, label=label, outcome=Outcome.SKIPPED))
                continue
            self._emit(StepStarted(index=index, label=label))
            started = self._clock()
            try:
                outcome, message = await self._run_step(index, label, step, result)
            except ConnectivityError as exc:
                self._finish(index, label, Outcome.ERROR, str(exc), started)
                raise
            except ChargePointError as exc:
                outcome, message = Outcome.ERROR, str(exc)
            self._finish(index, label, outcome, message, started)
            if outcome is Outcome.ERROR:
                result.errored_steps += 1
                stop = True
            elif outcome is Outcome.FAILED:
                result.failed_steps += 1
                stop = self._settings.stop_on_failure
        return result

    def _finish(
        self, index: int, label: str, outcome: Outcome, message: str, started: float
    ) -> None:
        duration = self._clock() - started
        self._emit(
            StepFinished(
                index=index, label=label, outcome=outcome, message=message, duration_s=duration
            )
        )

    async def _run_step(
        self, index: int, label: str, step: Step, result: EngineResult
    ) -> tuple[Outcome, str]:
        if isinstance(step, Wait):
            await self._sleep(step.duration)
            return Outcome.PASSED, ""
        if isinstance(step, ExpectOcpi):
            check = await self._expect_ocpi(index, label, step)
            result.checks.append(check)
            self._emit(CheckFinished(result=check))
            return check.outcome, check.message
        if isinstance(step, Connect | Disconnect):
            chargers = select_chargers(step.chargers, self._topology)
            ports = [self._chargers[c.identity] for c in chargers]
            calls = [port.start() if isinstance(step, Connect) else port.stop() for port in ports]
            await _all(calls, [c.identity for c in chargers])
            return Outcome.PASSED, f"{len(ports)} charger(s)"
        evses = select_evses(step.evse, self._topology)
        if isinstance(step, Authorize):
            return await self._authorize(index, label, step, evses, result)
        token = self._settings.id_token
        calls = []
        for evse in evses:
            port = self._chargers[evse.charger]
            if isinstance(step, PlugIn):
                calls.append(port.plug_in(evse.number))
            elif isinstance(step, Unplug):
                calls.append(port.unplug(evse.number))
            elif isinstance(step, StartCharging):
                calls.append(port.start_charging(evse.number, step.id_token or token))
            elif isinstance(step, StopCharging):
                calls.append(port.stop_charging(evse.number, step.reason))
        await _all(calls, [evse.uid for evse in evses])
        return Outcome.PASSED, f"{len(evses)} EVSE(s)"

    async def _authorize(
        self, index: int, label: str, step: Authorize, evses: Sequence[Evse], result: EngineResult
    ) -> tuple[Outcome, str]:
        started = self._clock()
        token = step.id_token or self._settings.id_token
        answers = await asyncio.gather(
            *(self._chargers[evse.charger].authorize(evse.number, token) for evse in evses)
        )
        observed = {evse.uid: answer for evse, answer in zip(evses, answers, strict=True)}
        wrong = {uid: status for uid, status in observed.items() if status != step.expect}
        outcome = Outcome.FAILED if wrong else Outcome.PASSED
        message = (
            "; ".join(f"{uid}: Authorize answered {status}" for uid, status in wrong.items())
            + f" (expected {step.expect})"
            if wrong
            else f"Authorize answered {step.expect} for {len(evses)} EVSE(s)"
        )
        check = CheckResult(
            name=label,
            step_index=index,
            outcome=outcome,
            message=message,
            expected=step.expect,
            observed=observed,
            duration_s=self._clock() - started,
        )
        result.checks.append(check)
        self._emit(CheckFinished(result=check))
        return outcome, message

    async def _expect_ocpi(self, index: int, label: str, step: ExpectOcpi) -> CheckResult:
        evses = select_evses(step.evse, self._topology)
        want = step.status.value
        within = step.within if step.within is not None else self._settings.within
        if self._ocpi is None:
            raise OcpiError("expect_ocpi needs an OCPI peer, and this run has none")
        started = self._clock()
        deadline = started + within
        first_seen: dict[str, float] = {}
        observed: dict[str, str] = {}
        last_error = ""
        while True:
            try:
                statuses = await self._ocpi.evse_statuses()
                last_error = ""
            except OcpiError as exc:
                # A transient refusal is retried until the deadline; it is the verdict only then.
                statuses, last_error = {}, str(exc)
            seen_at = self._clock()
            for evse in evses:
                status = statuses.get(evse.uid, "absent")
                if statuses or evse.uid not in observed:
                    observed[evse.uid] = status
                if status == want:
                    first_seen.setdefault(evse.uid, seen_at)
                else:
                    first_seen.pop(evse.uid, None)
            if len(first_seen) == len(evses):
                return CheckResult(
                    name=label,
                    step_index=index,
                    outcome=Outcome.PASSED,
                    message=f"{len(evses)} EVSE(s) {want} after {seen_at - started:.2f}s",
                    expected=want,
                    observed=observed,
                    duration_s=seen_at - started,
                    latencies_s=self._latencies(first_seen),
                )
            if seen_at >= deadline:
                wrong = [f"{uid}={status}" for uid, status in observed.items() if status != want]
                message = f"expected {want} within {within:g}s; still " + ", ".join(wrong)
                if last_error:
                    message += f" (last OCPI error: {last_error})"
                return CheckResult(
                    name=label,
                    step_index=index,
                    outcome=Outcome.FAILED,
                    message=message,
                    expected=want,
                    observed=observed,
                    duration_s=seen_at - started,
                )
            await self._sleep(min(self._settings.poll_interval, max(deadline - seen_at, 0.0)))

    def _latencies(self, first_seen: Mapping[str, float]) -> dict[str, float]:
        """OCPP → OCPI latency per EVSE: from the last StatusNotification the charger sent for it
        to the first poll showing the expected status. Each frame counts once: an EVSE whose
        charger sent nothing since the last check that consumed it has no sample."""
        latencies = {}
        for uid, seen in first_seen.items():
            sent = self._last_status_sent.get(uid)
            if sent is not None and sent <= seen:
                latencies[uid] = seen - sent
                del self._last_status_sent[uid]
        return latencies


async def _all(calls: Sequence[Awaitable[Any]], names: Sequence[str]) -> None:
    """Await every call concurrently; re-raise the first failure, naming whose it was."""
    results = await asyncio.gather(*calls, return_exceptions=True)
    for name, outcome in zip(names, results, strict=True):
        if isinstance(outcome, ConnectivityError):
            raise ConnectivityError(f"{name}: {outcome}") from outcome
        if isinstance(outcome, ChargePointError):
            raise ChargePointError(f"{name}: {outcome}") from outcome
        if isinstance(outcome, BaseException):
            raise outcome
