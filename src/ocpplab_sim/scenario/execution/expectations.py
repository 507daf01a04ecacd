"""The OCPI expectations: pulled EVSE state (``expect_ocpi``) and pushed updates (``expect_push``).

A verdict is a :class:`CheckResult`. A failure says what was expected, what was seen and when
(times relative to the start of the check, whose wall-clock time is given), and the OCPP messages
of the charger that led there.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from ocpplab_sim.errors import ChargePointError, OcpiError
from ocpplab_sim.scenario.execution.events import CheckResult, EventSink, OcpiStatusSeen, Outcome
from ocpplab_sim.scenario.execution.observe import FrameObserver
from ocpplab_sim.scenario.execution.ports import EvseView, PushSource, PushView, StatusSource
from ocpplab_sim.scenario.language.mapping import (
    DEFAULT_PROFILE,
    MappingError,
    ocpi_status_for,
    profiles_giving,
)
from ocpplab_sim.scenario.language.model import ConnectorSpec, ExpectOcpi, ExpectPush, Settings
from ocpplab_sim.scenario.language.types import EvseStatus
from ocpplab_sim.topology import Evse

__all__ = ["Verifier"]

_ABSENT = "absent"


class Verifier:
    """Runs expectations against the OCPI peer (pull) and the eMSP receiver (push)."""

    def __init__(
        self,
        ocpi: StatusSource | None,
        pushes: PushSource | None,
        observer: FrameObserver,
        emit: EventSink,
        settings: Settings,
        clock: Callable[[], float],
        sleep: Callable[[float], Awaitable[None]],
    ) -> None:
        self._ocpi = ocpi
        self._pushes = pushes
        self._observer = observer
        self._emit = emit
        self._settings = settings
        self._clock = clock
        self._sleep = sleep
        # uid → the status the previous poll showed, so only changes become events
        self._last_polled: dict[str, str] = {}

    async def _poll(self) -> tuple[Mapping[str, EvseView], str]:
        assert self._ocpi is not None
        try:
            views = await self._ocpi.evse_statuses()
        except OcpiError as exc:
            # A transient refusal is retried until the deadline; it is the verdict only then.
            return {}, str(exc)
        at = self._clock()
        for uid, view in views.items():
            if self._last_polled.get(uid) != view.status:
                self._last_polled[uid] = view.status
                self._emit(OcpiStatusSeen(evse_uid=uid, status=view.status, at=at))
        return views, ""

    async def expect_ocpi(
        self,
        index: int,
        label: str,
        step: ExpectOcpi,
        evses: Sequence[Evse],
        profile: str | None = None,
    ) -> CheckResult:
        """expect_ocpi; a status written in OCPP terms is translated through the mapping
        ``profile`` first, and a failure then names the profiles that would explain it."""
        ocpp = step.status_of_ocpp
        if ocpp is None:
            return await self._expect_status(index, label, step, evses)
        try:
            status = EvseStatus(ocpi_status_for(ocpp, profile))
        except MappingError as exc:
            raise ChargePointError(str(exc)) from exc
        check = await self._expect_status(
            index, label, step.model_copy(update={"status": status}), evses
        )
        if check.outcome is Outcome.PASSED:
            return check
        hints = [
            f"{status.value} is what mapping profile {profile or DEFAULT_PROFILE} publishes "
            f"for OCPP {ocpp}"
        ]
        for seen in sorted({s for s in check.observed.values() if s != status.value}):
            others = profiles_giving(ocpp, seen)
            explained = f"profile(s) {', '.join(others)}" if others else "no known profile"
            hints.append(f"{seen} for OCPP {ocpp} matches {explained}")
        return replace(check, message=f"{check.message} ({'; '.join(hints)})")

    async def _expect_status(
        self, index: int, label: str, step: ExpectOcpi, evses: Sequence[Evse]
    ) -> CheckResult:
        """Poll until every EVSE shows ``step.status`` (and connector), then hold for ``stays``."""
        if self._ocpi is None:
            raise OcpiError("expect_ocpi needs an OCPI peer, and this run has none")
        assert step.status is not None
        want = step.status.value
        within = step.within
        if within is None:
            within = 0.0 if step.stays is not None else self._settings.within
        started = self._clock()
        deadline = started + within
        hold_until: float | None = None
        first_seen: dict[str, float] = {}
        observed: dict[str, str] = {}
        history: dict[str, list[tuple[float, str]]] = {evse.uid: [] for evse in evses}
        connector_problems: dict[str, str] = {}
        last_error = ""
        while True:
            views, last_error = await self._poll()
            seen_at = self._clock()
            if not (last_error and hold_until is not None):  # a failed poll proves nothing
                for evse in evses:
                    view = views.get(evse.uid)
                    status = view.status if view is not None else _ABSENT
                    if views or evse.uid not in observed:
                        observed[evse.uid] = status
                        if not history[evse.uid] or history[evse.uid][-1][1] != status:
                            history[evse.uid].append((seen_at - started, status))
                    problem = _connector_problem(step.connector, view)
                    if problem:
                        connector_problems[evse.uid] = problem
                    else:
                        connector_problems.pop(evse.uid, None)
                    if status == want and not problem:
                        first_seen.setdefault(evse.uid, seen_at)
                    else:
                        first_seen.pop(evse.uid, None)
            matched = len(first_seen) == len(evses)

            def verdict(outcome: Outcome, message: str, now: float = seen_at) -> CheckResult:
                failed = outcome is not Outcome.PASSED
                connector = f" with connector {_spec(step.connector)}" if step.connector else ""
                return CheckResult(
                    name=label,
                    step_index=index,
                    outcome=outcome,
                    message=message,
                    expected=want + connector,
                    observed=dict(observed),
                    duration_s=now - started,
                    latencies_s={} if failed else self._observer.take_latencies(first_seen),
                    kind=step.key,
                    explanation=self._explain(
                        evses, want, observed, history, connector_problems, started, now
                    )
                    if failed
                    else "",
                    ocpp_messages={
                        e.uid: self._observer.messages_for(e, started)
                        for e in evses
                        if observed.get(e.uid) != want or e.uid in connector_problems
                    }
                    if failed
                    else {},
                )

            if hold_until is None:
                if matched and step.stays is None:
                    took = seen_at - started
                    return verdict(Outcome.PASSED, f"{len(evses)} EVSE(s) {want} after {took:.2f}s")
                if matched:
                    hold_until = seen_at + step.stays  # type: ignore[operator]
                elif seen_at >= deadline:
                    wrong = [f"{uid}={s}" for uid, s in observed.items() if s != want]
                    wrong += [f"{uid} connector {p}" for uid, p in connector_problems.items()]
                    how = f"within {within:g}s" if within else "from the first poll"
                    message = f"expected {want} {how}; still " + ", ".join(wrong)
                    if last_error:
                        message += f" (last OCPI error: {last_error})"
                    return verdict(Outcome.FAILED, message)
            elif not matched:
                moved = [f"{uid}={s}" for uid, s in observed.items() if s != want]
                moved += [f"{uid} connector {p}" for uid, p in connector_problems.items()]
                return verdict(
                    Outcome.FAILED,
                    f"expected {want} to stay for {step.stays:g}s; changed after "
                    f"{seen_at - (hold_until - (step.stays or 0)):.2f}s: " + ", ".join(moved),
                )
            elif seen_at >= hold_until:
                return verdict(
                    Outcome.PASSED,
                    f"{len(evses)} EVSE(s) stayed {want} for {step.stays:g}s",
                )
            until = hold_until if hold_until is not None else deadline
            await self._sleep(min(self._settings.poll_interval, max(until - seen_at, 0.0)))

    def _explain(
        self,
        evses: Sequence[Evse],
        want: str,
        observed: Mapping[str, str],
        history: Mapping[str, list[tuple[float, str]]],
        connector_problems: Mapping[str, str],
        started: float,
        ended: float,
    ) -> str:
        at = datetime.fromtimestamp(started, UTC).isoformat(timespec="milliseconds")
        lines = [f"check started {at} (times below are relative to it)"]
        for evse in evses:
            seen = observed.get(evse.uid, _ABSENT)
            problem = connector_problems.get(evse.uid)
            if seen == want and not problem:
                continue
            polls = ", ".join(f"{t:+.2f}s {s}" for t, s in history.get(evse.uid, [])) or "none"
            lines.append(
                f"{evse.uid} (charger {evse.charger}, OCPP #{evse.number}): expected {want}, "
                f"saw {seen} at the last poll ({ended - started:+.2f}s); OCPI changes: {polls}"
            )
            if problem:
                lines.append(f"  connector: {problem}")
            messages = self._observer.messages_for(evse, started)
            lines.append("  OCPP messages that led there:" if messages else "  no OCPP messages")
            lines.extend(f"    {line}" for line in messages)
        return "\n".join(lines)

    async def expect_push(
        self, index: int, label: str, step: ExpectPush, evses: Sequence[Evse]
    ) -> CheckResult:
        """Wait until the latest push for every EVSE carries ``step.status``; any push with a
        problem, or ``last_updated`` going backwards, fails the check at once."""
        if self._pushes is None:
            raise OcpiError("expect_push needs the eMSP receiver (ocpi: {push: true})")
        want = step.status.value
        within = step.within if step.within is not None else self._settings.within
        started = self._clock()
        deadline = started + within
        while True:
            pushes = self._pushes.pushes()
            seen_at = self._clock()
            observed: dict[str, str] = {}
            problems: list[str] = []
            for evse in evses:
                mine = [p for p in pushes if p.evse_uid == evse.uid]
                problems += [f"{evse.uid}: {p}" for p in _push_problems(mine, started)]
                statuses = [p for p in mine if "status" in p.body]
                observed[evse.uid] = str(statuses[-1].body["status"]) if statuses else "no push"
            done = all(status == want for status in observed.values())
            if problems or done or seen_at >= deadline:
                if problems:
                    outcome, message = Outcome.FAILED, "invalid push: " + "; ".join(problems)
                elif done:
                    outcome = Outcome.PASSED
                    message = f"{len(evses)} EVSE(s) pushed {want} after {seen_at - started:.2f}s"
                else:
                    wrong = [f"{uid}={s}" for uid, s in observed.items() if s != want]
                    outcome = Outcome.FAILED
                    message = f"expected a push of {want} within {within:g}s; latest " + ", ".join(
                        wrong
                    )
                failed = outcome is not Outcome.PASSED
                return CheckResult(
                    name=label,
                    step_index=index,
                    outcome=outcome,
                    message=message,
                    expected=want,
                    observed=observed,
                    duration_s=seen_at - started,
                    kind=step.key,
                    explanation=_push_trail(evses, pushes, started) if failed else "",
                    ocpp_messages={e.uid: self._observer.messages_for(e, started) for e in evses}
                    if failed
                    else {},
                )
            await self._sleep(min(self._settings.poll_interval, max(deadline - seen_at, 0.0)))


def _spec(spec: ConnectorSpec | None) -> str:
    return ", ".join(f"{k}={v}" for k, v in spec.wanted().items()) if spec else ""


def _connector_problem(spec: ConnectorSpec | None, view: EvseView | None) -> str:
    """Empty when one connector of ``view`` has every field ``spec`` asks for."""
    if spec is None or view is None:
        return ""
    wanted = spec.wanted()
    for connector in view.connectors:
        if all(connector.get(key) == value for key, value in wanted.items()):
            return ""
    shown = "; ".join(
        ", ".join(f"{key}={connector.get(key)}" for key in wanted) for connector in view.connectors
    )
    return f"expected {_spec(spec)}, has {shown or 'no connector'}"


def _push_problems(pushes: Sequence[PushView], since: float) -> list[str]:
    """The receiver's findings plus ``last_updated`` order, for pushes of one EVSE."""
    problems = [
        f"{push.method} at {push.at - since:+.2f}s: {issue}"
        for push in pushes
        for issue in push.problems
    ]
    previous: datetime | None = None
    for push in pushes:
        stamp = _timestamp(push.body.get("last_updated"))
        if stamp is None:
            continue
        if previous is not None and stamp < previous:
            problems.append(
                f"{push.method} at {push.at - since:+.2f}s: last_updated {stamp.isoformat()} is "
                f"older than the previous push's {previous.isoformat()}"
            )
        previous = stamp
    return problems


def _timestamp(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        stamp = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)


def _push_trail(evses: Sequence[Evse], pushes: Sequence[PushView], started: float) -> str:
    at = datetime.fromtimestamp(started, UTC).isoformat(timespec="milliseconds")
    lines = [f"check started {at} (times below are relative to it)"]
    for evse in evses:
        mine = [p for p in pushes if p.evse_uid == evse.uid]
        lines.append(f"{evse.uid}: {len(mine)} push(es)")
        for push in mine[-6:]:
            body = ", ".join(f"{k}={v}" for k, v in push.body.items())
            lines.append(f"    {push.at - started:+.2f}s {push.method} {body}")
    return "\n".join(lines)
