"""Answers armed with ``answer_next``: the next CALL of the action gets them, a refusal has no
effect, and every frame still matches the official schemas (checked both ways, independently)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

import jsonschema
import pytest
from ocpp.v16 import call as c16
from ocpp.v201 import call as c201

from ocpplab_sim.errors import ChargePointError
from ocpplab_sim.fleet import FrameRecord, SimulatedChargePoint
from ocpplab_sim.protocol.schemas import SchemaViolation
from tests.chargepoint.conftest import official_validator, validate_exchange
from tests.chargepoint.csms import TestCsms

MakeCp = Callable[..., SimulatedChargePoint]


def exchange(frames: list[FrameRecord], identity: str) -> list[list[Any]]:
    return [f.message for f in frames if f.identity == identity]


async def test_v16_a_rejected_remote_start_starts_nothing(
    csms: TestCsms, make_cp: MakeCp, frames: list[FrameRecord]
) -> None:
    cp = make_cp("CP-ARM16", "1.6", evses=2)
    await cp.start()
    server = csms.points["CP-ARM16"]
    armed = cp.answer_next("RemoteStartTransaction", status="Rejected")
    assert not armed.used
    answer = await server.call(c16.RemoteStartTransaction(id_tag="REMOTE", connector_id=1))
    assert answer.status == "Rejected"
    assert armed.answered == {"status": "Rejected"} and armed.used
    assert not armed.cancel()  # used: nothing left to disarm
    await asyncio.sleep(0.1)  # what an accepted start would have sent by now
    assert not csms.calls("StartTransaction") and cp.status(1) == "Available"
    # Armed once: the next request gets the simulator's own answer and takes effect.
    answer = await server.call(c16.RemoteStartTransaction(id_tag="REMOTE", connector_id=1))
    assert answer.status == "Accepted"
    await csms.wait_for(lambda: cp.status(1) == "Charging")
    await cp.stop()
    assert validate_exchange("1.6", exchange(frames, "CP-ARM16")) > 0


async def test_v201_a_full_payload_replaces_the_answer(
    csms: TestCsms, make_cp: MakeCp, frames: list[FrameRecord]
) -> None:
    cp = make_cp("CS-ARM201", "2.0.1")
    await cp.start()
    server = csms.points["CS-ARM201"]
    cp.answer_next(
        "RequestStartTransaction",
        {"status": "Rejected", "statusInfo": {"reasonCode": "Blocked", "additionalInfo": "test"}},
    )
    token = {"id_token": "REMOTE", "type": "Central"}
    answer = await server.call(c201.RequestStartTransaction(id_token=token, remote_start_id=5))
    assert answer.status == "Rejected"
    assert answer.status_info == {"reason_code": "Blocked", "additional_info": "test"}
    await asyncio.sleep(0.1)
    assert not csms.calls("TransactionEvent") and cp.status(1) == "Available"
    await cp.stop()
    sent = [m for m in exchange(frames, "CS-ARM201") if m[0] == 3 and "statusInfo" in m[2]]
    assert sent == [[3, sent[0][1], answer_payload()]]
    validate_exchange("2.0.1", exchange(frames, "CS-ARM201"))


def answer_payload() -> dict[str, Any]:
    return {"status": "Rejected", "statusInfo": {"reasonCode": "Blocked", "additionalInfo": "test"}}


async def test_an_accepting_override_keeps_the_effect_and_answers_in_order(
    csms: TestCsms, make_cp: MakeCp, frames: list[FrameRecord]
) -> None:
    cp = make_cp("CP-ORDER", "1.6", evses=2)
    await cp.start()
    server = csms.points["CP-ORDER"]
    first = cp.answer_next("ChangeAvailability", status="Scheduled")
    second = cp.answer_next("ChangeAvailability", status="Rejected")
    answer = await server.call(c16.ChangeAvailability(connector_id=1, type="Inoperative"))
    assert answer.status == "Scheduled" and first.used and not second.used
    await csms.wait_for(lambda: cp.status(1) == "Unavailable")  # the request took effect
    answer = await server.call(c16.ChangeAvailability(connector_id=2, type="Inoperative"))
    assert answer.status == "Rejected" and second.used
    await asyncio.sleep(0.1)
    assert cp.status(2) == "Available"  # refused: no effect
    await cp.stop()
    validate_exchange("1.6", exchange(frames, "CP-ORDER"))


async def test_an_action_the_simulator_lacks_can_be_answered(
    csms: TestCsms, make_cp: MakeCp, frames: list[FrameRecord]
) -> None:
    cp = make_cp("CP-LACK", "1.6")
    await cp.start()
    server = csms.points["CP-LACK"]
    cp.answer_next("CertificateSigned", {"status": "Accepted"})
    answer = await server.call(c16.CertificateSigned(certificate_chain="x"), suppress=False)
    assert answer.status == "Accepted"
    with pytest.raises(Exception, match="NotSupported"):  # disarmed after one use
        await server.call(c16.CertificateSigned(certificate_chain="x"), suppress=False)
    await cp.stop()


async def test_a_cancelled_answer_is_not_used(
    csms: TestCsms, make_cp: MakeCp, frames: list[FrameRecord]
) -> None:
    cp = make_cp("CP-CANCEL", "1.6")
    await cp.start()
    armed = cp.answer_next("RemoteStartTransaction", status="Rejected")
    assert armed.cancel() and not armed.cancel()
    server = csms.points["CP-CANCEL"]
    answer = await server.call(c16.RemoteStartTransaction(id_tag="REMOTE", connector_id=1))
    assert answer.status == "Accepted" and not armed.used
    await csms.wait_for(lambda: cp.status(1) == "Charging")
    await cp.stop()
    validate_exchange("1.6", exchange(frames, "CP-CANCEL"))


@pytest.mark.parametrize(
    ("action", "payload", "status", "detail"),
    [
        (
            "RemoteStartTransaction",
            None,
            "Maybe",
            "status 'Maybe' is not one of Accepted, Rejected",
        ),
        ("RemoteStartTransaction", {"status": "Accepted", "extra": 1}, None, "violates"),
        ("RemoteStartTransaction", {"status": "Accepted"}, "Maybe", "violates"),
        ("RequestStartTransaction", None, "Rejected", "no such action in this OCPP version"),
        ("GetConfiguration", None, "Accepted", "the answer has no status field"),
    ],
)
async def test_strict_mode_refuses_an_invalid_answer_when_armed(
    make_cp: MakeCp, action: str, payload: dict[str, Any] | None, status: str | None, detail: str
) -> None:
    cp = make_cp("CP-STRICT", "1.6")
    with pytest.raises(SchemaViolation, match=detail):
        cp.answer_next(action, payload, status=status)
    # The official schema agrees where there is one.
    if payload is not None:
        answer = {**payload, **({"status": status} if status else {})}
        with pytest.raises(jsonschema.ValidationError):
            official_validator("1.6", action, "response").validate(answer)


async def test_lenient_mode_sends_an_invalid_answer_with_a_warning(
    csms: TestCsms,
    make_cp: MakeCp,
    frames: list[FrameRecord],
    caplog: pytest.LogCaptureFixture,
) -> None:
    cp = make_cp("CP-LENIENT", "1.6", strict=False)
    await cp.start()
    with caplog.at_level(logging.WARNING, "ocpplab_sim"):
        cp.answer_next("RemoteStartTransaction", status="Maybe")
    assert "status 'Maybe' is not one of Accepted, Rejected" in caplog.text
    server = csms.points["CP-LENIENT"]
    with pytest.raises(Exception, match="Maybe"):  # the central system's own check refuses it
        await server.call(c16.RemoteStartTransaction(id_tag="REMOTE", connector_id=1))
    (sent,) = [
        m for m in exchange(frames, "CP-LENIENT") if m[0] == 3 and m[2] == {"status": "Maybe"}
    ]
    with pytest.raises(jsonschema.ValidationError):
        official_validator("1.6", "RemoteStartTransaction", "response").validate(sent[2])
    await asyncio.sleep(0.1)
    assert cp.status(1) == "Available"  # not an accepting status: no effect
    await cp.stop()


async def test_an_answer_needs_a_payload_or_a_status(make_cp: MakeCp) -> None:
    cp = make_cp("CP-EMPTY", "1.6", validation="off")
    with pytest.raises(ChargePointError, match="needs a payload or a status"):
        cp.answer_next("Reset")
    armed = cp.answer_next("Reset", status="Whatever")  # validation off: no check
    assert armed.refusal and armed.cancel()
