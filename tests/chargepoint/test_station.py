"""The sans-I/O station model, driven without an event loop."""

from __future__ import annotations

import itertools

import pytest

from ocpplab_sim.station import (
    ChargingStateChanged,
    MeterSample,
    Station,
    StationError,
    Status,
    StatusChanged,
    StopReason,
    TransactionStarted,
    TransactionStopped,
)

T0 = 1_700_000_000.0


def ids() -> object:
    counter = itertools.count(1)
    return lambda: f"tx-{next(counter)}"


def statuses(intents: list[object], evse: int = 1) -> list[Status]:
    return [i.status for i in intents if isinstance(i, StatusChanged) and i.evse == evse]


def test_boot_reports_station_and_every_evse_available() -> None:
    station = Station(3)
    out = station.boot(T0)
    assert [(i.evse, i.status) for i in out if isinstance(i, StatusChanged)] == [
        (0, Status.AVAILABLE),
        (1, Status.AVAILABLE),
        (2, Status.AVAILABLE),
        (3, Status.AVAILABLE),
    ]


def test_full_session_walks_the_status_machine() -> None:
    station = Station(2, id_factory=ids())
    station.boot(T0)
    assert statuses(station.plug_in(1, T0 + 1)) == [Status.PREPARING]
    assert statuses(station.authorize(1, "TAG", True, T0 + 2)) == []
    started = station.start_transaction(1, "TAG", T0 + 3)
    assert isinstance(started[0], TransactionStarted)
    assert started[0].transaction_id == "tx-1"
    assert statuses(started) == [Status.CHARGING]
    assert [type(i) for i in started] == [TransactionStarted, StatusChanged, ChargingStateChanged]
    assert statuses(station.set_ev_demand(1, False, T0 + 60)) == [Status.SUSPENDED_EV]
    assert statuses(station.set_ev_demand(1, True, T0 + 70)) == [Status.CHARGING]
    assert statuses(station.set_power_limit(1, 0, T0 + 80)) == [Status.SUSPENDED_EVSE]
    assert statuses(station.set_power_limit(1, None, T0 + 90)) == [Status.CHARGING]
    stopped = station.stop_transaction(1, StopReason.LOCAL, T0 + 3600)
    assert isinstance(stopped[0], TransactionStopped)
    assert stopped[0].plugged is True
    assert statuses(stopped) == [Status.FINISHING]
    assert statuses(station.unplug(1, T0 + 3700)) == [Status.AVAILABLE]
    assert station.status(2) is Status.AVAILABLE  # the other EVSE never moved


def test_token_first_is_preparing_and_unplug_ends_transaction() -> None:
    station = Station(1)
    station.boot(T0)
    assert statuses(station.authorize(1, "TAG", True, T0)) == [Status.PREPARING]
    station.plug_in(1, T0 + 1)
    station.start_transaction(1, "TAG", T0 + 2)
    out = station.unplug(1, T0 + 100)
    stop = next(i for i in out if isinstance(i, TransactionStopped))
    assert stop.reason is StopReason.EV_DISCONNECTED
    assert stop.plugged is False
    assert station.status(1) is Status.AVAILABLE


def test_rejected_token_leaves_evse_available() -> None:
    station = Station(1)
    station.boot(T0)
    assert statuses(station.authorize(1, "BAD", False, T0)) == []
    assert station.status(1) is Status.AVAILABLE


@pytest.mark.parametrize(
    "setup",
    [
        lambda s: None,  # no cable
        lambda s: (s.plug_in(1, T0), s.set_fault(1, True, T0)),
        lambda s: (s.plug_in(1, T0), s.set_availability(1, False, T0)),
        lambda s: (s.plug_in(1, T0), s.start_transaction(1, "A", T0)),
    ],
    ids=["unplugged", "faulted", "inoperative", "busy"],
)
def test_start_is_refused_when_impossible(setup: object) -> None:
    station = Station(1)
    station.boot(T0)
    setup(station)  # type: ignore[operator]
    with pytest.raises(StationError):
        station.start_transaction(1, "TAG", T0 + 1)


def test_unknown_evse_is_an_error() -> None:
    with pytest.raises(StationError, match="no EVSE 3"):
        Station(2).plug_in(3, T0)


def test_availability_is_scheduled_during_a_transaction() -> None:
    station = Station(1)
    station.boot(T0)
    station.plug_in(1, T0)
    station.start_transaction(1, "TAG", T0)
    result, out = station.set_availability(1, False, T0 + 1)
    assert result == "Scheduled"
    assert statuses(out) == []
    out = station.stop_transaction(1, StopReason.LOCAL, T0 + 2)
    assert statuses(out) == [Status.UNAVAILABLE]
    result, out = station.set_availability(0, True, T0 + 3)
    assert result == "Accepted"
    assert statuses(out) == [Status.FINISHING]


