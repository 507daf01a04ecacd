"""Connection loss: CsmsUnreachable, reconnect with backoff, offline queue delivered once."""

from __future__ import annotations

import socket
from collections.abc import Callable

import pytest

from ocpplab_sim.connection import ReconnectPolicy
from ocpplab_sim.errors import CsmsUnreachable
from ocpplab_sim.fleet import ChargePointConfig, FrameRecord, SimulatedChargePoint
from tests.chargepoint.conftest import validate_exchange
from tests.chargepoint.csms import TestCsms

MakeCp = Callable[..., SimulatedChargePoint]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


async def test_nothing_listening_raises_csms_unreachable() -> None:
    config = ChargePointConfig("CP-NOBODY", "1.6", 1, f"ws://127.0.0.1:{free_port()}/ocpp")
    cp = SimulatedChargePoint(config)
    with pytest.raises(CsmsUnreachable, match="CP-NOBODY") as info:
        await cp.start()
    assert isinstance(info.value.__cause__, OSError)
    assert not cp.connected
    await cp.stop()  # idempotent after a failed start


async def test_refused_handshake_raises_csms_unreachable(csms: TestCsms, make_cp: MakeCp) -> None:
    csms.behaviour.refuse_connections = True
    with pytest.raises(CsmsUnreachable, match="503"):
        await make_cp("CP-REFUSED", "2.0.1").start()


def test_backoff_is_capped_exponential_with_jitter() -> None:
    import random

    policy = ReconnectPolicy(initial_s=1, max_s=8, factor=2, jitter=0.25, rng=random.Random(1))
    delays = [d for _, d in zip(range(7), policy.delays(), strict=False)]
    ceilings = [1, 2, 4, 8, 8, 8, 8]
    assert all(c * 0.75 <= d <= c for d, c in zip(delays, ceilings, strict=True))
    assert len(set(delays)) == len(delays)  # jittered


@pytest.mark.parametrize("version", ["1.6", "2.0.1"])
async def test_transaction_message_queued_offline_is_delivered_once(
    csms: TestCsms, make_cp: MakeCp, frames: list[FrameRecord], version: str
) -> None:
    identity = f"CP-OFFLINE-{version}"
    cp = make_cp(identity, version, meter_interval_s=60)
    await cp.start()
    await cp.start_charging(1, "TAG")
    tx_messages = "StopTransaction" if version == "1.6" else "TransactionEvent"
    sent_before = len(csms.calls(tx_messages))

    csms.behaviour.refuse_connections = True
    await csms.drop(identity)
    await csms.wait_for(lambda: not cp.connected)
    await cp.stop_charging(1)  # returns at once: the message is queued
    await cp.unplug(1)
    assert cp.status(1) == "Available"
    assert len(csms.calls(tx_messages)) == sent_before

    mark = len(csms.frames)
    csms.behaviour.refuse_connections = False
    await csms.wait_for(lambda: cp.connected, within_s=5)
    expected_statuses = 2 if version == "1.6" else 1  # 1.6 also reports connector 0

    def resynced() -> bool:
        calls = [f.message for f in csms.frames[mark:] if f.message[0] == 2]
        return sum(m[2] == "StatusNotification" for m in calls) >= expected_statuses

    await csms.wait_for(resynced)
    await cp.stop()

    assert csms.connects == [identity, identity]
    resent = [f.message for f in csms.frames[mark:] if f.message[0] == 2]
    # The backlog goes first, then the present status (not the offline history).
    assert resent[0][2] == tx_messages
    statuses = [m[3] for m in resent[1:] if m[2] == "StatusNotification"]
    if version == "1.6":
        assert [(s["connectorId"], s["status"]) for s in statuses] == [
            (0, "Available"),
            (1, "Available"),
        ]
        stops = csms.calls("StopTransaction")
        assert len(stops) == 1
        assert stops[0]["reason"] == "Local" and stops[0]["transactionId"] == 1001
    else:
        assert [(s["evseId"], s["connectorStatus"]) for s in statuses] == [(1, "Available")]
        ended = [e for e in csms.calls("TransactionEvent") if e["eventType"] == "Ended"]
        assert len(ended) == 1
        assert ended[0]["transactionInfo"]["stoppedReason"] == "Local"
        seqs = [e["seqNo"] for e in csms.calls("TransactionEvent")]
        assert seqs == list(range(len(seqs)))
    mine = [f.message for f in frames if f.identity == identity]
    sent_tx = [m for m in mine if m[0] == 2 and m[2] == tx_messages]
    assert len(sent_tx) == len(csms.calls(tx_messages))  # nothing sent twice
    validate_exchange(version, mine)


async def test_stop_is_clean_and_idempotent(csms: TestCsms, make_cp: MakeCp) -> None:
    cp = make_cp("CP-STOP", "1.6")
    await cp.start()
    ws = csms.connections["CP-STOP"]
    await cp.stop()
    await cp.stop()
    await ws.wait_closed()
    assert ws.close_code == 1000
    assert csms.connects == ["CP-STOP"]  # no reconnect after a requested close
