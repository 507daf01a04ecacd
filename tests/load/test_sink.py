"""The minimal central system (picows server) seen through a standard client (websockets):
subprotocol negotiation, schema-valid answers for OCPP 1.6 and 2.0.1, errors, echo, fragmented
messages, deliberate drops, the close handshake, and the ``--processes`` command line. Loopback
only, port 0, every wait bounded."""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from typing import Any

import pytest
from picows import WSCloseCode, WSFrame, WSListener, WSMsgType, WSTransport, ws_connect
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Subprotocol

from ocpplab_sim.load.sink import CentralSystemSink
from ocpplab_sim.protocol.schemas import Version, validate

WAIT = 5.0
OCPP16 = [Subprotocol("ocpp1.6")]


@pytest.fixture
async def sink() -> AsyncIterator[CentralSystemSink]:
    async with CentralSystemSink(heartbeat_interval=42) as running:
        yield running


async def call(ws: ClientConnection, unique_id: str, action: str, payload: Any) -> list[Any]:
    await ws.send(json.dumps([2, unique_id, action, payload]))
    async with asyncio.timeout(WAIT):
        answer: list[Any] = json.loads(await ws.recv())
    return answer


async def closed_with(ws: ClientConnection) -> tuple[int | None, str | None]:
    """Wait (bounded) for the sink to close ``ws``; return the close code and reason it sent."""
    async with asyncio.timeout(WAIT):
        with contextlib.suppress(ConnectionClosed):
            while True:  # anything still queued, then the close
                await ws.recv()
        await ws.wait_closed()
    return ws.close_code, ws.close_reason


def result_of(answer: list[Any], unique_id: str) -> dict[str, Any]:
    assert answer[:2] == [3, unique_id], answer
    payload: dict[str, Any] = answer[2]
    return payload


async def test_ocpp16_is_negotiated_and_answered_with_valid_payloads(
    sink: CentralSystemSink,
) -> None:
    async with connect(f"{sink.url}/CP-1", subprotocols=OCPP16) as ws:
        assert ws.subprotocol == "ocpp1.6"
        boot = {"chargePointVendor": "Lab", "chargePointModel": "Sim"}
        answer = result_of(await call(ws, "1", "BootNotification", boot), "1")
        validate("1.6", "BootNotification", "response", answer)
        assert answer["status"] == "Accepted"
        assert answer["interval"] == 42
        assert answer["currentTime"].endswith("Z")
        answer = result_of(await call(ws, "2", "Heartbeat", {}), "2")
        validate("1.6", "Heartbeat", "response", answer)
        requests: list[tuple[str, dict[str, Any]]] = [
            ("Authorize", {"idTag": "TAG"}),
            ("StartTransaction", {}),
            ("StopTransaction", {}),
            ("StatusNotification", {}),
            ("MeterValues", {}),
            ("DataTransfer", {"vendorId": "x"}),
        ]
        for n, (action, payload) in enumerate(requests):
            validate(
                "1.6",
                action,
                "response",
                result_of(await call(ws, f"a{n}", action, payload), f"a{n}"),
            )
        await ws.ping()  # answered with a PONG (or this times out)
    assert ws.close_code == 1000  # the sink answered the client's CLOSE
    assert sink.connections == 1
    assert sink.calls["BootNotification"] == 1
    assert sink.calls["Heartbeat"] == 1
    assert sum(sink.calls.values()) == 2 + len(requests)


async def test_ocpp201_payloads_are_valid_against_201_schemas(sink: CentralSystemSink) -> None:
    offered = [
        Subprotocol(p) for p in ("other", "ocpp2.0.1", "ocpp1.6")
    ]  # the client's first OCPP choice wins
    async with connect(f"{sink.url}/CP-2", subprotocols=offered) as ws:
        assert ws.subprotocol == "ocpp2.0.1"
        version: Version = "2.0.1"
        for n, action in enumerate(
            ["BootNotification", "Heartbeat", "Authorize", "TransactionEvent", "StatusNotification"]
        ):
            answer = result_of(await call(ws, str(n), action, {}), str(n))
            validate(version, action, "response", answer)
            if action == "Authorize":
                assert answer == {"idTokenInfo": {"status": "Accepted"}}
            if action == "TransactionEvent":
                assert answer == {}
    assert sink.connections == 1


async def test_unknown_actions_bad_json_and_results_from_the_charger(
    sink: CentralSystemSink,
) -> None:
    async with connect(f"{sink.url}/CP-3", subprotocols=OCPP16) as ws:
        assert await call(ws, "u1", "NoSuchThing", {}) == [
            4,
            "u1",
            "NotImplemented",
            "NoSuchThing not handled",
            {},
        ]
        await ws.send("{not json")
        async with asyncio.timeout(WAIT):
            error = json.loads(await ws.recv())
        assert error[0] == 4
        assert error[2] == "FormatViolation"
        await ws.send(json.dumps([3, "x", {}]))  # a CALLRESULT: ignored, nothing comes back
        await ws.send(json.dumps([4, "y", "GenericError", "", {}]))  # a CALLERROR: ignored too
        result_of(await call(ws, "h", "Heartbeat", {}), "h")  # the next answer is the Heartbeat's
    assert sink.calls == {"NoSuchThing": 1, "Heartbeat": 1}


async def test_no_ocpp_subprotocol_is_closed_with_1002(sink: CentralSystemSink) -> None:
    async with connect(f"{sink.url}/CP-4") as ws:
        assert ws.subprotocol is None
        assert await closed_with(ws) == (1002, "no OCPP subprotocol")
    assert sink.connections == 0


