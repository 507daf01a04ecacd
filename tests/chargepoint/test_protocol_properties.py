"""Property-based tests of the sans-I/O charge point: random interleavings of driver actions,
central-system CALLs, answers and refusals, call timeouts, lost links and reconnects, for both
OCPP versions; invariants over every frame the charge point put on the wire."""

from __future__ import annotations

import contextlib
from collections import defaultdict
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ocpplab_sim.chargepoint import events as ev
from ocpplab_sim.errors import ChargePointError
from ocpplab_sim.station import TransactionStarted, TransactionStopped
from tests.chargepoint.wire import Bench, Sent, epoch

# OCPP 1.6 §4.9: the permitted transitions of a connector's status.
LEGAL_16 = {
    "Available": {"Preparing", "Charging", "SuspendedEV", "SuspendedEVSE", "Reserved",
                  "Unavailable", "Faulted"},
    "Preparing": {"Available", "Charging", "SuspendedEV", "SuspendedEVSE", "Finishing", "Faulted"},
    "Charging": {"Available", "SuspendedEV", "SuspendedEVSE", "Finishing", "Unavailable",
                 "Faulted"},
    "SuspendedEV": {"Available", "Charging", "SuspendedEVSE", "Finishing", "Unavailable",
                    "Faulted"},
    "SuspendedEVSE": {"Available", "Charging", "SuspendedEV", "Finishing", "Unavailable",
                      "Faulted"},
    "Finishing": {"Available", "Preparing", "Unavailable", "Faulted"},
    "Reserved": {"Available", "Preparing", "Unavailable", "Faulted"},
    "Unavailable": {"Available", "Preparing", "Charging", "SuspendedEV", "SuspendedEVSE",
                    "Faulted"},
    "Faulted": {"Available", "Preparing", "Charging", "SuspendedEV", "SuspendedEVSE", "Finishing",
                "Reserved", "Unavailable"},
}  # fmt: skip
# OCPP 2.0.1 G01/G03/G04: ConnectorStatusEnumType; Occupied cannot become Reserved.
_ALL_201 = {"Available", "Occupied", "Reserved", "Unavailable", "Faulted"}
LEGAL_201 = {status: _ALL_201 - {status} for status in _ALL_201}
LEGAL_201["Occupied"] = LEGAL_201["Occupied"] - {"Reserved"}

evse = st.integers(min_value=1, max_value=2)
STEP = st.one_of(
    st.tuples(st.just("plug"), evse),
    st.tuples(st.just("unplug"), evse),
    st.tuples(st.just("start"), evse),
    st.tuples(st.just("stop"), evse),
    st.tuples(st.just("fault"), evse),
    st.tuples(st.just("clear"), evse),
    st.tuples(st.just("demand"), evse, st.booleans()),
    st.tuples(st.just("remote_start"), evse),
    st.tuples(st.just("remote_stop"), evse),
    st.tuples(st.just("availability"), evse, st.booleans()),
    st.tuples(st.sampled_from(["reset", "trigger", "reboot", "data_transfer", "raw"])),
    st.tuples(st.sampled_from(["answer"] * 6 + ["refuse", "timeout", "drop", "connect"])),
    st.tuples(st.just("wait"), st.floats(min_value=0.01, max_value=40.0)),
)


def run(bench: Bench, steps: list[tuple[Any, ...]]) -> None:
    bench.connect()
    for step in steps:
        bench.tick()  # every step at its own time: timestamps tell them apart
        with contextlib.suppress(ChargePointError):  # the station refused it: nothing happened
            apply(bench, step)
        bench.restart_if_asked()
    bench.settle()


