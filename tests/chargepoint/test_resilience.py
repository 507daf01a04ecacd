"""Transaction messages survive a central-system crash and a harness restart: delivered
exactly once and in order (OCPP 1.6 §4.7/§4.8/§4.10; 2.0.1 Part 2, E04 and seqNo)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ocpplab_sim.chargepoint import FileOfflineQueue
from ocpplab_sim.fleet import FrameRecord, SimulatedChargePoint
from ocpplab_sim.station import MeterSample, decode_intent, encode_intent
from tests.chargepoint.conftest import validate_exchange
from tests.chargepoint.csms import Frame, TestCsms

MakeCp = Callable[..., SimulatedChargePoint]
TX_ACTIONS = {"StartTransaction", "MeterValues", "StopTransaction", "TransactionEvent"}


def tx_messages(frames: list[Frame], identity: str) -> list[tuple[str, dict[str, Any]]]:
    return [
        (f.message[2], f.message[3])
        for f in frames
        if f.identity == identity
        and f.direction == "in"
        and f.message[0] == 2
        and f.message[2] in TX_ACTIONS
    ]


def assert_exactly_once_in_order(version: str, messages: list[tuple[str, dict[str, Any]]]) -> None:
    bodies = [json.dumps(m, sort_keys=True) for m in messages]
    assert len(set(bodies)) == len(bodies), "a transaction message arrived twice"
    if version == "2.0.1":
        events = [p for _, p in messages]
        assert [e["seqNo"] for e in events] == list(range(len(events)))
        assert events[0]["eventType"] == "Started" and events[-1]["eventType"] == "Ended"
        assert len({e["transactionInfo"]["transactionId"] for e in events}) == 1
        stamps = [e["timestamp"] for e in events]
    else:
        actions = [a for a, _ in messages]
        assert actions[0] == "StartTransaction" and actions[-1] == "StopTransaction"
        assert set(actions[1:-1]) <= {"MeterValues"}
        ids = {p["transactionId"] for a, p in messages if a != "StartTransaction"}
        assert ids == {1001}
        stamps = [p.get("timestamp") or p["meterValue"][0]["timestamp"] for _, p in messages]
    assert stamps == sorted(stamps)


@pytest.mark.parametrize("version", ["1.6", "2.0.1"])
async def test_central_system_killed_during_a_transaction_and_restarted(
    make_cp: MakeCp, csms: TestCsms, version: str
) -> None:
    identity = f"CP-KILL-{version}"
    cp = make_cp(identity, version, meter_interval_s=0.3)
    await cp.start()
    await cp.start_charging(1, "TAG")
    await csms.wait_for(
        lambda: any(
            a == "MeterValues" or p.get("triggerReason") == "MeterValuePeriodic"
            for a, p in tx_messages(csms.frames, identity)
        )
    )
    await csms.__aexit__(None, None, None)  # the central system dies
    await csms.wait_for(lambda: not cp.connected)
    before = len(tx_messages(csms.frames, identity))
    await csms.wait_for(lambda: cp.queued >= 2, within_s=3)  # samples pile up offline
    await cp.stop_charging(1)
    async with TestCsms(csms.port, frames=csms.frames, tx_ids=csms.tx_ids) as again:
        await again.wait_for(
            lambda: any(
                a == "StopTransaction" or p.get("eventType") == "Ended"
                for a, p in tx_messages(again.frames, identity)
            )
        )
        await again.wait_for(lambda: cp.queued == 0)
        messages = tx_messages(again.frames, identity)
        assert len(messages) >= before + 3
        assert_exactly_once_in_order(version, messages)
        await cp.stop()
    validate_exchange(version, [f.message for f in csms.frames if f.identity == identity])


@pytest.mark.parametrize("version", ["1.6", "2.0.1"])
async def test_harness_restarted_while_offline_delivers_the_durable_queue(
    make_cp: MakeCp, csms: TestCsms, tmp_path: Path, frames: list[FrameRecord], version: str
) -> None:
    identity = f"CP-DURABLE-{version}"
    first = make_cp(identity, version, meter_interval_s=60, state_dir=str(tmp_path))
    await first.start()
    await first.start_charging(1, "TAG")
    csms.behaviour.refuse_connections = True
    await csms.drop(identity)
    await csms.wait_for(lambda: not first.connected)
    await first.stop_charging(1)
    assert first.queued >= 1
    await first.stop()  # the harness process ends with messages still queued
    journal = tmp_path / f"{identity}.queue.jsonl"
    assert journal.read_text().startswith("+")

    csms.behaviour.refuse_connections = False
    second = make_cp(identity, version, meter_interval_s=60, state_dir=str(tmp_path))
    assert second.queued == first.queued
    await second.start()
    assert second.queued == 0
    assert journal.read_text() == ""
    assert_exactly_once_in_order(version, tx_messages(csms.frames, identity))
    await second.stop()
    validate_exchange(version, [f.message for f in csms.frames if f.identity == identity])


def test_file_queue_replays_its_journal_and_ignores_a_torn_line(tmp_path: Path) -> None:
    path = tmp_path / "q.jsonl"
    queue = FileOfflineQueue(path, encode_intent, decode_intent)
    samples = [MeterSample(1, "tx", float(t), 10.0 * t, 7000.0, 10.0, 230.0) for t in range(3)]
    for sample in samples:
        queue.append(sample)
    assert queue.pop() == samples[0]
    with path.open("a") as journal:
        journal.write('+{"type": "MeterSa')  # a write cut short by a crash
    again = FileOfflineQueue(path, encode_intent, decode_intent)
    assert list(again) == samples[1:]
    again.pop()
    again.pop()
    assert path.read_text() == ""