def test_fault_ends_transaction_and_clears() -> None:
    station = Station(1)
    station.boot(T0)
    station.plug_in(1, T0)
    station.start_transaction(1, "TAG", T0)
    out = station.set_fault(1, True, T0 + 10)
    assert [type(i) for i in out] == [TransactionStopped, StatusChanged]
    assert statuses(out) == [Status.FAULTED]
    assert statuses(station.set_fault(1, False, T0 + 20)) == [Status.FINISHING]


def test_energy_never_decreases_and_power_stays_under_max() -> None:
    station = Station(1, max_power_w=11000.0, seed=7)
    station.boot(T0)
    station.plug_in(1, T0)
    start = station.start_transaction(1, "TAG", T0)[0]
    assert isinstance(start, TransactionStarted)
    last = start.meter_start_wh
    times = [T0 + 10 * k for k in range(1, 100)] + [T0 + 500, T0 + 2000]  # includes going back
    for t in times:
        for sample in station.tick(t):
            assert isinstance(sample, MeterSample)
            assert sample.energy_wh >= last
            assert 0 < sample.power_w <= 11000.0
            assert sample.current_a == pytest.approx(sample.power_w / (3 * sample.voltage_v))
            last = sample.energy_wh
    # ~11 kW for 2000 s (the step back to T0+500 adds nothing), less up to 3 % noise
    assert 11000 * 2000 / 3600 * 0.97 <= last <= 11000 * 2000 / 3600
    stop = station.stop_transaction(1, StopReason.LOCAL, T0 + 2000)[0]
    assert isinstance(stop, TransactionStopped)
    assert stop.meter_stop_wh >= last
    assert station.energy_wh(1, T0 + 9000) == stop.meter_stop_wh  # no power after the stop


def test_ev_power_limit_and_suspension_draw_nothing() -> None:
    station = Station(1, max_power_w=22000.0)
    station.boot(T0)
    station.plug_in(1, T0, ev_max_power_w=7400.0)
    station.start_transaction(1, "TAG", T0)
    sample = station.tick(T0 + 10)[0]
    assert isinstance(sample, MeterSample)
    assert sample.power_w <= 7400.0
    station.set_ev_demand(1, False, T0 + 20)
    before = station.energy_wh(1)
    sample = station.tick(T0 + 1000)[0]
    assert isinstance(sample, MeterSample)
    assert sample.power_w == 0
    assert sample.energy_wh == before


def run_session(seed: int) -> list[float]:
    station = Station(2, seed=seed, id_factory=ids())
    station.boot(T0)
    station.plug_in(2, T0)
    station.start_transaction(2, "TAG", T0)
    out = []
    for k in range(1, 20):
        for sample in station.tick(T0 + 10 * k):
            assert isinstance(sample, MeterSample)
            out += [sample.energy_wh, sample.power_w, sample.voltage_v]
    return out


def test_seeded_runs_are_reproducible() -> None:
    assert run_session(42) == run_session(42)
    assert run_session(42) != run_session(43)


def test_evse_reset_ends_its_transaction_and_leaves_the_others_alone() -> None:
    station = Station(2, id_factory=ids())
    station.boot(T0)
    for n in (1, 2):
        station.plug_in(n, T0)
        station.start_transaction(n, f"TAG{n}", T0)
    out = station.reset_evse(1, StopReason.IMMEDIATE_RESET, T0 + 60)
    stopped = [i for i in out if isinstance(i, TransactionStopped)]
    assert [(s.evse, s.reason, s.plugged) for s in stopped] == [
        (1, StopReason.IMMEDIATE_RESET, True)
    ]
    assert statuses(out) == [Status.UNAVAILABLE]
    assert not station.can_start(1, "TAG1") and station.free_evse() is None
    with pytest.raises(StationError, match="cannot start"):
        station.start_transaction(1, "TAG1", T0 + 61)
    assert station.energy_wh(1, T0 + 120) == station.energy_wh(1, T0 + 60)  # no power
    assert statuses(station.complete_evse_reset(1, T0 + 62)) == [Status.FINISHING]
    assert station.transaction(2) is not None and station.status(2) == Status.CHARGING
    station.unplug(1, T0 + 63)
    assert station.can_start(1) and station.free_evse() == 1  # back in service; EVSE 2 busy
    idle = Station(1)
    idle.boot(T0)
    assert statuses(idle.reset_evse(1, StopReason.IMMEDIATE_RESET, T0)) == [Status.UNAVAILABLE]
    assert statuses(idle.complete_evse_reset(1, T0)) == [Status.AVAILABLE]
