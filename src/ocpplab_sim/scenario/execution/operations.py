"""The engine's handlers for charge-point actions beyond the charging cycle, central-system
operations (``csms`` and the version-neutral forms), ``expect_csms`` and ``expect_report``."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ocpplab_sim.errors import ChargePointError, ConnectivityError, OcpiError
from ocpplab_sim.scenario.execution.csms import Ids, NeutralOperation, OperationError, wire_request
from ocpplab_sim.scenario.execution.events import CheckResult, Outcome
from ocpplab_sim.scenario.execution.observe import CsmsCallSeen, FrameObserver
from ocpplab_sim.scenario.execution.ports import (
    ArmedAnswerPort,
    ChargerPort,
    CommandAnswer,
    CommandPort,
    ReportSource,
)
from ocpplab_sim.scenario.language.actions import (
    CancelReservation,
    CsmsCall,
    ExpectCsms,
    ExpectReport,
    RemoteStart,
    Reserve,
)
from ocpplab_sim.scenario.language.base import Action
from ocpplab_sim.scenario.language.model import Settings
from ocpplab_sim.scenario.language.selectors import select_chargers, select_evses
from ocpplab_sim.scenario.language.types import Selector
from ocpplab_sim.topology import Charger, Evse, Topology

__all__ = ["Operations", "gather_all", "short_json"]


@dataclass(frozen=True)
class _Target:
    charger: Charger
    evse: Evse | None

    @property
    def name(self) -> str:
        return self.evse.uid if self.evse is not None else self.charger.identity


class Operations:
    """Runs the steps of :mod:`ocpplab_sim.scenario.actions` for the engine."""

    def __init__(
        self,
        topology: Topology,
        chargers: Mapping[str, ChargerPort],
        commands: CommandPort | None,
        reports: ReportSource | None,
        observer: FrameObserver,
        settings: Settings,
        *,
        seed: int,
        clock: Callable[[], float],
        sleep: Callable[[float], Awaitable[None]],
    ) -> None:
        self._topology = topology
        self._chargers = chargers
        self._commands = commands
        self._reports = reports
        self._observer = observer
        self._settings = settings
        self._seed = seed
        self._clock = clock
        self._sleep = sleep
        self._numbers = 0
        self._reservations: dict[str, int] = {}  # evse uid → the reservation made there
        self._consumed: set[int] = set()  # central-system CALLs an expect_csms matched

    # -- central-system operations -----------------------------------------------------------

    async def csms(self, index: int, label: str, step: CsmsCall | NeutralOperation) -> CheckResult:
        if self._commands is None:
            raise OcpiError(f"{step.key} needs the gateway's command API, and this run has none")
        started = self._clock()
        targets = self._targets(step)
        requests: list[tuple[_Target, str, dict[str, Any]]] = []
        for target in targets:
            if isinstance(step, CsmsCall):
                requests.append((target, step.action, dict(step.payload)))
                continue
            try:
                action, payload = wire_request(
                    step, target.charger.ocpp_version, target.evse, self._ids(step, target)
                )
            except OperationError as exc:
                raise ChargePointError(str(exc)) from exc
            requests.append((target, action, payload))
        commands = self._commands
        answers = await asyncio.gather(
            *(
                commands.command(t.charger.identity, action, payload, step.answer_within)
                for t, action, payload in requests
            )
        )
        observed: dict[str, str] = {}
        wrong: list[str] = []
        for (target, action, _payload), answer in zip(requests, answers, strict=True):
            seen = _answer_text(answer)
            observed[target.name] = f"{action}: {seen}"
            if answer.outcome != "answered" or (
                step.expect is not None and (answer.response or {}).get("status") != step.expect
            ):
                wrong.append(f"{target.name}: {action} → {seen}")
        expected = step.expect or "any answer"
        if wrong:
            message = "; ".join(wrong) + f" (expected {expected})"
        else:
            message = f"{len(requests)} charger(s) answered {expected}"
        return CheckResult(
            name=label,
            step_index=index,
            outcome=Outcome.FAILED if wrong else Outcome.PASSED,
            message=message,
            expected=expected,
            observed=observed,
            duration_s=self._clock() - started,
            kind=step.key,
        )

    def _targets(self, step: Action) -> list[_Target]:
        evse_sel: Selector | None = getattr(step, "evse", None)
        if evse_sel is not None:
            evses = select_evses(evse_sel, self._topology, seed=self._seed)
            by_id = {c.identity: c for c in self._topology.chargers}
            return [_Target(by_id[e.charger], e) for e in evses]
        chargers: Selector = getattr(step, "chargers", None) or Selector(kind="all")
        found = select_chargers(chargers, self._topology, seed=self._seed)
        return [_Target(c, None) for c in found]

    def _ids(self, step: NeutralOperation, target: _Target) -> Ids:
        token = getattr(step, "id_token", None) or self._settings.id_token
        uid = target.name
        given = getattr(step, "reservation_id", None)
        if isinstance(step, Reserve):
            number = given or self._fresh()
            self._reservations[uid] = number
        elif isinstance(step, CancelReservation):
            number = given or self._reservations.get(uid) or 0
            if not number:
                raise ChargePointError(f"no reservation was made on {uid}: give reservation_id")
        else:
            number = self._fresh() if isinstance(step, RemoteStart) else 0
        evse = target.evse
        tx = self._chargers[evse.charger].transaction_id(evse.number) if evse is not None else None
        return Ids(id_token=token, number=number, transaction_id=tx, now=self._clock())

    def _fresh(self) -> int:
        self._numbers += 1
        return self._numbers

    # -- expectations ------------------------------------------------------------------------

    async def expect_csms(self, index: int, label: str, step: ExpectCsms) -> CheckResult:
        """Wait until the central system sent ``step.action`` to every target; with
        ``respond``, arm the answers first (before anything is awaited) and count only the
        CALLs received from then on."""
        targets = self._targets(step)
        within = step.within if step.within is not None else self._settings.within
        started = self._clock()
        after = self._observer.last_seq if step.respond is not None else 0
        armed = self._arm(step, targets)
        try:
            matched = await self._wait_for_calls(step, targets, after, started, within)
        finally:
            for answer in armed:
                answer.cancel()
        missing = [t for t in targets if t.name not in matched]
        observed = {
            t.name: (f"{step.action} at {matched[t.name].at - started:+.2f}s")
            + _answered(armed[i] if armed else None)
            if t.name in matched
            else "not sent"
            for i, t in enumerate(targets)
        }
        explanation = ""
        if missing:
            lines = ["the central system sent (times relative to the check's start):"]
            for target in missing:
                sent = [
                    f"{c.at - started:+.2f}s {c.action} {short_json(c.payload)}"
                    for c in self._observer.csms_calls()
                    if c.identity == target.charger.identity
                ][-6:]
                lines.append(f"{target.name}: " + ("; ".join(sent) if sent else "nothing"))
            explanation = "\n".join(lines)
        else:
            self._consumed.update(call.seq for call in matched.values())
        fields = f" with {short_json(step.payload)}" if step.payload else ""
        if step.respond is not None:
            fields += f", answered {short_json(_armed_text(step))}"
        return CheckResult(
            name=label,
            step_index=index,
            outcome=Outcome.FAILED if missing else Outcome.PASSED,
            message=(
                f"expected the central system to send {step.action}{fields} within {within:g}s; "
                "not sent to " + ", ".join(t.name for t in missing)
                if missing
                else f"{step.action} sent to {len(targets)} target(s)"
                + (f", answered {short_json(_armed_text(step))}" if step.respond else "")
            ),
            expected=step.action + fields,
            observed=observed,
            duration_s=self._clock() - started,
            kind=step.key,
            explanation=explanation,
        )

    def _arm(self, step: ExpectCsms, targets: Sequence[_Target]) -> list[ArmedAnswerPort]:
        """Arm ``step.respond`` on each target's charger (one answer per target)."""
        respond = step.respond
        armed: list[ArmedAnswerPort] = []
        if respond is None:
            return armed
        payload = dict(respond.payload) if respond.payload is not None else None
        for target in targets:
            port = self._chargers[target.charger.identity]
            try:
                armed.append(port.answer_next(step.action, payload, status=respond.status))
            except ChargePointError as exc:
                for answer in armed:
                    answer.cancel()
                raise ChargePointError(f"{target.name}: {exc}") from exc
        return armed

    async def _wait_for_calls(
        self,
        step: ExpectCsms,
        targets: Sequence[_Target],
        after: int,
        started: float,
        within: float,
    ) -> dict[str, CsmsCallSeen]:
        """Each target's first unconsumed matching CALL (``seq`` above ``after``), polled until
        every target has one or the deadline passed."""
        while True:
            calls = [
                c
                for c in self._observer.csms_calls()
                if c.seq > after and c.seq not in self._consumed
            ]
            matched: dict[str, CsmsCallSeen] = {}
            for target in targets:
                for call in calls:
                    if call.seq not in {m.seq for m in matched.values()} and _matches(
                        call, target, step
                    ):
                        matched[target.name] = call
                        break
            now = self._clock()
            if len(matched) == len(targets) or now >= started + within:
                return matched
            await self._sleep(min(self._settings.poll_interval, started + within - now))

    async def expect_report(self, index: int, label: str, step: ExpectReport) -> CheckResult:
        """Poll the gateway's report until its figures for the selection hold."""
        if self._reports is None:
            raise OcpiError("expect_report needs a gateway report, and this run has none")
        evses = select_evses(step.evse, self._topology, seed=self._seed)
        wanted = {(e.charger, e.number) for e in evses}
        within = step.within if step.within is not None else self._settings.within
        started = self._clock()
        while True:
            report = await self._reports.report()
            mine = [t for t in report.transactions if (t.charger, t.number) in wanted]
            finished = [t for t in mine if t.stopped]
            problems: list[str] = []
            if step.sessions is not None and len(mine) != step.sessions:
                problems.append(f"{len(mine)} session(s) counted, expected {step.sessions}")
            if step.finished_sessions is not None and len(finished) != step.finished_sessions:
                problems.append(
                    f"{len(finished)} finished session(s), expected {step.finished_sessions}"
                )
            if step.energy_tolerance_wh is not None:
                problems += _energy_problems(finished, step.energy_tolerance_wh)
            now = self._clock()
            if not problems or now >= started + within:
                break
            await self._sleep(min(self._settings.poll_interval, started + within - now))
        expected = ", ".join(
            f"{name}={value}"
            for name, value in (
                ("sessions", step.sessions),
                ("finished_sessions", step.finished_sessions),
                ("energy_tolerance_wh", step.energy_tolerance_wh),
            )
            if value is not None
        )
        return CheckResult(
            name=label,
            step_index=index,
            outcome=Outcome.FAILED if problems else Outcome.PASSED,
            message="; ".join(problems) + f" (after {within:g}s)"
            if problems
            else f"report: {len(mine)} session(s), {len(finished)} finished, for {len(evses)} "
            "EVSE(s)",
            expected=expected,
            observed={
                f"{t.charger}#{t.number} tx {t.transaction_id}": (
                    f"energy {t.energy_wh} Wh, meter {t.meter_start_wh} → {t.meter_stop_wh}"
                )
                for t in mine
            },
            duration_s=self._clock() - started,
            kind=step.key,
        )


