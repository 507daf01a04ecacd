"""The sans-I/O charge-point model: station → EVSE → connector (one connector per EVSE).

Every event method takes the current time ``now`` (epoch seconds) and returns the intents the
owner must deliver, in order. Nothing here reads a clock, sleeps, or touches the network; the
owner (``ocpplab_sim.fleet``) turns intents into OCPP messages through a protocol adapter.

Status rules follow OCPP 1.6 §4.9 (StatusNotification) and the 2.0.1 connector model
(Part 2, G01): a faulted EVSE is Faulted; an inoperative EVSE without a transaction is
Unavailable (a change requested during a transaction takes effect when it ends, 1.6 §5.2);
a transaction is Charging, SuspendedEV (EV draws nothing) or SuspendedEVSE (limit 0); a plugged
cable or a presented token is Preparing; a cable left in after a transaction is Finishing.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable, Sequence

from ocpplab_sim.errors import ChargePointError
from ocpplab_sim.station.auth import AuthStore
from ocpplab_sim.station.evse import Ev, Evse, Reservation, Transaction
from ocpplab_sim.station.intents import (
    ChargingStateChanged,
    Intent,
    MeterSample,
    ReservationEnded,
    Status,
    StatusChanged,
    StopReason,
    TransactionStarted,
    TransactionStopped,
)
from ocpplab_sim.station.meter import Meter, MeterReading
from ocpplab_sim.station.profiles import ChargingProfile, ProfileSet

__all__ = ["Ev", "Evse", "Reservation", "Station", "StationError", "Transaction"]

_CHARGING_STATES = frozenset({Status.CHARGING, Status.SUSPENDED_EV, Status.SUSPENDED_EVSE})


class StationError(ChargePointError):
    """An event is not possible in the EVSE's current state (e.g. start without a cable)."""


