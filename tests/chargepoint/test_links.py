"""The two websocket links of the connection layer behave the same (real sockets, port 0)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from websockets.asyncio.server import ServerConnection, serve
from websockets.datastructures import Headers
from websockets.http11 import Request, Response

from ocpplab_sim.connection import LinkKeeper, ReconnectPolicy
from ocpplab_sim.connection.links import LinkClosed, LinkError, LinkOptions, open_link
from ocpplab_sim.fleet import ChargePointConfig, SimulatedChargePoint

Behaviour = Callable[[ServerConnection], Any]


class Peer:
    """A websockets server whose behaviour per connection a test sets."""

    def __init__(self) -> None:
        self.behaviour: Behaviour | None = None
        self.received: list[str | bytes] = []
        self.close_codes: list[int | None] = []
        self.refuse: int | None = None
        self.url = ""

    async def handler(self, ws: ServerConnection) -> None:
        if self.behaviour is not None:
            await self.behaviour(ws)
            return
        async for message in ws:
            self.received.append(message)
            await ws.send(message)
        self.close_codes.append(ws.close_code)

    def process_request(self, _conn: ServerConnection, _request: Request) -> Response | None:
        if self.refuse is None:
            return None
        return Response(self.refuse, "Refused", Headers(), b"no")


@pytest.fixture
async def peer() -> AsyncIterator[Peer]:
    state = Peer()
    async with serve(
        state.handler,
        "127.0.0.1",
        0,
        subprotocols=["ocpp1.6"],  # type: ignore[list-item]
        process_request=state.process_request,
    ) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        state.url = f"ws://127.0.0.1:{port}"
        yield state


class Inbox:
    def __init__(self) -> None:
        self.messages: asyncio.Queue[str | bytes] = asyncio.Queue()
        self.closed = asyncio.Event()
        self.closes = 0

    def on_message(self, raw: str | bytes) -> None:
        self.messages.put_nowait(raw)

    def on_closed(self) -> None:
        self.closes += 1
        self.closed.set()


def text(raw: str | bytes) -> str:
    return raw.decode() if isinstance(raw, bytes) else raw


async def test_round_trip_subprotocol_and_clean_close(peer: Peer, transport: Any) -> None:
    inbox = Inbox()
    link = await open_link(
        transport, LinkOptions(f"{peer.url}/CP1", "ocpp1.6"), inbox.on_message, inbox.on_closed
    )
    assert link.subprotocol == "ocpp1.6"
    await link.send('[2,"1","Heartbeat",{"x":"é"}]'.encode())
    echoed = await asyncio.wait_for(inbox.messages.get(), 5)
    assert text(echoed) == '[2,"1","Heartbeat",{"x":"é"}]'
    assert peer.received == ['[2,"1","Heartbeat",{"x":"é"}]']  # a text frame, not binary
    await link.close(1000, "bye")
    assert inbox.closes == 1
    with pytest.raises(LinkClosed):
        await link.send(b"[]")
    await link.close()  # idempotent
    assert inbox.closes == 1


async def test_fragmented_message_arrives_whole(peer: Peer, transport: Any) -> None:
    async def fragments(ws: ServerConnection) -> None:
        await ws.send(iter(['[2,"9","Reset",', '{"type":', '"Soft"}]']))
        await ws.wait_closed()

    peer.behaviour = fragments
    inbox = Inbox()
    link = await open_link(
        transport, LinkOptions(f"{peer.url}/CP2", "ocpp1.6"), inbox.on_message, inbox.on_closed
    )
    whole = await asyncio.wait_for(inbox.messages.get(), 5)
    assert text(whole) == '[2,"9","Reset",{"type":"Soft"}]'
    await link.close()


async def test_server_close_calls_on_closed_once(peer: Peer, transport: Any) -> None:
    async def hang_up(ws: ServerConnection) -> None:
        await ws.close(1011, "going away")

    peer.behaviour = hang_up
    inbox = Inbox()
    link = await open_link(
        transport, LinkOptions(f"{peer.url}/CP3", "ocpp1.6"), inbox.on_message, inbox.on_closed
    )
    await asyncio.wait_for(inbox.closed.wait(), 5)
    await link.wait_closed()
    assert inbox.closes == 1


async def test_refused_handshake_names_the_http_status(peer: Peer, transport: Any) -> None:
    peer.refuse = 401
    with pytest.raises(LinkError) as info:
        await open_link(
            transport, LinkOptions(f"{peer.url}/CP4", "ocpp1.6"), lambda _r: None, lambda: None
        )
    assert info.value.http_status == 401


async def test_nothing_listening_is_a_link_error(transport: Any) -> None:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(LinkError) as info:
        await open_link(
            transport, LinkOptions(f"ws://127.0.0.1:{port}/x", "ocpp1.6"), print, lambda: None
        )
    assert info.value.http_status is None
    assert isinstance(info.value.__cause__, OSError)


async def test_a_source_address_is_the_peer_address_the_server_sees(
    peer: Peer, transport: Any
) -> None:
    """Every link from a pool address (127.0.0.x) arrives from that address, however many
    share it (the port is chosen per destination at connect time)."""
    seen: list[str] = []

    async def note_peer(ws: ServerConnection) -> None:
        seen.append(ws.remote_address[0])
        await ws.wait_closed()

    peer.behaviour = note_peer
    links = [
        await open_link(
            transport,
            LinkOptions(f"{peer.url}/CP-SRC{n}", "ocpp1.6", source_address=f"127.0.0.{2 + n % 2}"),
            lambda _r: None,
            lambda: None,
        )
        for n in range(4)
    ]
    for _ in range(50):
        if len(seen) == 4:
            break
        await asyncio.sleep(0.02)
    assert sorted(seen) == ["127.0.0.2", "127.0.0.2", "127.0.0.3", "127.0.0.3"]
    await asyncio.gather(*(link.close() for link in links))


async def test_a_source_address_that_cannot_be_bound_is_a_link_error(transport: Any) -> None:
    with pytest.raises(LinkError):
        await open_link(
            transport,
            LinkOptions("ws://127.0.0.1:9/x", "ocpp1.6", source_address="192.0.2.1"),
            print,
            lambda: None,
        )


async def test_a_call_sent_right_behind_the_handshake_is_answered(
    peer: Peer, transport: Any
) -> None:
    """A central system may send a CALL the moment the socket opens; the connection answers it
    even if it arrives before the connection has attached the link."""
    answers: asyncio.Queue[str | bytes] = asyncio.Queue()

    async def eager(ws: ServerConnection) -> None:
        await ws.send(
            '[2,"c1","DataTransfer",{"vendorId":"ocpplab","messageId":"echo","data":"hi"}]'
        )
        async for message in ws:
            answers.put_nowait(message)

    peer.behaviour = eager
    cp = SimulatedChargePoint(
        ChargePointConfig("CP5", "1.6", 1, peer.url, transport=transport),
        reconnect=ReconnectPolicy(enabled=False),
    )
    starting = asyncio.ensure_future(cp.start())  # the boot is never answered here
    try:
        answer = await asyncio.wait_for(answers.get(), 5)
        assert json.loads(answer)[0] == 2  # the BootNotification came first
        answer = await asyncio.wait_for(answers.get(), 5)
        assert text(answer) == '[3,"c1",{"status":"Accepted","data":"hi"}]'
    finally:
        starting.cancel()
        await cp.stop()


async def test_refusals_reach_on_refused(peer: Peer, transport: Any) -> None:
    peer.refuse = 403
    refused: list[int] = []
    keeper = LinkKeeper(
        f"{peer.url}/CP6",
        "ocpp1.6",
        on_open=lambda: None,
        on_message=print,
        on_lost=lambda: None,
        transport=transport,
        on_refused=refused.append,
    )
    with pytest.raises(Exception, match="403"):
        await keeper.open()
    assert refused == [403]
    await keeper.close()


async def test_the_call_observer_sees_every_call_once(peer: Peer, transport: Any) -> None:
    """Answered, refused (CALLERROR), timed out, lost, and the central system's own CALLs."""

    async def central_system(ws: ServerConnection) -> None:
        async for raw in ws:
            message = json.loads(raw)
            if message[0] != 2:
                continue
            if message[2] == "BootNotification":
                now = "2026-01-01T00:00:00Z"
                answer = {"status": "Accepted", "currentTime": now, "interval": 300}
                await ws.send(json.dumps([3, message[1], answer]))
                await ws.send('[2,"c1","DataTransfer",{"vendorId":"ocpplab","messageId":"echo"}]')
            elif message[2] == "Heartbeat":
                await ws.send(json.dumps([3, message[1], {"currentTime": "2026-01-01T00:00:00Z"}]))
            elif message[2] == "DataTransfer":
                await ws.send(json.dumps([4, message[1], "NotImplemented", "no", {}]))
            elif message[2] == "Hang up":
                await ws.close()
            elif message[2] != "Silence":  # never answered
                await ws.send(json.dumps([3, message[1], {}]))

    peer.behaviour = central_system
    seen: list[tuple[str, str, float, str | None]] = []
    cp = SimulatedChargePoint(
        ChargePointConfig(
            "CP7", "1.6", 1, peer.url, transport=transport, call_timeout_s=0.2, validation="off"
        ),
        reconnect=ReconnectPolicy(enabled=False),
        on_call=lambda *call: seen.append(call),
    )
    await cp.start()
    try:
        await cp.send_raw("Heartbeat", {})
        with pytest.raises(Exception, match="NotImplemented"):
            await cp.data_transfer("x")
        with pytest.raises(Exception, match="no answer"):
            await cp.send_raw("Silence", {})
        with pytest.raises(Exception, match="connection"):
            await cp.send_raw("Hang up", {})
    finally:
        await cp.stop()
    ours = [
        (action, outcome, seconds)
        for way, action, seconds, outcome in seen
        if way == "out" and action not in ("BootNotification", "StatusNotification")
    ]
    assert [(action, outcome) for action, outcome, _s in ours] == [
        ("Heartbeat", None),
        ("DataTransfer", "NotImplemented"),
        ("Silence", "timeout"),
        ("Hang up", "lost"),
    ]
    assert [(call[1], call[3]) for call in seen if call[0] == "in"] == [("DataTransfer", None)]
    assert all(0 <= seconds < 5 for _a, _o, seconds in ours)
    assert 0.2 <= ours[2][2] < 1  # waited for the whole timeout


