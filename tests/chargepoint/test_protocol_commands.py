"""The sans-I/O charge point without a socket: remote start and stop, availability, reset,
firmware update, the transaction-message retry policy and the 2.0.1 ``offline`` flag. Each
test tells a story on the bench's simulated link and checks what went out, in order."""

from __future__ import annotations

import pytest

from ocpplab_sim.chargepoint import FrameRecord
from ocpplab_sim.chargepoint import events as ev
from ocpplab_sim.errors import CsmsUnreachable
from ocpplab_sim.protocol.schemas import SchemaViolation
from tests.chargepoint.wire import Bench, epoch


def booted(version: str, **kwargs: object) -> Bench:
    bench = Bench(version, **kwargs)  # type: ignore[arg-type]
    bench.connect()
    bench.settle()
    return bench


def statuses(bench: Bench, connector: int, since: int = 0) -> list[str]:
    key = "connectorId" if bench.version == "1.6" else "evseId"
    field = "status" if bench.version == "1.6" else "connectorStatus"
    return [
        r.payload[field]
        for r in bench.sent[since:]
        if r.action == "StatusNotification" and r.payload[key] == connector
    ]


def actions(bench: Bench, since: int = 0) -> list[str]:
    return [r.action for r in bench.sent[since:]]


@pytest.mark.parametrize("version", ["1.6", "2.0.1"])
def test_remote_stop_then_unplug_leave_in_the_order_they_happened(version: str) -> None:
    """The race of a CI job that cried wolf: a remote stop, the cable pulled right after,
    before the central system answered anything. Finishing must reach the wire before
    Available, or the central system keeps the later state."""
    bench = booted(version)
    bench.act(ev.PlugIn(1))
    start = (
        ("RemoteStartTransaction", {"connectorId": 1, "idTag": "T"})
        if version == "1.6"
        else (
            "RequestStartTransaction",
            {"idToken": {"idToken": "T", "type": "ISO14443"}, "remoteStartId": 1, "evseId": 1},
        )
    )
    bench.csms_call(*start)
    bench.settle()
    tx = bench.cp.station.transaction(1)
    assert tx is not None
    mark = len(bench.sent)
    bench.tick(2.0)
    if version == "1.6":
        ocpp_id = bench.cp.adapter.ocpp_transaction_id(tx.id)  # type: ignore[attr-defined]
        bench.csms_call("RemoteStopTransaction", {"transactionId": ocpp_id})
    else:
        bench.csms_call("RequestStopTransaction", {"transactionId": tx.id})
    bench.tick()  # 2 ms later, nothing answered yet
    bench.act(ev.Unplug(1))
    bench.settle()
    if version == "1.6":
        assert statuses(bench, 1, mark) == ["Finishing", "Available"]
        assert actions(bench, mark)[:2] == ["StopTransaction", "StatusNotification"]
    else:
        assert statuses(bench, 1, mark) == ["Available"]
        ended = [r for r in bench.sent[mark:] if r.action == "TransactionEvent"]
        assert [e.payload["eventType"] for e in ended][-1] == "Ended"
    stamps = [epoch(r.payload["timestamp"]) for r in bench.sent[mark:] if "timestamp" in r.payload]
    assert stamps == sorted(stamps)


@pytest.mark.parametrize("version", ["1.6", "2.0.1"])
def test_availability_waits_for_the_user_and_is_answered_once(version: str) -> None:
    bench = booted(version)
    bench.act(ev.PlugIn(1))
    bench.settle()
    change = (
        {"connectorId": 1, "type": "Inoperative"}
        if version == "1.6"
        else {"operationalStatus": "Inoperative", "evse": {"id": 1}}
    )
    assert bench.csms_call("ChangeAvailability", change)[2] == {"status": "Scheduled"}
    bench.settle()
    mark = len(bench.sent)
    bench.tick()
    bench.act(ev.Unplug(1))
    bench.settle()
    expected = ["Available", "Unavailable"]
    assert statuses(bench, 1, mark) == expected
    refused = bench.act(ev.StartCharging(1, "T"))
    bench.settle()
    assert refused.done and "cannot start" in str(refused.error)
    free = (
        {"connectorId": 2, "type": "Inoperative"}
        if version == "1.6"
        else {"operationalStatus": "Inoperative", "evse": {"id": 2}}
    )
    assert bench.csms_call("ChangeAvailability", free)[2] == {"status": "Accepted"}


