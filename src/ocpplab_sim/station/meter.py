"""Meter physics of one EVSE: power, current, voltage and an energy register that never decreases.

Sans-I/O: the caller passes the time in. Randomness comes from an injected ``random.Random`` so
two meters built from the same seed produce the same readings.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

__all__ = ["Meter", "MeterReading"]


@dataclass(frozen=True, slots=True)
class MeterReading:
    """An instantaneous reading; ``energy_wh`` is the Energy.Active.Import.Register value."""

    energy_wh: float
    power_w: float
    current_a: float
    voltage_v: float


class Meter:
    """Integrates the active power over time into an energy register.

    Contract: call :meth:`advance` whenever the power target may change (state changes and
    periodic ticks). The power set by one call is the power that flowed until the next call,
    so energy is the exact integral of the reported power. Time that goes backwards is ignored,
    which keeps the register monotonic.
    """

    def __init__(
        self,
        rng: random.Random | int,
        *,
        nominal_voltage_v: float = 230.0,
        phases: int = 3,
        initial_energy_wh: float = 0.0,
        start_time: float | None = None,
    ) -> None:
        if phases not in (1, 3):
            raise ValueError("phases must be 1 or 3")
        # an int is a seed: the generator is made at the first draw (seeding one costs tens
        # of µs and 2.5 KB, and most chargers of a load run never meter)
        self._seed_or_rng = rng
        self._nominal_voltage_v = nominal_voltage_v
        self._phases = phases
        self._energy_wh = float(initial_energy_wh)
        self._power_w = 0.0
        self._voltage_v = nominal_voltage_v
        self._idle_draws = 0  # idle advances whose voltage noise is not drawn yet
        self._last_t = start_time

    @property
    def energy_wh(self) -> float:
        return self._energy_wh

    @property
    def power_w(self) -> float:
        return self._power_w

    def reading(self) -> MeterReading:
        """The reading now (as of the last :meth:`advance`)."""
        if self._idle_draws:
            self._catch_up()
        return MeterReading(
            energy_wh=self._energy_wh,
            power_w=self._power_w,
            current_a=self._power_w / (self._voltage_v * self._phases) if self._power_w else 0.0,
            voltage_v=self._voltage_v,
        )

    def advance(self, now: float, target_power_w: float) -> None:
        """Integrate the current power up to ``now`` and then draw ``target_power_w``.

        The drawn power is ``target_power_w`` lowered by up to 3 % of seeded noise (an EV never
        draws exactly the offered power and never more), and 0 when the target is 0. The
        voltage carries ±2 % of seeded noise; an idle meter draws it only when it is needed (most
        chargers of a load run are never read, and seeding a generator costs tens of µs).
        """
        if target_power_w < 0:
            raise ValueError("target_power_w must be >= 0")
        if self._last_t is not None and now > self._last_t:
            self._energy_wh += self._power_w * (now - self._last_t) / 3600.0
        if self._last_t is None or now > self._last_t:
            self._last_t = now
        if target_power_w > 0:
            rng = self._catch_up()
            self._voltage_v = self._nominal_voltage_v * (1.0 + rng.uniform(-0.02, 0.02))
            self._power_w = target_power_w * (1.0 - rng.uniform(0.0, 0.03))
        else:
            self._power_w = 0.0
            self._idle_draws += 1  # its voltage noise is drawn when needed, in this order

    def energy_at(self, now: float) -> float:
        """The register as it will read at ``now`` if the power does not change (a pure
        look: the meter and its noise stay as they are)."""
        if self._last_t is not None and now > self._last_t:
            return self._energy_wh + self._power_w * (now - self._last_t) / 3600.0
        return self._energy_wh

    def raise_register(self, energy_wh: float) -> None:
        """Set the energy register to ``energy_wh`` (a meter replaced or read by hand); it
        never decreases, so a lower value raises ValueError."""
        if not energy_wh >= self._energy_wh:
            raise ValueError(
                f"the energy register never decreases: {energy_wh:g} Wh is below "
                f"{self._energy_wh:g} Wh"
            )
        self._energy_wh = float(energy_wh)

    def _catch_up(self) -> random.Random:
        """Draw the voltage noise of the idle advances not drawn yet, in order: the generator
        then stands where drawing at every advance would have left it, so readings depend on
        the seed and the advances only, never on when (or whether) the meter was read."""
        rng = self._rng()
        while self._idle_draws:
            self._idle_draws -= 1
            self._voltage_v = self._nominal_voltage_v * (1.0 + rng.uniform(-0.02, 0.02))
        return rng

    def _rng(self) -> random.Random:
        rng = self._seed_or_rng
        if isinstance(rng, int):
            rng = self._seed_or_rng = random.Random(rng)
        return rng