async def test_echo_path_echoes_text_and_binary(sink: CentralSystemSink) -> None:
    async with connect(f"{sink.url}/echo") as ws:
        messages: list[str | bytes] = ['[2,"1","Heartbeat",{}]', "ünïcödé", b"\x00\xffbinary"]
        for message in messages:
            await ws.send(message)
            async with asyncio.timeout(WAIT):
                assert await ws.recv() == message
        await ws.send(["frag", "mented"])
        async with asyncio.timeout(WAIT):
            assert await ws.recv() == "fragmented"
    assert ws.close_code == 1000
    assert sink.connections == 0
    assert not sink.calls


async def test_fragmented_messages_are_reassembled_and_answered(sink: CentralSystemSink) -> None:
    async with connect(f"{sink.url}/CP-5", subprotocols=OCPP16) as ws:
        frame = json.dumps([2, "frag", "StatusNotification", {"connectorId": 1, "note": "é"}])
        await ws.send([frame[i : i + 5] for i in range(0, len(frame), 5)])
        async with asyncio.timeout(WAIT):
            assert json.loads(await ws.recv()) == [3, "frag", {}]
        await ws.send([b'[2,"bin",', b'"Heartbeat",{}]'])  # binary fragments are OCPP-J too
        assert "currentTime" in result_of(
            json.loads(await asyncio.wait_for(ws.recv(), WAIT)), "bin"
        )
    assert sink.calls == {"StatusNotification": 1, "Heartbeat": 1}


class CloseRecorder(WSListener):
    """A picows client (it can send what websockets will not): records the sink's CLOSE."""

    def __init__(self) -> None:
        self.close: tuple[WSCloseCode, str | None] | None = None

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        if frame.msg_type is WSMsgType.CLOSE:
            self.close = (frame.get_close_code(), frame.get_close_reason())
            transport.send_close(frame.get_close_code())
            transport.disconnect()


@pytest.mark.parametrize(
    ("frames", "expected"),
    [
        ([(WSMsgType.TEXT, b'[2,"1","Heartbeat",\xff]', True)], (1007, "invalid UTF-8")),
        (
            [(WSMsgType.TEXT, b"[2,", False), (WSMsgType.CONTINUATION, b"\xc3", True)],
            (1007, "invalid UTF-8"),
        ),
        ([(WSMsgType.CONTINUATION, b"x", True)], (1002, "unexpected continuation frame")),
        (
            [(WSMsgType.TEXT, b"[2,", False), (WSMsgType.TEXT, b"[]", True)],
            (1002, "expected a continuation frame"),
        ),
    ],
)
async def test_invalid_frames_are_closed_with_the_rfc_code(
    sink: CentralSystemSink,
    frames: list[tuple[WSMsgType, bytes, bool]],
    expected: tuple[int, str],
) -> None:
    transport, listener = await ws_connect(
        CloseRecorder, f"{sink.url}/CP-8", extra_headers={"Sec-WebSocket-Protocol": "ocpp1.6"}
    )
    assert isinstance(listener, CloseRecorder)
    for msg_type, payload, fin in frames:
        transport.send(msg_type, payload, fin=fin)
    await asyncio.wait_for(transport.wait_disconnected(), WAIT)
    assert listener.close is not None
    assert (listener.close[0].value, listener.close[1]) == expected
    assert not sink.calls


async def test_drop_every_closes_with_1011_after_that_many_answers() -> None:
    async with CentralSystemSink(drop_every=3) as sink:
        async with connect(f"{sink.url}/CP-6", subprotocols=OCPP16) as ws:
            for n in range(3):
                result_of(await call(ws, str(n), "Heartbeat", {}), str(n))
            assert await closed_with(ws) == (1011, "dropped on purpose")
        assert sink.dropped == 1
        assert sink.calls == {"Heartbeat": 3}
        async with connect(f"{sink.url}/CP-7", subprotocols=OCPP16) as ws:
            result_of(await call(ws, "a", "Heartbeat", {}), "a")
        assert sink.dropped == 1  # one answer short of the next drop
        assert sink.connections == 2


async def test_connections_are_counted_and_closed_when_the_sink_stops() -> None:
    async with CentralSystemSink() as sink:
        url = sink.url
        assert url.startswith("ws://127.0.0.1:")
        clients = [await connect(f"{url}/CP-{n}", subprotocols=OCPP16) for n in range(5)]
        for n, ws in enumerate(clients):
            result_of(await call(ws, str(n), "BootNotification", {}), str(n))
        assert sink.connections == 5
        assert sink.calls == {"BootNotification": 5}
    for ws in clients:
        assert await closed_with(ws) == (1001, "sink stopping")
    with pytest.raises(RuntimeError):
        _ = sink.url


def test_the_command_line_serves_with_two_processes_and_stops_on_sigterm() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "ocpplab_sim.load.sink", "--processes", "2", "--drop-every", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.startswith("listening on ws://127.0.0.1:"), line
        url = line.split()[-1]

        async def boot_many() -> list[dict[str, Any]]:
            answers = []
            for n in range(8):  # the kernel spreads these over both processes
                async with connect(f"{url}/CP-{n}", subprotocols=OCPP16) as ws:
                    answers.append(result_of(await call(ws, "b", "BootNotification", {}), "b"))
            return answers

        for answer in asyncio.run(boot_many()):
            validate("1.6", "BootNotification", "response", answer)
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate(timeout=10)
    assert process.returncode == 0, err
    assert "answered" in err
    assert "Traceback" not in err
