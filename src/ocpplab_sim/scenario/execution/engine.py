"""Run a scenario against live charge points and an OCPI peer, emitting events.

The engine knows nothing of sockets, HTTP or report formats: the runner hands it the charge points
(anything with the :class:`ChargerPort` methods), an OCPI status source, optionally the pushes the
eMSP receiver got, and an event sink.

Order of a run: ``setup``, then each phase (a plain ``steps`` list is the phase ``steps``), then
``teardown``. After a step errors (or fails, with ``stop_on_failure``) the remaining steps are
skipped — except the ``teardown`` steps, which run after failures, errors and an unreachable
peer alike (not after a cancellation: Ctrl-C goes straight to the runner's own teardown).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ocpplab_sim.errors import ChargePointError, ConnectivityError, ScenarioError, ScenarioIssue
from ocpplab_sim.scenario.execution.events import (
    CheckFinished,
    CheckResult,
    EventSink,
    Outcome,
    PhaseFinished,
    PhaseStarted,
    StepFinished,
    StepStarted,
)
from ocpplab_sim.scenario.execution.expectations import Verifier
from ocpplab_sim.scenario.execution.observe import FrameObserver
from ocpplab_sim.scenario.execution.operations import Operations, gather_all, short_json
from ocpplab_sim.scenario.execution.ports import (
    ChargerPort,
    CommandPort,
    EvseView,
    FrameLike,
    PushSource,
    PushView,
    ReportSource,
    StatusSource,
)
from ocpplab_sim.scenario.language.base import Block, bind_step, spec_for, step_label
from ocpplab_sim.scenario.language.model import Scenario, Settings, Step
from ocpplab_sim.scenario.language.preflight import lifecycle_problems, selector_problems
from ocpplab_sim.scenario.language.selectors import SelectionError, select_chargers, select_evses
from ocpplab_sim.scenario.language.steps.cycle import Authorize
from ocpplab_sim.scenario.language.steps.expect import ExpectOcpi, ExpectPush
from ocpplab_sim.scenario.language.types import Selector
from ocpplab_sim.topology import Charger, Evse, Topology

__all__ = [
    "ChargerPort",
    "Engine",
    "EngineResult",
    "EvseView",
    "FrameLike",
    "PushSource",
    "PushView",
    "StatusSource",
    "StepRun",
    "step_label",
]

_WORST = (Outcome.ERROR, Outcome.FAILED, Outcome.SKIPPED, Outcome.PASSED)

#: What a handler does at one selected EVSE (``port``, its number) or charger (``port``).
EvseCall = Callable[[ChargerPort, int], Awaitable[Any]]
ChargerCall = Callable[[ChargerPort], Awaitable[str]]


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


@dataclass(frozen=True)
class _Context:
    phase: str
    bindings: Mapping[str, str] = field(default_factory=dict)
    teardown: bool = False
    suffix: str = ""


@dataclass(frozen=True)
class _Where:
    phase: str
    path: str
    line: int | None


@dataclass(frozen=True)
class StepRun:
    """What a step's handler (see :mod:`ocpplab_sim.scenario.language.base`) gets besides the
    step: where the step is, the engine's charge points, topology, settings and clock, and the
    helpers that act on every selected EVSE or charger at once."""

    engine: Engine
    index: int
    label: str
    context: _Context
    path: str

    @property
    def chargers(self) -> Mapping[str, ChargerPort]:
        return self.engine._chargers

    @property
    def topology(self) -> Topology:
        return self.engine._topology

    @property
    def settings(self) -> Settings:
        return self.engine._settings

    def now(self) -> float:
        return self.engine._clock()

    async def sleep(self, seconds: float) -> None:
        await self.engine._sleep(seconds)

    def evses(self, selector: Selector) -> tuple[Evse, ...]:
        """The EVSEs ``selector`` picks (a SelectionError is an error of the step)."""
        return self.engine._evses(selector)

    def select_chargers(self, selector: Selector) -> tuple[Charger, ...]:
        """The chargers ``selector`` picks."""
        return tuple(select_chargers(selector, self.topology, seed=self.engine._seed))

    async def on_evses(self, selector: Selector, call: EvseCall) -> tuple[Outcome, str]:
        """``call(port, number)`` for every selected EVSE at once."""
        evses = self.evses(selector)
        chargers = self.chargers
        await gather_all(
            [call(chargers[e.charger], e.number) for e in evses], [e.uid for e in evses]
        )
        return Outcome.PASSED, f"{len(evses)} EVSE(s)"

    async def on_chargers(self, selector: Selector, call: ChargerCall) -> tuple[Outcome, str]:
        """``call(port)`` for every selected charger at once; what it returns is shown."""
        names = [c.identity for c in self.select_chargers(selector)]
        answers = await gather_all([call(self.chargers[name]) for name in names], names)
        shown = [f"{name}: {answer}" for name, answer in zip(names, answers, strict=True) if answer]
        return Outcome.PASSED, "; ".join(shown) or f"{len(names)} charger(s)"

    @staticmethod
    def passed(message: str = "") -> tuple[Outcome, str]:
        """A handler's answer when the step did what it says."""
        return Outcome.PASSED, message

    @staticmethod
    def short_json(value: Any) -> str:
        """``value`` as compact JSON, cut short, for a step's message."""
        return short_json(value)


