"""Smart charging: charging profiles and the composite schedule (OCPP 1.6 §3.13; 2.0.1 Part 2, K).

Version-neutral and sans-I/O: times are epoch seconds passed in by the caller. Limits are kept
in the unit of the profile (``A`` or ``W``); :class:`ProfileSet` converts amperes to watts with
the EVSE's nominal voltage and phase count when it combines them.

Combination rules (1.6 §3.13.2-3.13.4; 2.0.1 K01 and "Composite schedule"): within one purpose
the valid profile with the highest stack level wins; a TxProfile of the running transaction
replaces the TxDefaultProfile; the result is capped by the ChargePointMaxProfile
(2.0.1 ChargingStationMaxProfile). EVSE 0 profiles apply to every EVSE.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

__all__ = ["ChargingProfile", "ProfileSet", "SchedulePeriod"]

Purpose = Literal["ChargePointMaxProfile", "TxDefaultProfile", "TxProfile"]
Kind = Literal["Absolute", "Recurring", "Relative"]
_RECURRENCE_S = {"Daily": 86400.0, "Weekly": 7 * 86400.0}


@dataclass(frozen=True, slots=True)
class SchedulePeriod:
    """From ``start_s`` after the schedule start on, at most ``limit`` (A or W)."""

    start_s: float
    limit: float
    phases: int | None = None


@dataclass(frozen=True, slots=True)
class ChargingProfile:
    """One charging profile with one schedule (2.0.1 allows up to three; the first is used)."""

    id: int
    evse: int
    stack_level: int
    purpose: Purpose
    kind: Kind
    unit: Literal["A", "W"]
    periods: tuple[SchedulePeriod, ...]
    schedule_start: float | None = None
    duration_s: float | None = None
    recurrency: Literal["Daily", "Weekly"] | None = None
    valid_from: float | None = None
    valid_to: float | None = None
    transaction_id: str | None = None
    min_rate: float | None = None

    def _origin(self, now: float, tx_started: float | None) -> float | None:
        if self.kind == "Relative":
            return tx_started if tx_started is not None else now
        start = self.schedule_start
        if start is None:
            return None
        if self.kind == "Recurring" and self.recurrency is not None and now >= start:
            period = _RECURRENCE_S[self.recurrency]
            start += ((now - start) // period) * period
        return start

    def limit_at(self, now: float, tx_started: float | None) -> tuple[float, int | None] | None:
        """The (limit, phases) in force at ``now``, or None outside validity or schedule."""
        if self.valid_from is not None and now < self.valid_from:
            return None
        if self.valid_to is not None and now >= self.valid_to:
            return None
        origin = self._origin(now, tx_started)
        if origin is None or now < origin:
            return None
        offset = now - origin
        if self.duration_s is not None and offset >= self.duration_s:
            return None
        current: SchedulePeriod | None = None
        for period in self.periods:
            if period.start_s <= offset:
                current = period
        if current is None:
            return None
        return current.limit, current.phases

    def breakpoints(self, start: float, end: float, tx_started: float | None) -> set[float]:
        """Times in ``[start, end)`` at which this profile's limit may change."""
        points = {t for t in (self.valid_from, self.valid_to) if t is not None}
        origin = self._origin(start, tx_started)
        origins = [] if origin is None else [origin]
        if self.kind == "Recurring" and self.recurrency is not None and origin is not None:
            period = _RECURRENCE_S[self.recurrency]
            nxt = origin + period
            while nxt < end:
                origins.append(nxt)
                nxt += period
        for o in origins:
            points.update(o + p.start_s for p in self.periods)
            if self.duration_s is not None:
                points.add(o + self.duration_s)
        return {t for t in points if start <= t < end}


@dataclass
class ProfileSet:
    """The profiles installed on one station, and the limit they impose on an EVSE."""

    voltage_v: float = 230.0
    phases: int = 3
    profiles: dict[int, ChargingProfile] = field(default_factory=dict)

    def install(self, profile: ChargingProfile) -> None:
        """Install, replacing a profile with the same id or the same (evse, purpose, stack
        level) (1.6 §5.16; 2.0.1 K01.FR.05)."""
        for pid, other in list(self.profiles.items()):
            same_slot = (other.evse, other.purpose, other.stack_level) == (
                profile.evse,
                profile.purpose,
                profile.stack_level,
            )
            if pid == profile.id or same_slot:
                del self.profiles[pid]
        self.profiles[profile.id] = profile

    def clear(
        self,
        *,
        profile_id: int | None = None,
        evse: int | None = None,
        purpose: str | None = None,
        stack_level: int | None = None,
    ) -> int:
        """Remove matching profiles (all when no criterion is given); returns how many."""
        doomed = [
            pid
            for pid, p in self.profiles.items()
            if (profile_id is None or pid == profile_id)
            and (evse is None or p.evse == evse)
            and (purpose is None or p.purpose == purpose)
            and (stack_level is None or p.stack_level == stack_level)
        ]
        for pid in doomed:
            del self.profiles[pid]
        return len(doomed)

    def drop_transaction(self, transaction_id: str) -> None:
        """TxProfiles end with their transaction (1.6 §3.13.2; 2.0.1 K01.FR.03)."""
        for pid, p in list(self.profiles.items()):
            if p.purpose == "TxProfile" and p.transaction_id in (transaction_id, None):
                del self.profiles[pid]

    def _watts(self, limit: float, unit: str, phases: int | None) -> float:
        if unit == "W":
            return limit
        return limit * self.voltage_v * (phases or self.phases)

    def _best(
        self, candidates: Iterable[ChargingProfile], now: float, tx_started: float | None
    ) -> float | None:
        for profile in sorted(candidates, key=lambda p: -p.stack_level):
            found = profile.limit_at(now, tx_started)
            if found is not None:
                return self._watts(found[0], profile.unit, found[1])
        return None

    def limit_w(
        self, evse: int, now: float, transaction_id: str | None, tx_started: float | None
    ) -> float | None:
        """The combined limit in W at ``now``, or None when no profile limits the EVSE."""
        applies = [p for p in self.profiles.values() if p.evse in (0, evse)]
        station_max = self._best(
            (p for p in applies if p.purpose == "ChargePointMaxProfile"), now, tx_started
        )
        tx_limit = None
        if transaction_id is not None:
            tx_limit = self._best(
                (
                    p
                    for p in applies
                    if p.purpose == "TxProfile" and p.transaction_id in (None, transaction_id)
                ),
                now,
                tx_started,
            )
        if tx_limit is None:
            tx_limit = self._best(
                (p for p in applies if p.purpose == "TxDefaultProfile"), now, tx_started
            )
        limits = [x for x in (station_max, tx_limit) if x is not None]
        return min(limits) if limits else None

    def composite(
        self,
        evse: int,
        now: float,
        duration_s: float,
        transaction_id: str | None,
        tx_started: float | None,
        ceiling_w: float,
    ) -> list[tuple[float, float]]:
        """The composite schedule (1.6 §5.7; 2.0.1 K08): ``(offset_s, limit_w)`` periods from
        ``now`` for ``duration_s``, the EVSE's own maximum where no profile limits it."""
        end = now + duration_s
        points = {now}
        for p in self.profiles.values():
            if p.evse in (0, evse):
                points |= p.breakpoints(now, end, tx_started)
        periods: list[tuple[float, float]] = []
        for t in sorted(points):
            found = self.limit_w(evse, t, transaction_id, tx_started)
            limit = ceiling_w if found is None else min(found, ceiling_w)
            if not periods or periods[-1][1] != limit:
                periods.append((t - now, limit))
        return periods