@pytest.mark.parametrize("version", ["1.6", "2.0.1"])
def test_a_reset_sends_what_it_caused_then_reboots_and_reports_it(version: str) -> None:
    bench = booted(version)
    bench.act(ev.StartCharging(1, "T"))
    bench.settle()
    mark = len(bench.sent)
    reset = {"type": "Hard"} if version == "1.6" else {"type": "Immediate"}
    assert bench.csms_call("Reset", reset)[2] == {"status": "Accepted"}
    bench.settle()
    story = actions(bench, mark)
    stop = "StopTransaction" if version == "1.6" else "TransactionEvent"
    assert story[0] == stop  # the transaction ends before the reboot
    boot = story.index("BootNotification")
    assert bench.sent[mark + boot].connection == bench.connection  # on the new connection
    assert all(r.connection < bench.connection for r in bench.sent[mark : mark + boot])
    assert story[-1] == "SecurityEventNotification"
    if version == "2.0.1":
        assert bench.sent[mark + boot].payload["reason"] == "RemoteReset"


@pytest.mark.parametrize("version", ["1.6", "2.0.1"])
def test_a_firmware_update_steps_through_its_statuses_and_reboots(version: str) -> None:
    bench = booted(version)
    request = (
        {"location": "https://fw.example/v2.bin", "retrieveDate": "2020-01-01T00:00:00Z"}
        if version == "1.6"
        else {
            "requestId": 9,
            "firmware": {
                "location": "https://fw.example/v2.bin",
                "retrieveDateTime": "2020-01-01T00:00:00Z",
            },
        }
    )
    bench.csms_call("UpdateFirmware", request)
    mark = len(bench.sent)
    for _ in range(10):
        bench.tick(1.0)
        bench.settle()
    firmware = [
        r.payload["status"] for r in bench.sent[mark:] if r.action == "FirmwareStatusNotification"
    ]
    steps = ["Downloading", "Downloaded", "Installing"]
    if version == "2.0.1":
        steps.append("InstallRebooting")
    assert firmware == [*steps, "Installed"]
    story = actions(bench, mark)
    assert story.index("BootNotification") < len(story) - story[::-1].index(
        "FirmwareStatusNotification"
    )
    events = [
        r.payload["type"] for r in bench.sent[mark:] if r.action == "SecurityEventNotification"
    ]
    assert events == ["ResetOrReboot", "FirmwareUpdated"]
    assert bench.cp.settings.firmware_version == "v2.bin"


@pytest.mark.parametrize("version", ["1.6", "2.0.1"])
def test_remote_start_with_authorization_asks_first(version: str) -> None:
    bench = booted(version)
    key = "AuthorizeRemoteTxRequests" if version == "1.6" else "AuthCtrlr.AuthorizeRemoteStart"
    assert bench.cp.set_configuration(key, "true", bench.now)
    mark = len(bench.sent)
    start = (
        ("RemoteStartTransaction", {"connectorId": 2, "idTag": "T"})
        if version == "1.6"
        else (
            "RequestStartTransaction",
            {"idToken": {"idToken": "T", "type": "ISO14443"}, "remoteStartId": 4, "evseId": 2},
        )
    )
    assert bench.csms_call(*start)[2]["status"] == "Accepted"
    bench.settle()
    story = actions(bench, mark)
    assert story[0] == "Authorize"
    assert ("StartTransaction" if version == "1.6" else "TransactionEvent") in story
    assert bench.cp.station.transaction(2) is not None


