"""State and queries of the sans-I/O station model; the events live in :mod:`.station`.

:class:`StationCore` owns the EVSEs and answers questions about them (status, energy, limits,
composite schedule); it also holds the two rules every event applies through
:meth:`StationCore._refresh`:

- Status (OCPP 1.6 §4.9 StatusNotification; 2.0.1 Part 2, G01 connector model): a faulted EVSE
  is Faulted; an EVSE being reset (2.0.1 B11/B12 with ``evseId``) or inoperative without a
  transaction is Unavailable (a change requested during a transaction takes effect when it
  ends, 1.6 §5.2); a transaction is Charging, SuspendedEV (EV draws nothing) or SuspendedEVSE
  (limit 0); a plugged cable or a presented token is Preparing; a cable left in after a
  transaction is Finishing.
- Power: the EV draws the EVSE limit (maximum, charging profiles, local cap), capped by its
  own maximum and tapered above 80 % SoC.

Nothing here reads a clock, sleeps or touches the network: every time is an argument.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable, Sequence

from ocpplab_sim.errors import ChargePointError
from ocpplab_sim.station.auth import AuthStore
from ocpplab_sim.station.evse import Evse, Reservation, Transaction
from ocpplab_sim.station.intents import (
    ChargingStateChanged,
    Intent,
    Status,
    StatusChanged,
    StopReason,
    TransactionStopped,
)
from ocpplab_sim.station.meter import Meter, MeterReading
from ocpplab_sim.station.profiles import ProfileSet

__all__ = ["StationCore", "StationError"]

_CHARGING_STATES = frozenset({Status.CHARGING, Status.SUSPENDED_EV, Status.SUSPENDED_EVSE})


class StationError(ChargePointError):
    """An event is not possible in the EVSE's current state (e.g. start without a cable)."""


def seeded_ids(seed: int | str) -> Callable[[], str]:
    """Version-4 UUIDs as a pure function of ``seed`` and how many came before."""
    rng = random.Random(f"transaction-ids/{seed}")
    return lambda: str(uuid.UUID(int=rng.getrandbits(128), version=4))