def apply(bench: Bench, step: tuple[Any, ...]) -> None:
    cp, now, name = bench.cp, bench.now, step[0]
    actions: dict[str, Any] = {
        "plug": lambda: ev.PlugIn(step[1]),
        "unplug": lambda: ev.Unplug(step[1]),
        "start": lambda: ev.StartCharging(step[1], "TAG-1"),
        "stop": lambda: ev.StopCharging(step[1]),
        "fault": lambda: ev.SetFault(step[1], True),
        "clear": lambda: ev.SetFault(step[1], False),
        "demand": lambda: ev.SetEvDemand(step[1], step[2]),
        "reboot": lambda: ev.Reboot(),
        "data_transfer": lambda: ev.DataTransfer("ocpplab"),
    }
    if name in actions:
        cp.act(actions[name](), now)
        bench.collect()
    elif name == "raw":  # the load path (no event): the same as act(SendRaw(...))
        cp.send_raw("Heartbeat", {}, now)
        bench.collect()
    elif name == "answer":
        bench.answer()
    elif name == "refuse":
        bench.refuse()
    elif name == "timeout":
        bench.time_out()
    elif name == "drop" and bench.connected:
        bench.drop()
    elif name == "connect" and not bench.connected:
        bench.connect()
    elif name == "wait":
        bench.tick(step[1])
    elif bench.connected and name in CSMS_CALLS:
        call = CSMS_CALLS[name](bench, *step[1:])
        if call is not None:
            bench.csms_call(*call)


def _remote_start(bench: Bench, number: int) -> tuple[str, dict[str, Any]]:
    if bench.version == "1.6":
        return "RemoteStartTransaction", {"connectorId": number, "idTag": "TAG-R"}
    token = {"idToken": "TAG-R", "type": "ISO14443"}
    return "RequestStartTransaction", {"idToken": token, "remoteStartId": 7, "evseId": number}


def _remote_stop(bench: Bench, number: int) -> tuple[str, dict[str, Any]] | None:
    tx = bench.cp.station.transaction(number)
    if tx is None:
        return None
    if bench.version == "2.0.1":
        return "RequestStopTransaction", {"transactionId": tx.id}
    ocpp_id = bench.cp.adapter.ocpp_transaction_id(tx.id)  # type: ignore[attr-defined]
    return None if ocpp_id is None else ("RemoteStopTransaction", {"transactionId": ocpp_id})


def _availability(bench: Bench, number: int, operative: bool) -> tuple[str, dict[str, Any]]:
    if bench.version == "1.6":
        kind = "Operative" if operative else "Inoperative"
        return "ChangeAvailability", {"connectorId": number, "type": kind}
    status = "Operative" if operative else "Inoperative"
    return "ChangeAvailability", {"operationalStatus": status, "evse": {"id": number}}


def _reset(bench: Bench) -> tuple[str, dict[str, Any]]:
    return "Reset", {"type": "Soft" if bench.version == "1.6" else "Immediate"}


def _trigger(bench: Bench) -> tuple[str, dict[str, Any]]:
    return "TriggerMessage", {"requestedMessage": "StatusNotification"}


CSMS_CALLS: dict[str, Any] = {
    "remote_start": _remote_start,
    "remote_stop": _remote_stop,
    "availability": _availability,
    "reset": _reset,
    "trigger": _trigger,
}


# -- the invariants ------------------------------------------------------------------------


def connector_of(bench: Bench, record: Sent, tx_connector: dict[Any, int]) -> int | None:
    payload = record.payload
    if record.action == "StatusNotification":
        return int(payload.get("connectorId") if bench.version == "1.6" else payload["evseId"])
    if record.action == "TransactionEvent":
        return int(payload["evse"]["id"])
    if record.action in ("StartTransaction", "MeterValues"):
        return int(payload["connectorId"])
    if record.action == "StopTransaction":
        return tx_connector.get(payload["transactionId"])
    return None


def timestamp_of(record: Sent) -> float | None:
    payload = record.payload
    if "timestamp" in payload:
        return epoch(payload["timestamp"])
    if record.action == "MeterValues":
        return epoch(payload["meterValue"][0]["timestamp"])
    return None