async def test_a_failing_message_handler_closes_the_link(peer: Peer, transport: Any) -> None:
    """A receive handler that raises ends the link (on_closed runs) instead of leaving a socket
    whose messages go nowhere."""

    async def greet(ws: ServerConnection) -> None:
        await ws.send('[2,"g1","Heartbeat",{}]')
        await ws.wait_closed()
        peer.close_codes.append(ws.close_code)

    def explode(_raw: str | bytes) -> None:
        raise RuntimeError("handler bug")

    peer.behaviour = greet
    inbox = Inbox()
    link = await open_link(
        transport, LinkOptions(f"{peer.url}/CP-BUG", "ocpp1.6"), explode, inbox.on_closed
    )
    await asyncio.wait_for(inbox.closed.wait(), 5)
    await link.wait_closed()
    assert inbox.closes == 1
    for _ in range(50):
        if peer.close_codes:
            break
        await asyncio.sleep(0.02)
    assert peer.close_codes and peer.close_codes[0] != 1000


async def test_a_refused_connect_from_a_source_address_leaves_no_socket_open(
    transport: Any,
) -> None:
    import gc
    import socket
    import warnings

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # nothing listens here
    with warnings.catch_warnings():
        warnings.simplefilter("error", ResourceWarning)  # an unclosed socket would raise
        for _ in range(3):
            with pytest.raises(LinkError):
                await open_link(
                    transport,
                    LinkOptions(f"ws://127.0.0.1:{port}/x", "ocpp1.6", source_address="127.0.0.2"),
                    print,
                    lambda: None,
                )
        gc.collect()