class Engine:
    """Runs a scenario's steps. Not reusable: one engine, one run."""

    def __init__(
        self,
        scenario: Scenario,
        topology: Topology,
        chargers: Mapping[str, ChargerPort],
        ocpi: StatusSource | None,
        emit: EventSink,
        *,
        pushes: PushSource | None = None,
        commands: CommandPort | None = None,
        reports: ReportSource | None = None,
        seed: int = 0,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._scenario = scenario
        self._topology = topology
        self._chargers = chargers
        self._emit = emit
        self._seed = seed
        self._clock = clock
        self._sleep = sleep
        self._settings = scenario.settings
        self._observer = FrameObserver(topology, emit)
        self._verifier = Verifier(
            ocpi, pushes, self._observer, emit, scenario.settings, clock, sleep
        )
        self._ops = Operations(
            topology,
            chargers,
            commands,
            reports,
            self._observer,
            scenario.settings,
            seed=seed,
            clock=clock,
            sleep=sleep,
        )
        self._profile = scenario.gateway.mapping_profile if scenario.gateway else None
        self._counter = 0
        self._stop = False
        self._result = EngineResult()
        # Chargers a connect step opened (or is opening), and those a disconnect step closed.
        self._opening: dict[str, asyncio.Future[None]] = {}
        self._closed: set[str] = set()

    def check_selectors(self) -> None:
        """Before anything runs, resolve every selector against the topology and check the
        order in which the steps connect, take offline and close each charger (see
        :mod:`ocpplab_sim.scenario.preflight`); ScenarioError (exit 2) names every such step.

        Selectors with ``${evse}``-style references are resolved when their step runs (the
        lifecycle check expands them per ``each`` round).
        """
        scenario, topology, seed = self._scenario, self._topology, self._seed
        problems = selector_problems(scenario, topology, seed=seed)
        problems = problems or lifecycle_problems(scenario, topology, seed=seed)
        if problems:
            raise ScenarioError(
                [
                    ScenarioIssue(
                        problem.message,
                        scenario.source,
                        problem.step.line,
                        problem.step.column,
                        problem.field,
                    )
                    for problem in problems
                ]
            )

    def observe_frame(self, record: FrameLike) -> None:
        """Feed every OCPP frame here: it times the OCPI latency and explains failed checks."""
        self._observer.observe(record)

    async def run(self) -> EngineResult:
        """Run setup, the phases and teardown; ConnectivityError propagates (exit 3) after the
        teardown steps ran."""
        scenario = self._scenario
        try:
            if scenario.setup:
                outcome = await self._phase("setup", scenario.setup, _Context("setup"))
                # Nothing after a failed setup can be trusted.
                self._stop = self._stop or outcome is not Outcome.PASSED
            for phase in scenario.main_phases:
                await self._phase(phase.name, phase.steps, _Context(phase.name))
        except ConnectivityError:
            self._stop = True
            await self._teardown_steps()
            raise
        await self._teardown_steps()
        return self._result

    async def _teardown_steps(self) -> None:
        if self._scenario.teardown:
            context = _Context("teardown", teardown=True)
            # An unreachable peer is already the run's verdict; the runner's teardown follows.
            with contextlib.suppress(ConnectivityError):
                await self._phase("teardown", self._scenario.teardown, context)

    async def _phase(self, name: str, steps: Sequence[Step], context: _Context) -> Outcome:
        self._emit(PhaseStarted(phase=name, detail=f"{len(steps)} step(s)", kind="scenario"))
        started = self._clock()
        outcomes = []
        try:
            for position, step in enumerate(steps):
                outcomes.append(await self._run_one(step, context, f"{name}[{position}]"))
        finally:
            outcome = _worst(outcomes)
            self._emit(
                PhaseFinished(
                    phase=name,
                    outcome=outcome,
                    duration_s=self._clock() - started,
                    kind="scenario",
                )
            )
        return outcome

    async def _run_one(self, step: Step, context: _Context, path: str) -> Outcome:
        index = self._counter
        self._counter += 1
        step = bind_step(step, context.bindings)
        label = step_label(index, step) + context.suffix
        where = _Where(context.phase, path, step.line)
        if self._stop and not context.teardown:
            self._emit(
                StepFinished(
                    index=index,
                    label=label,
                    outcome=Outcome.SKIPPED,
                    phase=where.phase,
                    path=where.path,
                    line=where.line,
                )
            )
            return Outcome.SKIPPED
        self._emit(
            StepStarted(
                index=index, label=label, phase=where.phase, path=where.path, line=where.line
            )
        )
        started = self._clock()
        timeout = step.timeout if step.timeout is not None else self._settings.step_timeout
        own = True  # whether the outcome is this step's own, not its children's
        try:
            async with asyncio.timeout(timeout):
                outcome, message, own = await self._dispatch(index, label, step, context, path)
        except TimeoutError:
            outcome, message, own = Outcome.ERROR, f"step timed out after {timeout:g}s", True
        except ConnectivityError as exc:
            self._finish(index, label, Outcome.ERROR, str(exc), started, where)
            self._result.errored_steps += 1
            raise
        except (ChargePointError, SelectionError) as exc:
            outcome, message = Outcome.ERROR, str(exc)
        except asyncio.CancelledError:
            self._finish(index, label, Outcome.ERROR, "cancelled", started, where)
            raise
        self._finish(index, label, outcome, message, started, where, block=not own)
        if own and outcome is Outcome.ERROR:
            self._result.errored_steps += 1
            self._stop = True
        elif own and outcome is Outcome.FAILED:
            self._result.failed_steps += 1
            self._stop = self._stop or self._settings.stop_on_failure
        return outcome

    def _finish(
        self,
        index: int,
        label: str,
        outcome: Outcome,
        message: str,
        started: float,
        where: _Where,
        *,
        block: bool = False,
    ) -> None:
        duration = self._clock() - started
        self._emit(
            StepFinished(
                index=index,
                label=label,
                outcome=outcome,
                message=message,
                duration_s=duration,
                phase=where.phase,
                path=where.path,
                line=where.line,
                block=block,
            )
        )

    async def _dispatch(
        self, index: int, label: str, step: Step, context: _Context, path: str
    ) -> tuple[Outcome, str, bool]:
        spec = spec_for(step.key)
        if spec is None:
            raise ChargePointError(f"the engine cannot run {step.key!r}: no such step registered")
        result = await spec.handler(StepRun(self, index, label, context, path), step)
        if isinstance(result, CheckResult):
            self._result.checks.append(result)
            self._emit(CheckFinished(result=result))
            return result.outcome, result.message, True
        outcome, message = result
        return outcome, message, not spec.block

    # -- what the built-in steps' handlers (ocpplab_sim.scenario.language.steps) call ----------

    async def expect_ocpi(self, run: StepRun, step: ExpectOcpi) -> CheckResult:
        evses = self._evses(step.evse)
        return await self._verifier.expect_ocpi(run.index, run.label, step, evses, self._profile)

    async def expect_push(self, run: StepRun, step: ExpectPush) -> CheckResult:
        return await self._verifier.expect_push(run.index, run.label, step, self._evses(step.evse))

    async def authorize(self, run: StepRun, step: Authorize) -> CheckResult:
        return await self._authorize(run.index, run.label, step, self._evses(step.evse))

    async def block(self, run: StepRun, step: Block) -> tuple[Outcome, str]:
        """Run a block's children: together (``concurrent``), or in order, round by round."""
        context, inner = run.context, f"{run.path}.{step.key}"
        outcomes: list[Outcome] = []
        if step.concurrent:
            runs = [
                self._run_one(child, context, f"{inner}[{i}]") for i, child in enumerate(step.steps)
            ]
            results = await asyncio.gather(*runs, return_exceptions=True)
            for result in results:
                if isinstance(result, BaseException):
                    raise result
                outcomes.append(result)
        else:
            for bindings, suffix in list(step.rounds(self._topology, seed=self._seed)):
                if self._stop and not context.teardown:
                    break
                child_context = _Context(
                    context.phase,
                    {**context.bindings, **bindings},
                    context.teardown,
                    context.suffix + suffix,
                )
                for i, child in enumerate(step.steps):
                    outcomes.append(await self._run_one(child, child_context, f"{inner}[{i}]"))
        counts = {o: outcomes.count(o) for o in _WORST if outcomes.count(o)}
        summary = ", ".join(f"{n} {o.value}" for o, n in counts.items())
        return _worst(outcomes), f"{len(outcomes)} step(s): {summary}"

    @property
    def operations(self) -> Operations:
        return self._ops

    async def _connect(self, identity: str) -> bool:
        """Connect a charger once: True when this call opened it; a charger already connected
        (or connecting) is left as it is. One closed by ``disconnect`` cannot connect again."""
        if identity in self._closed:
            raise ChargePointError(
                "disconnect closed it (a clean, final close) and a charger cannot connect again; "
                "network_loss and reconnect take a charger offline and back"
            )
        opening = self._opening.get(identity)
        if opening is not None:
            await asyncio.shield(opening)  # raises what the first connect raised
            return False
        opening = asyncio.get_running_loop().create_future()
        opening.add_done_callback(_retrieve)
        self._opening[identity] = opening
        try:
            await self._chargers[identity].start()
        except BaseException as exc:
            if isinstance(exc, Exception):
                opening.set_exception(exc)
            else:
                opening.cancel()
            raise
        opening.set_result(None)
        return True

    def _evses(self, selector: Selector) -> tuple[Evse, ...]:
        return select_evses(selector, self._topology, seed=self._seed)

    async def connect(self, chargers: Selector) -> tuple[Outcome, str]:
        """The ``connect`` step: open each selected charger once."""
        names = [c.identity for c in select_chargers(chargers, self._topology, seed=self._seed)]
        opened = await gather_all([self._connect(name) for name in names], names)
        already = len(names) - sum(opened)
        note = f" ({already} already connected)" if already else ""
        return Outcome.PASSED, f"{len(names)} charger(s){note}"

    async def disconnect(self, chargers: Selector) -> tuple[Outcome, str]:
        """The ``disconnect`` step: close each selected charger for good."""
        names = [c.identity for c in select_chargers(chargers, self._topology, seed=self._seed)]
        self._closed.update(names)
        await gather_all([self._chargers[name].stop() for name in names], names)
        return Outcome.PASSED, f"{len(names)} charger(s)"

    async def _authorize(
        self, index: int, label: str, step: Authorize, evses: Sequence[Evse]
    ) -> CheckResult:
        started = self._clock()
        token = step.id_token or self._settings.id_token
        answers = await asyncio.gather(
            *(self._chargers[evse.charger].authorize(evse.number, token) for evse in evses)
        )
        observed = {evse.uid: answer for evse, answer in zip(evses, answers, strict=True)}
        wrong = {uid: status for uid, status in observed.items() if status != step.expect}
        message = (
            "; ".join(f"{uid}: Authorize answered {status}" for uid, status in wrong.items())
            + f" (expected {step.expect})"
            if wrong
            else f"Authorize answered {step.expect} for {len(evses)} EVSE(s)"
        )
        return CheckResult(
            name=label,
            step_index=index,
            outcome=Outcome.FAILED if wrong else Outcome.PASSED,
            message=message,
            expected=step.expect,
            observed=observed,
            duration_s=self._clock() - started,
            kind=step.key,
        )


def _retrieve(future: asyncio.Future[None]) -> None:
    """Mark a failed connect's exception as seen: the step that started it reports it."""
    if not future.cancelled():
        future.exception()


def _worst(outcomes: Sequence[Outcome]) -> Outcome:
    for outcome in _WORST:
        if outcome in outcomes:
            return outcome
    return Outcome.PASSED