class Station:
    """A charge point with ``evse_count`` EVSEs numbered 1..n, each with connector 1.

    ``seed`` drives the meter noise; ``id_factory`` makes transaction ids (uuid4 by default).
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
        self._id_factory = id_factory or (lambda: str(uuid.uuid4()))
        self._operative = True
        self.profiles = ProfileSet(voltage_v=self.voltage_v, phases=self.phases)
        self.auth = AuthStore()
        self._evses = {
            n: Evse(
                number=n,
                max_power_w=powers[n - 1],
                meter=Meter(
                    random.Random(seed * 1009 + n),
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
        if evse.transaction is not None or not evse.operative or evse.faulted:
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

    # -- events ----------------------------------------------------------------------------

    def boot(self, now: float) -> list[Intent]:
        """Statuses to report after BootNotification: station (evse 0) then every EVSE."""
        out: list[Intent] = [StatusChanged(0, self.status(0), now)]
        for evse in self._evses.values():
            evse.meter.advance(now, self._target_power(evse, now))
            evse.status = self._derive(evse, now)
            out.append(
                StatusChanged(
                    evse.number, evse.status, now, fault=evse.faulted, error_code=evse.error_code
                )
            )
        return out

    def current_statuses(self, now: float) -> list[StatusChanged]:
        """The present status of the station (evse 0) and every EVSE, to re-send after a
        reconnect; unlike :meth:`boot` it changes nothing."""
        out = [StatusChanged(0, self.status(0), now)]
        out += [
            StatusChanged(e.number, e.status, now, fault=e.faulted, error_code=e.error_code)
            for e in self._evses.values()
        ]
        return out

    def plug_in(
        self,
        number: int,
        now: float,
        *,
        ev_max_power_w: float | None = None,
        ev: Ev | None = None,
    ) -> list[Intent]:
        """A cable is plugged in, optionally with a described EV. Raises
        :class:`StationError` if one already is."""
        evse = self.evse(number)
        if evse.plugged:
            raise StationError(f"EVSE {number}: cable already plugged in")
        evse.meter.advance(now, self._target_power(evse, now))
        evse.plugged = True
        evse.ev_wants_energy = True
        evse.ev = ev or Ev(max_power_w=ev_max_power_w)
        evse.ev_max_power_w = evse.ev.max_power_w
        evse.energy_at_plug_wh = evse.meter.energy_wh
        return self._refresh(evse, now)

    def unplug(self, number: int, now: float) -> list[Intent]:
        """The cable is removed; a running transaction ends first with ``EVDisconnected``
        (1.6 StopTransactionOnEVSideDisconnect = true; 2.0.1 Part 2, E10)."""
        evse = self.evse(number)
        if not evse.plugged:
            raise StationError(f"EVSE {number}: no cable plugged in")
        out: list[Intent] = []
        if evse.transaction is not None:
            out += self._end_transaction(evse, StopReason.EV_DISCONNECTED, now, plugged=False)
        evse.plugged = False
        evse.finishing = False
        evse.authorized_token = None
        out += self._refresh(evse, now)
        return out

    def authorize(self, number: int, id_token: str, accepted: bool, now: float) -> list[Intent]:
        """Record the central system's verdict on ``id_token`` presented at EVSE ``number``."""
        evse = self.evse(number)
        evse.authorized_token = id_token if accepted else None
        return self._refresh(evse, now)

    def start_transaction(
        self,
        number: int,
        id_token: str,
        now: float,
        *,
        remote_start_id: int | None = None,
        id_token_type: str = "ISO14443",
    ) -> list[Intent]:
        """Start a transaction; the EVSE must be plugged, operative, healthy and idle."""
        evse = self.evse(number)
        if evse.transaction is not None:
            raise StationError(f"EVSE {number}: transaction {evse.transaction.id} running")
        if not evse.plugged:
            raise StationError(f"EVSE {number}: no cable plugged in")
        if evse.faulted or not evse.operative:
            raise StationError(f"EVSE {number}: {evse.status} cannot start a transaction")
        reservation = evse.reservation
        if reservation is not None and not self._reserved_for(reservation, id_token):
            raise StationError(f"EVSE {number}: reserved ({reservation.id}) for another token")
        evse.reservation = None
        evse.meter.advance(now, 0.0)
        tx = Transaction(
            id=self._id_factory(),
            id_token=id_token,
            meter_start_wh=evse.meter.energy_wh,
            started_at=now,
            remote_start_id=remote_start_id,
            id_token_type=id_token_type,
            reservation_id=reservation.id if reservation else None,
        )
        evse.transaction = tx
        evse.finishing = False
        evse.authorized_token = None
        started = TransactionStarted(
            evse=number,
            transaction_id=tx.id,
            id_token=id_token,
            meter_start_wh=tx.meter_start_wh,
            timestamp=now,
            remote_start_id=remote_start_id,
            id_token_type=id_token_type,
            reservation_id=tx.reservation_id,
        )
        return [started, *self._refresh(evse, now)]

    def stop_transaction(self, number: int, reason: StopReason, now: float) -> list[Intent]:
        """End the running transaction; the cable stays in (status Finishing)."""
        evse = self.evse(number)
        if evse.transaction is None:
            raise StationError(f"EVSE {number}: no transaction running")
        out = self._end_transaction(evse, reason, now, plugged=evse.plugged)
        return out + self._refresh(evse, now)

    def set_ev_demand(self, number: int, wants_energy: bool, now: float) -> list[Intent]:
        """The EV starts or stops drawing energy (SuspendedEV when it stops)."""
        evse = self.evse(number)
        evse.ev_wants_energy = wants_energy
        return self._refresh(evse, now)

    def set_power_limit(self, number: int, limit_w: float | None, now: float) -> list[Intent]:
        """Cap the offered power (None removes the cap; 0 suspends: SuspendedEVSE)."""
        if limit_w is not None and limit_w < 0:
            raise ValueError("limit_w must be >= 0")
        evse = self.evse(number)
        evse.power_limit_w = limit_w
        return self._refresh(evse, now)

    def set_availability(
        self, number: int, operative: bool, now: float
    ) -> tuple[str, list[Intent]]:
        """Change availability of EVSE ``number`` or, with 0, of the whole station.

        Returns ``("Accepted" | "Scheduled", intents)``: Scheduled when a transaction delays the
        change until it ends (OCPP 1.6 §5.2; 2.0.1 Part 2, G03/G04).
        """
        targets = list(self._evses.values()) if number == 0 else [self.evse(number)]
        out: list[Intent] = []
        if number == 0 and self._operative != operative:
            self._operative = operative
            out.append(StatusChanged(0, self.status(0), now))
        scheduled = False
        for evse in targets:
            evse.operative = operative
            scheduled = scheduled or (evse.transaction is not None and not operative)
            out += self._refresh(evse, now)
        return ("Scheduled" if scheduled else "Accepted"), out

    def set_fault(
        self, number: int, faulted: bool, now: float, error_code: str = "OtherError"
    ) -> list[Intent]:
        """Inject or clear a fault (``error_code``: a 1.6 ChargePointErrorCode or a vendor
        code); a running transaction ends with reason ``Other``."""
        evse = self.evse(number)
        out: list[Intent] = []
        if faulted and evse.transaction is not None:
            out += self._end_transaction(evse, StopReason.OTHER, now, plugged=evse.plugged)
        evse.faulted = faulted
        evse.error_code = error_code if faulted else None
        return out + self._refresh(evse, now)

    def reserve(
        self,
        number: int,
        reservation: Reservation,
        now: float,
    ) -> tuple[str, list[Intent]]:
        """ReserveNow (1.6 §5.13; 2.0.1 H01). ``number`` 0 reserves any free EVSE. Returns
        the answer (Accepted, Occupied, Faulted, Unavailable, Rejected) and the intents. A
        reservation with the id of an existing one replaces it."""
        out: list[Intent] = []
        for other in self._evses.values():
            if other.reservation is not None and other.reservation.id == reservation.id:
                other.reservation = None
                out += self._refresh(other, now)
        if number == 0:
            free = [e for e in self._evses.values() if self._idle(e)]
            if not free:
                return "Occupied", out
            evse = free[0]
        else:
            evse = self.evse(number)
        if evse.faulted:
            return "Faulted", out
        if not evse.operative:
            return "Unavailable", out
        if not self._idle(evse):
            return "Occupied", out
        evse.reservation = reservation
        return "Accepted", out + self._refresh(evse, now)

    def cancel_reservation(self, reservation_id: int, now: float) -> tuple[bool, list[Intent]]:
        """CancelReservation (1.6 §5.1; 2.0.1 H02): False when no such reservation exists."""
        for evse in self._evses.values():
            if evse.reservation is not None and evse.reservation.id == reservation_id:
                evse.reservation = None
                return True, self._refresh(evse, now)
        return False, []

    def reservation(self, number: int) -> Reservation | None:
        return self.evse(number).reservation

    def unlock(self, number: int, now: float) -> list[Intent]:
        """UnlockConnector (1.6 §5.18): a running transaction ends (UnlockCommand); the
        cable is then free to be removed."""
        evse = self.evse(number)
        if evse.transaction is None:
            return []
        return self.stop_transaction(number, StopReason.UNLOCK_COMMAND, now)

    def set_charging_profile(self, profile: ChargingProfile, now: float) -> list[Intent]:
        """Install a charging profile; it limits the power from ``now`` on."""
        if profile.evse != 0:
            self.evse(profile.evse)
        self._advance_all(now)
        self.profiles.install(profile)
        return self.update(now)

    def clear_charging_profiles(self, now: float, **criteria: int | str | None) -> int:
        """ClearChargingProfile (1.6 §5.5; 2.0.1 K10); see :meth:`ProfileSet.clear`."""
        self._advance_all(now)
        return self.profiles.clear(**criteria)  # type: ignore[arg-type]

    def update(self, now: float) -> list[Intent]:
        """Apply what time alone changes: expired reservations, schedule steps of the charging
        profiles, a full battery (SuspendedEV). Call it periodically and before sampling."""
        out: list[Intent] = []
        for evse in self._evses.values():
            res = evse.reservation
            if res is not None and now >= res.expires_at:
                evse.reservation = None
                out.append(ReservationEnded(evse.number, res.id, "Expired", now))
            soc = self.soc_pct(evse.number)
            if evse.transaction is not None and soc is not None and soc >= 100.0:
                evse.ev_wants_energy = False
            out += self._refresh(evse, now)
        return out

    def tick(self, now: float) -> list[Intent]:
        """:meth:`update`, then one :class:`MeterSample` per running transaction."""
        out = self.update(now)
        samples = (self.sample(n, now) for n in self._evses)
        return out + [sample for sample in samples if sample is not None]

    def sample(
        self, number: int, now: float, context: str = "Sample.Periodic"
    ) -> MeterSample | None:
        """Advance one EVSE's meter to ``now``; its sample if a transaction runs, else None.

        ``context`` is the 1.6/2.0.1 ReadingContext, e.g. ``Trigger`` for TriggerMessage.
        """
        evse = self.evse(number)
        reading = evse.meter.advance(now, self._target_power(evse, now))
        if evse.transaction is None:
            return None
        return MeterSample(
            evse=number,
            transaction_id=evse.transaction.id,
            timestamp=now,
            energy_wh=reading.energy_wh,
            power_w=reading.power_w,
            current_a=reading.current_a,
            voltage_v=reading.voltage_v,
            context=context,
            soc_pct=None if (soc := self.soc_pct(number)) is None else round(soc, 1),
            offered_w=self.limit_w(number, now),
        )

    # -- internals -------------------------------------------------------------------------

    def _end_transaction(
        self, evse: Evse, reason: StopReason, now: float, *, plugged: bool
    ) -> list[Intent]:
        tx = evse.transaction
        assert tx is not None
        last = evse.meter.advance(now, 0.0)
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
        )

    def _derive(self, evse: Evse, now: float) -> Status:
        if evse.faulted:
            return Status.FAULTED
        if evse.transaction is not None:
            if self.limit_w(evse.number, now) == 0:
                return Status.SUSPENDED_EVSE
            if not evse.ev_wants_energy:
                return Status.SUSPENDED_EV
            return Status.CHARGING
        if not evse.operative:
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
        evse.status = new
        out: list[Intent] = [
            StatusChanged(evse.number, new, now, fault=evse.faulted, error_code=evse.error_code)
        ]
        if evse.transaction is not None and new in _CHARGING_STATES:
            out.append(ChargingStateChanged(evse.number, evse.transaction.id, new, now))
        return out
