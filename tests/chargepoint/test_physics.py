"""Metering physics, charging profiles and local authorization of the sans-I/O model."""

from __future__ import annotations

import pytest

from ocpplab_sim.station import (
    AuthEntry,
    AuthStore,
    ChargingProfile,
    Ev,
    MeterSample,
    Reservation,
    ReservationEnded,
    SchedulePeriod,
    Station,
    Status,
)

T0 = 1_700_000_000.0


def samples(out: list[object]) -> list[MeterSample]:
    return [i for i in out if isinstance(i, MeterSample)]


def test_dc_meter_is_consistent_and_soc_ends_the_demand() -> None:
    station = Station(1, max_power_w=150_000, dc=True, seed=3)
    station.plug_in(1, T0, ev=Ev(max_power_w=120_000, battery_wh=60_000, soc_pct=50))
    station.start_transaction(1, "TAG", T0)
    energy, last_soc = 0.0, 50.0
    t = T0
    seen: list[Status] = []
    while station.status(1) is not Status.SUSPENDED_EV and t < T0 + 3600:
        t += 30
        sample = samples(station.tick(t))[0]
        assert sample.energy_wh >= energy  # never decreases
        assert sample.power_w == pytest.approx(sample.voltage_v * sample.current_a, rel=1e-9)
        assert sample.power_w <= 120_000  # the EV's own limit
        assert sample.soc_pct is not None and sample.soc_pct >= last_soc
        assert 380 <= sample.voltage_v <= 420  # DC at the battery voltage
        energy, last_soc = sample.energy_wh, sample.soc_pct
        seen.append(station.status(1))
    assert station.soc_pct(1) == pytest.approx(100.0, abs=0.5)
    assert station.status(1) is Status.SUSPENDED_EV
    assert energy == pytest.approx(30_000, rel=0.02)  # 50 % of a 60 kWh battery


def test_ac_current_follows_power_over_three_phases() -> None:
    station = Station(1, max_power_w=11_000)
    station.plug_in(1, T0)
    station.start_transaction(1, "TAG", T0)
    sample = samples(station.tick(T0 + 10))[0]
    assert sample.current_a == pytest.approx(sample.power_w / (3 * sample.voltage_v))
    assert 11_000 * 0.97 <= sample.power_w <= 11_000


def test_profile_schedule_steps_and_composite() -> None:
    station = Station(1, max_power_w=22_000)
    station.plug_in(1, T0)
    station.start_transaction(1, "TAG", T0)
    profile = ChargingProfile(
        id=1,
        evse=0,
        stack_level=0,
        purpose="TxDefaultProfile",
        kind="Absolute",
        unit="A",
        periods=(SchedulePeriod(0, 16), SchedulePeriod(600, 0), SchedulePeriod(1200, 32)),
        schedule_start=T0,
    )
    station.set_charging_profile(profile, T0)
    cap = ChargingProfile(
        id=2, evse=0, stack_level=0, purpose="ChargePointMaxProfile", kind="Absolute",
        unit="W", periods=(SchedulePeriod(0, 18_000),), schedule_start=T0,
    )  # fmt: skip
    station.set_charging_profile(cap, T0)
    assert station.limit_w(1, T0 + 1) == pytest.approx(16 * 230 * 3)
    out = station.tick(T0 + 700)
    assert station.status(1) is Status.SUSPENDED_EVSE
    assert samples(out)[0].power_w == 0
    station.tick(T0 + 1300)
    assert station.status(1) is Status.CHARGING
    assert station.limit_w(1, T0 + 1300) == 18_000  # capped by the station maximum
    assert station.composite_schedule(1, T0, 1800) == [
        (0.0, 16 * 230 * 3),
        (600.0, 0.0),
        (1200.0, 18_000.0),
    ]


def test_reservation_expires_with_an_intent() -> None:
    station = Station(2)
    station.boot(T0)
    status, out = station.reserve(0, Reservation(4, "TAG", T0 + 60), T0)
    assert status == "Accepted" and station.status(1) is Status.RESERVED
    assert not station.can_start(1, "OTHER") and station.can_start(1, "TAG")
    out = station.update(T0 + 61)
    assert ReservationEnded(1, 4, "Expired", T0 + 61) in out
    assert station.status(1) is Status.AVAILABLE


def test_local_list_versions_and_lookup_order() -> None:
    store = AuthStore()
    assert store.send_local_list(2, "Full", [("A", AuthEntry("Accepted"))]) == "Accepted"
    assert (
        store.send_local_list(2, "Differential", [("B", AuthEntry("Blocked"))]) == "VersionMismatch"
    )
    assert (
        store.send_local_list(3, "Differential", [("A", None), ("B", AuthEntry("Blocked"))])
        == "Accepted"
    )
    store.remember("A", "Accepted")
    store.remember("B", "Accepted")
    assert store.lookup("A", T0) == "Accepted"  # from the cache
    assert store.lookup("B", T0) == "Blocked"  # the list wins over the cache
    store.remember("C", "Accepted", expires_at=T0)
    assert store.lookup("C", T0 + 1) == "Expired"
    store.clear_cache()
    assert store.lookup("A", T0) is None


def test_meter_readings_depend_on_the_seed_and_the_advances_never_on_reads() -> None:
    """Idle voltage noise is drawn lazily, yet in the order an eager meter draws it: a meter
    read at every step, one never read until the end, and the eager reference agree."""
    import random

    from ocpplab_sim.station.meter import Meter

    class EagerMeter:  # draws the noise at every advance, as the model is specified
        def __init__(self, seed: int) -> None:
            self.rng, self.energy, self.power, self.voltage, self.last = (
                random.Random(seed),
                0.0,
                0.0,
                230.0,
                None,
            )

        def advance(self, now: float, target: float) -> tuple[float, float, float]:
            if self.last is not None and now > self.last:
                self.energy += self.power * (now - self.last) / 3600.0
            if self.last is None or now > self.last:
                self.last = now
            self.voltage = 230.0 * (1.0 + self.rng.uniform(-0.02, 0.02))
            self.power = target * (1.0 - self.rng.uniform(0.0, 0.03)) if target > 0 else 0.0
            return self.energy, self.power, self.voltage

    steps = [(t * 10.0, 0.0 if t % 4 in (0, 1) else 11_000.0) for t in range(40)]
    reference = EagerMeter(99)
    read_always, read_never = Meter(99, phases=3), Meter(99, phases=3)
    assert read_always.reading().voltage_v == 230.0  # nothing advanced yet: nominal
    for now, target in steps:
        expected = reference.advance(now, target)
        read_always.advance(now, target)
        read_never.advance(now, target)
        got = read_always.reading()
        assert (got.energy_wh, got.power_w, got.voltage_v) == expected
    last = read_never.reading()
    assert (last.energy_wh, last.power_w, last.voltage_v) == expected