def test_a_refused_transaction_message_is_retried_per_the_policy_then_given_up() -> None:
    frames: list[FrameRecord] = []
    bench = booted("2.0.1")
    bench.cp.session.on_frame = frames.append
    assert bench.cp.set_configuration(
        "OCPPCommCtrlr.MessageAttemptIntervalTransactionEvent", "4", bench.now
    )
    op = bench.act(ev.StartCharging(1, "T"))
    bench.answer_until("TransactionEvent")
    assert bench.refuse()  # TransactionEvent Started: attempt 1 fails
    assert op.done and op.error is not None  # the action saw the failure
    assert bench.pending() is None  # nothing overtakes it meanwhile
    bench.tick(3.9)
    assert bench.pending() is None
    bench.tick(0.2)  # 4 s after attempt 1: attempt 2
    assert bench.pending() is not None and bench.refuse()
    bench.tick(7.9)
    assert bench.pending() is None
    bench.tick(0.2)  # 2 × 4 s after attempt 2: attempt 3, the last
    assert bench.refuse()
    bench.tick()
    started = [r for r in bench.sent if r.action == "TransactionEvent"]
    assert len(started) == 4  # three attempts of Started, then the next message
    assert started[0].payload == started[1].payload == started[2].payload  # same seqNo
    assert started[3].payload["seqNo"] == 1
    notes = [f.note for f in frames if f.direction == "out" and f.message[2] == "TransactionEvent"]
    assert notes[:3] == [None, "attempt 2 of 3", "attempt 3 of 3"]


def test_a_lost_answer_is_resent_after_the_reconnect_and_its_last_id_is_kept() -> None:
    """At-least-once: a StartTransaction whose answer was lost goes out again; the central
    system gives another transactionId, and what follows uses that one."""
    frames: list[FrameRecord] = []
    bench = booted("1.6")
    bench.cp.session.on_frame = frames.append
    bench.act(ev.StartCharging(1, "T"))
    bench.answer_until("StartTransaction")
    bench.drop()  # the answer never arrives
    bench.tick()
    bench.connect()
    bench.settle()
    bench.act(ev.StopCharging(1))
    bench.settle()
    starts = [r for r in bench.sent if r.action == "StartTransaction"]
    assert len(starts) == 2 and starts[0].payload == starts[1].payload
    assert [r.outcome for r in starts] == ["lost", "answered"]
    last_id = bench.start_answers[-1][1]
    stop = next(r for r in bench.sent if r.action == "StopTransaction")
    assert stop.payload["transactionId"] == last_id
    notes = [f.note for f in frames if f.direction == "out" and f.message[2] == "StartTransaction"]
    assert notes == [None, "again after reconnect"]


def test_events_created_offline_say_so_and_only_they() -> None:
    bench = booted("2.0.1")
    bench.act(ev.StartCharging(1, "T"))
    bench.settle()
    bench.tick()
    bench.drop()
    bench.tick()
    bench.act(ev.StopCharging(1))  # returns at once: queued
    bench.tick()
    bench.connect()
    bench.settle()
    events = [r.payload for r in bench.sent if r.action == "TransactionEvent"]
    assert [(e["eventType"], e.get("offline", False)) for e in events] == [
        ("Started", False),
        ("Updated", False),  # Charging
        ("Ended", True),
    ]


@pytest.mark.parametrize("version", ["1.6", "2.0.1"])
def test_send_raw_is_act_send_raw(version: str) -> None:
    """The load path (``send_raw``, no event) queues, sends, answers and fails a CALL as
    ``act(SendRaw(...))`` does."""
    bench = booted(version)
    busy = bench.act(ev.DataTransfer("ocpplab"))
    first = bench.cp.send_raw("Heartbeat", {}, bench.now)
    bench.collect()
    second = bench.act(ev.SendRaw("Heartbeat", {}))
    assert bench.sent[-1].action == "DataTransfer"  # the raw CALLs wait their turn
    assert bench.answer() and busy.done and busy.error is None
    assert bench.sent[-1].action == "Heartbeat" and not first.done and not second.done
    assert bench.answer() and first.done and first.error is None
    assert first.result == bench.response(bench.sent[-1])
    assert bench.answer() and second.done and second.error is None
    bad = bench.cp.send_raw("Heartbeat", {"unknown": 1}, bench.now)  # strict: not sent
    bench.collect()
    assert bad.done and isinstance(bad.error, SchemaViolation)
    assert bench.pending() is None
    lost = bench.cp.send_raw("Heartbeat", {}, bench.now)
    bench.collect()
    assert bench.pending() is not None
    bench.drop()
    assert lost.done and isinstance(lost.error, CsmsUnreachable)
    offline = bench.cp.send_raw("Heartbeat", {}, bench.now)
    assert offline.done and isinstance(offline.error, CsmsUnreachable)
