"""The sans-I/O charge-point model: station → EVSE → connector (one connector per EVSE).

Every event method takes the current time ``now`` (epoch seconds) and returns the intents the
owner must deliver, in order. Nothing here reads a clock, sleeps, or touches the network; the
owner (``ocpplab_sim.fleet``) turns intents into OCPP messages through a protocol adapter.
State, queries and the status / power rules are in :mod:`ocpplab_sim.station.core`.
"""

from __future__ import annotations

import dataclasses

from ocpplab_sim.station.core import StationCore, StationError
from ocpplab_sim.station.evse import Ev, Evse, Reservation, Transaction
from ocpplab_sim.station.intents import (
    Intent,
    MeterSample,
    ReservationEnded,
    StatusChanged,
    StopReason,
    TransactionStarted,
)
from ocpplab_sim.station.profiles import ChargingProfile

__all__ = [
    "DEFAULT_BATTERY_WH",
    "Ev",
    "Evse",
    "Reservation",
    "Station",
    "StationError",
    "Transaction",
]

#: the battery of an EV whose state of charge is set without its size being known
DEFAULT_BATTERY_WH = 60_000.0


class Station(StationCore):
    """A charge point with ``evse_count`` EVSEs numbered 1..n, each with connector 1.

    ``seed`` drives the meter noise; ``id_factory`` makes transaction ids (uuid4 by default).
    Every event returns the intents to deliver, in order; see :class:`StationCore` for the
    queries.
    """

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
        if evse.faulted or not evse.operative or evse.resetting:
            raise StationError(f"EVSE {number}: {evse.status} cannot start a transaction")
        reservation = evse.reservation
        if reservation is not None and not self._reserved_for(reservation, id_token):
            raise StationError(f"EVSE {number}: reserved ({reservation.id}) for another token")
        before: list[Intent] = []
        if evse.finishing:  # a new session where the last one is finishing: Preparing first
            evse.finishing = False  # (1.6 §4.9 has no Finishing → Charging)
            before = self._refresh(evse, now)
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
        return [*before, started, *self._refresh(evse, now)]

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

    def set_ev(
        self,
        number: int,
        now: float,
        *,
        max_power_w: float | None = None,
        soc_pct: float | None = None,
    ) -> list[Intent]:
        """Change the plugged EV: the most power it draws, or its state of charge from now
        on (an EV whose battery size is unknown gets :data:`DEFAULT_BATTERY_WH`). Raises
        :class:`StationError` when no cable is plugged in."""
        evse = self.evse(number)
        if not evse.plugged or evse.ev is None:
            raise StationError(f"EVSE {number}: no EV plugged in")
        if max_power_w is not None and not max_power_w >= 0:
            raise ValueError("max_power_w must be >= 0")
        if soc_pct is not None and not 0 <= soc_pct <= 100:
            raise ValueError("soc_pct must be from 0 to 100")
        evse.meter.advance(now, self._target_power(evse, now))
        car = evse.ev
        if max_power_w is not None:
            car = dataclasses.replace(car, max_power_w=max_power_w)
            evse.ev_max_power_w = max_power_w
        if soc_pct is not None:
            battery = car.battery_wh if car.battery_wh is not None else DEFAULT_BATTERY_WH
            car = dataclasses.replace(car, battery_wh=battery, soc_pct=soc_pct)
            evse.energy_at_plug_wh = evse.meter.energy_wh
            if soc_pct < 100.0 and evse.transaction is not None:
                evse.ev_wants_energy = True
        evse.ev = car
        return self._refresh(evse, now)

    def set_energy(self, number: int, energy_wh: float, now: float) -> list[Intent]:
        """Set the energy register of a running transaction's EVSE (it never decreases) and
        take a meter sample at once (context ``Other``). Raises :class:`StationError` when
        no transaction runs or the value is lower than the register."""
        evse = self.evse(number)
        if evse.transaction is None:
            raise StationError(f"EVSE {number}: no transaction running")
        evse.meter.advance(now, self._target_power(evse, now))
        try:
            evse.meter.raise_register(energy_wh)
        except ValueError as exc:
            raise StationError(f"EVSE {number}: {exc}") from None
        evse.energy_at_plug_wh = min(evse.energy_at_plug_wh, evse.meter.energy_wh)
        sample = self.sample(number, now, context="Other")
        return [] if sample is None else [sample]

    def set_power_limit(self, number: int, limit_w: float | None, now: float) -> list[Intent]:
        """Cap the offered power (None removes the cap; 0 suspends: SuspendedEVSE)."""
        if limit_w is not None and limit_w < 0:
            raise ValueError("limit_w must be >= 0")
        evse = self.evse(number)
        evse.power_limit_w = limit_w
        return self._refresh(evse, now)

    def availability_answer(self, number: int, operative: bool) -> str:
        """The answer to a ChangeAvailability of EVSE ``number`` (0: the whole station), the
        one place it is decided: ``Rejected`` for an unknown EVSE, ``Scheduled`` when a
        connector in use delays an inoperative change until it is free (OCPP 1.6 §5.2, whose
        §4.9 has no Preparing → Unavailable; 2.0.1 Part 2, G03/G04), else ``Accepted``."""
        if number != 0 and number not in self._evses:
            return "Rejected"
        targets = list(self._evses.values()) if number == 0 else [self._evses[number]]
        busy = any(evse.transaction is not None or self._in_use(evse) for evse in targets)
        return "Scheduled" if busy and not operative else "Accepted"

    def set_availability(
        self, number: int, operative: bool, now: float
    ) -> tuple[str, list[Intent]]:
        """Change availability of EVSE ``number`` or, with 0, of the whole station.

        Returns :meth:`availability_answer` and the intents; a scheduled change shows once the
        connector is free.
        """
        answer = self.availability_answer(number, operative)
        targets = list(self._evses.values()) if number == 0 else [self.evse(number)]
        out: list[Intent] = []
        if number == 0 and self._operative != operative:
            self._operative = operative
            out.append(StatusChanged(0, self.status(0), now))
        for evse in targets:
            evse.operative = operative
            out += self._refresh(evse, now)
        return answer, out

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

    def reset_evse(self, number: int, reason: StopReason, now: float) -> list[Intent]:
        """Begin the reset of EVSE ``number`` alone (2.0.1 Part 2, B11/B12 with ``evseId``): a
        running transaction ends with ``reason`` (B12: ``ImmediateReset``), the presented
        token is forgotten and the EVSE is Unavailable until :meth:`complete_evse_reset`.
        The cable, the EV, a fault, a reservation and the availability stay as they were."""
        evse = self.evse(number)
        out: list[Intent] = []
        if evse.transaction is not None:
            out += self._end_transaction(evse, reason, now, plugged=evse.plugged)
        evse.authorized_token = None
        evse.resetting = True
        return out + self._refresh(evse, now)

    def complete_evse_reset(self, number: int, now: float) -> list[Intent]:
        """EVSE ``number`` is back after :meth:`reset_evse` (no-op when it was not reset)."""
        evse = self.evse(number)
        evse.resetting = False
        return self._refresh(evse, now)

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
        evse.meter.advance(now, self._target_power(evse, now))
        if evse.transaction is None:
            return None
        reading = evse.meter.reading()
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