class StationCore:
    """A charge point with ``evse_count`` EVSEs numbered 1..n, each with connector 1.

    ``seed`` drives the meter noise; ``id_factory`` makes transaction ids (by default version-4
    UUIDs drawn from ``seed``: the model reads no global randomness; a driver that needs ids
    unique across runs injects its own).
    """

    def __init__(
        self,
        evse_count: int,
        *,
        max_power_w: float | Sequence[float] = 22000.0,
        seed: int = 0,
        id_factory: Callable[[], str] | None = None,
        nominal_voltage_v: float | None = None,
        phases: int | None = None,
        dc: bool = False,
    ) -> None:
        if evse_count < 1:
            raise ValueError("evse_count must be >= 1")
        powers = (
            [float(max_power_w)] * evse_count
            if isinstance(max_power_w, int | float)
            else [float(p) for p in max_power_w]
        )
        if len(powers) != evse_count or min(powers) <= 0:
            raise ValueError("max_power_w must be > 0, one value or one per EVSE")
        self.max_power_w = max(powers)
        self.dc = dc
        # DC: one "phase" at the battery voltage; AC: phase voltage and 1 or 3 phases.
        self.voltage_v = nominal_voltage_v or (400.0 if dc else 230.0)
        self.phases = 1 if dc else (phases or 3)
        self._id_factory = id_factory or seeded_ids(seed)
        self._operative = True
        self.profiles = ProfileSet(voltage_v=self.voltage_v, phases=self.phases)
        self.auth = AuthStore()
        self._evses = {
            n: Evse(
                number=n,
                max_power_w=powers[n - 1],
                meter=Meter(
                    seed * 1009 + n,
                    nominal_voltage_v=self.voltage_v,
                    phases=self.phases,
                ),
            )
            for n in range(1, evse_count + 1)
        }

    # -- queries ---------------------------------------------------------------------------

    @property
    def evse_numbers(self) -> list[int]:
        return list(self._evses)

    def evse(self, number: int) -> Evse:
        """The EVSE ``number`` (1-based); raises :class:`StationError` if there is none."""
        try:
            return self._evses[number]
        except KeyError:
            raise StationError(f"no EVSE {number} (have 1..{len(self._evses)})") from None

    def status(self, number: int) -> Status:
        """Status of EVSE ``number``; 0 is the station as a whole (Available or Unavailable)."""
        if number == 0:
            return Status.AVAILABLE if self._operative else Status.UNAVAILABLE
        return self.evse(number).status

    def energy_wh(self, number: int, now: float | None = None) -> float:
        """The EVSE's energy register in Wh (never decreases); integrated up to ``now`` when
        given, else as of the last event."""
        evse = self.evse(number)
        if now is not None:
            evse.meter.advance(now, self._target_power(evse, now))
        return evse.meter.energy_wh

    def reading(self, number: int) -> MeterReading:
        return self.evse(number).meter.reading()

    def transaction(self, number: int) -> Transaction | None:
        return self.evse(number).transaction

    def evse_of_transaction(self, transaction_id: str) -> int | None:
        for evse in self._evses.values():
            if evse.transaction is not None and evse.transaction.id == transaction_id:
                return evse.number
        return None

    def free_evse(self, id_token: str | None = None) -> int | None:
        """The lowest EVSE that could start a transaction for ``id_token`` now, for remote
        starts without one."""
        for evse in self._evses.values():
            if self.can_start(evse.number, id_token):
                return evse.number
        return None

    def can_start(self, number: int, id_token: str | None = None) -> bool:
        """Whether EVSE ``number`` could start a transaction for ``id_token`` now (a reserved
        EVSE only for the reserved token)."""
        evse = self.evse(number)
        if evse.transaction is not None or not evse.operative or evse.faulted or evse.resetting:
            return False
        return evse.reservation is None or self._reserved_for(evse.reservation, id_token)

    def soc_pct(self, number: int) -> float | None:
        """The plugged EV's state of charge in %, when its battery is known."""
        evse = self.evse(number)
        if evse.ev is None or evse.ev.battery_wh is None:
            return None
        gained = evse.meter.energy_wh - evse.energy_at_plug_wh
        return min(100.0, evse.ev.soc_pct + 100.0 * gained / evse.ev.battery_wh)

    def limit_w(self, number: int, now: float) -> float:
        """The power the EVSE may offer at ``now``: its maximum, capped by the charging
        profiles and by :meth:`set_power_limit`."""
        evse = self.evse(number)
        limit = evse.max_power_w
        tx = evse.transaction
        profile = self.profiles.limit_w(
            number, now, tx.id if tx else None, tx.started_at if tx else None
        )
        if profile is not None:
            limit = min(limit, profile)
        if evse.power_limit_w is not None:
            limit = min(limit, evse.power_limit_w)
        return max(0.0, limit)

    def composite_schedule(
        self, number: int, now: float, duration_s: float
    ) -> list[tuple[float, float]]:
        """``(offset_s, limit_w)`` periods for the next ``duration_s`` (1.6 §5.7; 2.0.1 K08);
        EVSE 0 gives the station-wide schedule."""
        tx = self.evse(number).transaction if number else None
        ceiling = self.evse(number).max_power_w if number else self.max_power_w
        return self.profiles.composite(
            number,
            now,
            duration_s,
            tx.id if tx else None,
            tx.started_at if tx else None,
            ceiling,
        )

    def reservation(self, number: int) -> Reservation | None:
        return self.evse(number).reservation

    def next_expiry(self) -> float | None:
        """When the first reservation expires (None: none is held)."""
        due: float | None = None
        for evse in self._evses.values():
            reservation = evse.reservation
            if reservation is not None and (due is None or reservation.expires_at < due):
                due = reservation.expires_at
        return due

    # -- internals -------------------------------------------------------------------------

    def _end_transaction(
        self, evse: Evse, reason: StopReason, now: float, *, plugged: bool
    ) -> list[Intent]:
        tx = evse.transaction
        assert tx is not None
        evse.meter.advance(now, 0.0)
        last = evse.meter.reading()
        evse.transaction = None
        self.profiles.drop_transaction(tx.id)
        evse.finishing = plugged
        return [
            TransactionStopped(
                evse=evse.number,
                transaction_id=tx.id,
                id_token=tx.id_token,
                meter_start_wh=tx.meter_start_wh,
                meter_stop_wh=last.energy_wh,
                timestamp=now,
                reason=reason,
                plugged=plugged,
            )
        ]

    def _target_power(self, evse: Evse, now: float) -> float:
        """What the EV draws: the EVSE limit, the EV's own maximum, and above 80 % SoC a
        linear taper to 5 % at full (constant-current / constant-voltage charging)."""
        if evse.transaction is None or evse.faulted or not evse.ev_wants_energy:
            return 0.0
        power = self.limit_w(evse.number, now)
        if evse.ev_max_power_w is not None:
            power = min(power, evse.ev_max_power_w)
        soc = self.soc_pct(evse.number)
        if soc is not None and soc > 80.0:
            power *= max(0.05, (100.0 - soc) / 20.0)
        return power

    def _advance_all(self, now: float) -> None:
        for evse in self._evses.values():
            evse.meter.advance(now, self._target_power(evse, now))

    @staticmethod
    def _reserved_for(reservation: Reservation, id_token: str | None) -> bool:
        return id_token is not None and id_token in (
            reservation.id_token,
            reservation.parent_id_token,
        )

    @staticmethod
    def _idle(evse: Evse) -> bool:
        return (
            evse.transaction is None
            and not evse.plugged
            and evse.reservation is None
            and evse.operative
            and not evse.faulted
            and not evse.resetting
        )

    @staticmethod
    def _in_use(evse: Evse) -> bool:
        """A user is preparing a session (cable in, or a token authorized): an inoperative
        change waits until that ends."""
        return (evse.plugged and not evse.finishing) or evse.authorized_token is not None

    def _derive(self, evse: Evse, now: float) -> Status:
        """The status rules of the module docstring, in order of precedence."""
        if evse.faulted:
            return Status.FAULTED
        if evse.transaction is not None:
            if self.limit_w(evse.number, now) == 0:
                return Status.SUSPENDED_EVSE
            if not evse.ev_wants_energy:
                return Status.SUSPENDED_EV
            return Status.CHARGING
        if evse.resetting or (
            not evse.operative and (evse.status == Status.UNAVAILABLE or not self._in_use(evse))
        ):
            return Status.UNAVAILABLE
        if evse.plugged:
            return Status.FINISHING if evse.finishing else Status.PREPARING
        if evse.authorized_token is not None:
            return Status.PREPARING
        if evse.reservation is not None:
            return Status.RESERVED
        return Status.AVAILABLE

    def _refresh(self, evse: Evse, now: float) -> list[Intent]:
        # The meter must integrate the old power up to ``now`` before the new target applies.
        evse.meter.advance(now, self._target_power(evse, now))
        new = self._derive(evse, now)
        if new == evse.status:
            return []
        out: list[Intent] = []
        if evse.status == Status.PREPARING and new == Status.UNAVAILABLE:
            # a change to inoperative that waited for the user: the connector is free first
            # (1.6 §4.9 has Preparing → Available → Unavailable, no Preparing → Unavailable)
            out.append(StatusChanged(evse.number, Status.AVAILABLE, now))
        evse.status = new
        out.append(
            StatusChanged(evse.number, new, now, fault=evse.faulted, error_code=evse.error_code)
        )
        if evse.transaction is not None and new in _CHARGING_STATES:
            out.append(ChargingStateChanged(evse.number, evse.transaction.id, new, now))
        return out