def _energy_problems(transactions: Sequence[Any], tolerance: float) -> list[str]:
    problems = []
    for tx in transactions:
        start, stop, energy = tx.meter_start_wh, tx.meter_stop_wh, tx.energy_wh
        name = f"transaction {tx.transaction_id} ({tx.charger} #{tx.number})"
        if start is None or stop is None or energy is None:
            problems.append(f"{name}: no meter figures (start {start}, stop {stop}, {energy})")
        elif abs(energy - (stop - start)) > tolerance:
            problems.append(
                f"{name}: metered {energy:g} Wh but meter stop - start = {stop - start:g} Wh "
                f"(tolerance {tolerance:g} Wh)"
            )
    return problems


def _matches(call: CsmsCallSeen, target: _Target, step: ExpectCsms) -> bool:
    if call.identity != target.charger.identity or call.action != step.action:
        return False
    if target.evse is not None and call.number not in (None, target.evse.number):
        return False
    return _contains(call.payload, step.payload)


def _contains(actual: Any, wanted: Any) -> bool:
    """Whether ``actual`` has every field of ``wanted`` (recursively for mappings)."""
    if isinstance(wanted, Mapping):
        return isinstance(actual, Mapping) and all(
            key in actual and _contains(actual[key], value) for key, value in wanted.items()
        )
    return bool(actual == wanted)