def check_wire(bench: Bench) -> None:
    sent = bench.sent
    # exactly one CALL in flight: the bench asserts it as each CALL arrives (see wire.py)
    assert bench.cp.queued == 0 and bench.cp.registered

    # per connector, statuses are legal and the timestamps never go backwards
    tx_connector: dict[Any, int] = {}
    for record, answered_id in bench.start_answers:
        tx_connector[answered_id] = int(record.payload["connectorId"])
    last_time: dict[int, float] = {}
    last_status: dict[int, str] = {}
    connection = 0
    legal = LEGAL_16 if bench.version == "1.6" else LEGAL_201
    for record in sent:
        if record.connection != connection:
            connection = record.connection
            last_status.clear()  # the first status after a (re)connect may be anything
        number = connector_of(bench, record, tx_connector)
        at = timestamp_of(record)
        if number is None or number == 0 or at is None:
            continue
        assert at >= last_time.get(number, 0.0) - 1e-6, f"time went backwards: {record}"
        last_time[number] = at
        if record.action == "StatusNotification":
            status = record.payload.get("status", record.payload.get("connectorStatus"))
            before = last_status.get(number)
            ok = before in (None, status) or status in legal[before]  # a repeat is no change
            assert ok, f"{before} → {status}: {record}"
            last_status[number] = status

    check_transactions(bench)


def first_sends(bench: Bench, actions: tuple[str, ...]) -> list[Sent]:
    """Each transaction message once (a resend carries the same payload)."""
    seen: list[Any] = []
    out = []
    for record in bench.sent:
        if record.action not in actions:
            continue
        key = (record.action, repr(sorted(record.payload.items())))
        if key in seen:
            continue
        seen.append(key)
        out.append(record)
    return out


def check_transactions(bench: Bench) -> None:
    appended = bench.queue.appended
    for intent in appended:  # offline exactly when created without a link
        assert intent.offline == bench.was_offline(intent.timestamp), intent
    if bench.version == "2.0.1":
        events = first_sends(bench, ("TransactionEvent",))
        # none dropped, in the order they happened
        assert [(e.payload["transactionInfo"]["transactionId"], e.payload["timestamp"])
                for e in events] == [
            (i.transaction_id, bench.iso(i.timestamp)) for i in appended
        ]  # fmt: skip
        seq: dict[str, list[int]] = defaultdict(list)
        for e, intent in zip(events, appended, strict=True):
            seq[e.payload["transactionInfo"]["transactionId"]].append(e.payload["seqNo"])
            assert e.payload.get("offline", False) == intent.offline, e
        for numbers in seq.values():
            assert numbers == list(range(len(numbers))), numbers
        return
    # 1.6: every start is sent; later messages use the id of the last answer to it
    starts = [i for i in appended if isinstance(i, TransactionStarted)]
    assert len(first_sends(bench, ("StartTransaction",))) == len(starts)
    superseded = bench.superseded_ids
    for record in bench.sent:
        if (
            record.action in ("StopTransaction", "MeterValues")
            and "transactionId" in record.payload
        ):
            assert record.payload["transactionId"] not in superseded, record
    stops = [i for i in appended if isinstance(i, TransactionStopped)]
    answered_starts = {r.payload["timestamp"] for r, _id in bench.start_answers}
    acknowledged = [
        i for i in stops if any(
            isinstance(s, TransactionStarted) and s.transaction_id == i.transaction_id
            and bench.iso(s.timestamp) in answered_starts for s in starts
        )
    ]  # fmt: skip
    assert len(first_sends(bench, ("StopTransaction",))) == len(acknowledged)


@pytest.mark.parametrize("version", ["1.6", "2.0.1"])
@settings(
    max_examples=400,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(steps=st.lists(STEP, max_size=60))
def test_any_interleaving_keeps_the_wire_story_true(version: str, steps: list[Any]) -> None:
    bench = Bench(version)  # type: ignore[arg-type]
    try:
        run(bench, steps)
        check_wire(bench)
    except AssertionError as exc:
        story = "\n".join(
            f"  {r.connection} {r.action} {r.payload} {r.outcome}" for r in bench.sent
        )
        raise AssertionError(f"{exc}\nsteps: {steps}\nwire:\n{story}") from None