def _armed_text(step: ExpectCsms) -> dict[str, Any]:
    assert step.respond is not None
    answer = dict(step.respond.payload or {})
    if step.respond.status is not None:
        answer["status"] = step.respond.status
    return answer


def _answered(armed: ArmedAnswerPort | None) -> str:
    if armed is None:
        return ""
    answered = armed.answered
    return f", answered {short_json(answered)}" if answered is not None else ", not answered by us"


def _answer_text(answer: CommandAnswer) -> str:
    if answer.outcome == "answered":
        status = (answer.response or {}).get("status")
        return str(status) if status is not None else short_json(answer.response or {})
    if answer.outcome == "callerror" and answer.error:
        return f"CALLERROR {answer.error.get('code')}: {answer.error.get('description')}"
    if answer.outcome == "refused" and answer.error:
        return f"refused by the gateway: {answer.error.get('description')}"
    return answer.outcome


def short_json(value: Any, limit: int = 120) -> str:
    """``value`` as compact JSON, cut at ``limit`` characters."""
    text = json.dumps(value, separators=(", ", ": "), default=str)
    return text if len(text) <= limit else text[: limit - 1] + "…"


async def gather_all(calls: Sequence[Awaitable[Any]], names: Sequence[str]) -> list[Any]:
    """Await every call concurrently; re-raise the first failure, naming whose it was."""
    results = await asyncio.gather(*calls, return_exceptions=True)
    for name, outcome in zip(names, results, strict=True):
        if isinstance(outcome, ConnectivityError):
            raise ConnectivityError(f"{name}: {outcome}") from outcome
        if isinstance(outcome, ChargePointError):
            raise ChargePointError(f"{name}: {outcome}") from outcome
        if isinstance(outcome, BaseException):
            raise outcome
    return list(results)
