"""Hostile clients against the documented limits (docs/reference-gateway.md "Limits"): each gets
a clear close or CALLERROR, and everyone else keeps being served."""

from __future__ import annotations

import asyncio
import json
import logging
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from ocpplab_sim.gateway import EmbeddedGateway, GatewaySettings

from .conftest import TOKEN
from .support import ocpp_client, provision, wait_until

HEADERS = {"Authorization": f"Bearer {TOKEN}"}


def _settings(tmp_path: Path, **limits: Any) -> GatewaySettings:
    return GatewaySettings(token=TOKEN, db_url=f"sqlite+aiosqlite:///{tmp_path}/gw.db", **limits)


async def _closed_at(reader: asyncio.StreamReader) -> float:
    """The loop time at which the server closed the connection (EOF or reset)."""
    try:
        while await reader.read(4096):
            pass
    except ConnectionError:
        pass
    return asyncio.get_running_loop().time()


async def test_stalled_handshakes_are_closed_and_others_served(tmp_path: Path):
    timeout, cap, hostile = 1.0, 50, 200
    settings = _settings(tmp_path, handshake_timeout=timeout, max_pending_handshakes=cap)
    async with (
        EmbeddedGateway(settings) as gw,
        httpx.AsyncClient(base_url=gw.url, headers=HEADERS, timeout=10) as client,
    ):
        cpo = await provision(client, "small-urban-ac")
        port = int(gw.url.rsplit(":", 1)[1])
        loop = asyncio.get_running_loop()
        opened: list[float] = []
        waits: list[asyncio.Task[float]] = []
        writers: list[asyncio.StreamWriter] = []
        try:
            for n in range(hostile):
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                if n % 2:  # half a websocket upgrade request, then nothing
                    writer.write(b"GET /ocpp/x HTTP/1.1\r\nHost: gw\r\nUpgrade: websocket\r\n")
                    await writer.drain()
                opened.append(loop.time())
                writers.append(writer)
                waits.append(asyncio.create_task(_closed_at(reader)))
            # Meanwhile a charger and the Gateway API are served.
            async with ocpp_client(gw.url, f"demo-{cpo['cpo_id']}-L1-01", "1.6") as cp:
                assert (await cp.boot())["status"] == "Accepted"
            assert (await client.get(f"/ocpi/cpos/{cpo['cpo_id']}")).status_code == 200
            closed = await asyncio.wait_for(asyncio.gather(*waits), timeout + 10)
        finally:
            for writer in writers:
                writer.close()
        # The oldest made room for newer ones; the newest `cap` waited out the timeout (a few
        # of them may have made room for the charger's and the API client's connections).
        held = [end - start for start, end in zip(opened, closed, strict=True)][-cap:]
        assert sum(1 for t in held if t >= timeout) >= cap - 5, held
        # Still serving after the flood.
        assert (await client.get("/ocpi/cpos")).status_code == 200


async def test_a_connect_storm_over_the_cap_loses_nobody(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """Connections queued behind a storm are not stalling: under the hard cap none is closed."""
    from ocpplab_sim.gateway import limits

    monkeypatch.setattr(limits, "MIN_EVICTABLE_AGE", 30.0)  # the storm below is never this slow
    cap, storm = 20, 60  # hard cap 4 x 20 = 80
    settings = _settings(tmp_path, handshake_timeout=30.0, max_pending_handshakes=cap)
    async with EmbeddedGateway(settings) as gw:
        port = int(gw.url.rsplit(":", 1)[1])
        # Everyone connects before anyone sends a request: 60 wait for headers at once.
        streams = [await asyncio.open_connection("127.0.0.1", port) for _ in range(storm)]
        try:
            request = (
                f"GET /ocpi/cpos HTTP/1.1\r\nHost: gw\r\nAuthorization: Bearer {TOKEN}\r\n"
                "Connection: close\r\n\r\n"
            ).encode()
            for _, writer in streams:
                writer.write(request)
            answers = await asyncio.wait_for(
                asyncio.gather(*(reader.readline() for reader, _ in streams)), 30
            )
        finally:
            for _, writer in streams:
                writer.close()
        assert [a.split(b" ")[1:2] for a in answers] == [[b"200"]] * storm


@pytest.fixture
async def limited(tmp_path: Path) -> AsyncIterator[tuple[EmbeddedGateway, httpx.AsyncClient]]:
    settings = _settings(tmp_path, ws_max_message_bytes=65536)
    async with (
        EmbeddedGateway(settings) as gw,
        httpx.AsyncClient(base_url=gw.url, headers=HEADERS, timeout=10) as client,
    ):
        yield gw, client


async def _closed_with(cp_ws: Any) -> tuple[int, str]:
    with pytest.raises(ConnectionClosed) as closed:
        await asyncio.wait_for(cp_ws.recv(), 5)
    assert closed.value.rcvd is not None, "no close frame"
    return closed.value.rcvd.code, closed.value.rcvd.reason


def _nested(depth: int) -> str:
    return "[" * depth + "]" * depth


async def test_hostile_frames_get_callerror_or_a_clear_close(
    limited: tuple[EmbeddedGateway, httpx.AsyncClient], caplog: pytest.LogCaptureFixture
):
    gw, client = limited
    caplog.set_level(logging.DEBUG)
    cpo = await provision(client, "small-urban-ac")
    hostile, bystander = (f"demo-{cpo['cpo_id']}-L1-0{n}" for n in (1, 2))
    long_action = "A" * 60_000
    answered = [
        # (frame, message id answered, error code)
        (f'[2, "deep-1", "Heartbeat", {{"a": {_nested(5000)}}}]', "deep-1", "FormationViolation"),
        (f'[2, "deep-2", "Heartbeat", {{"a": {_nested(40)}}}]', "deep-2", "FormationViolation"),
        ('[2, "big-1", "Heartbeat", {"n": 1' + "0" * 5000 + "}]", "big-1", "FormationViolation"),
        ('[2.0, "float-1", "Heartbeat", {}]', "float-1", "FormationViolation"),
        ('[2, "' + "i" * 37 + '", "Heartbeat", {}]', "-1", "FormationViolation"),
        (json.dumps([2, "long-1", long_action, {}]), "long-1", "NotImplemented"),
        (json.dumps([2, "known-1", "Reset", {"type": "Hard"}]), "known-1", "NotSupported"),
    ]
    async with (
        ocpp_client(gw.url, bystander, "1.6") as other,
        ocpp_client(gw.url, hostile, "1.6") as cp,
    ):
        await other.boot()
        for raw, unique_id, code in answered:
            await cp.ws.send(raw)
            reply = await asyncio.wait_for(cp.ws.recv(), 5)
            assert len(reply) < 1000, reply[:200]  # the echo is cut
            frame = json.loads(reply)
            assert frame[:3] == [4, unique_id, code], (raw[:60], frame)
            assert "currentTime" in await cp.call("Heartbeat", {})
            assert "currentTime" in await other.call("Heartbeat", {})
    closing = [
        (_nested(10_000), 1007),  # no message id to answer
        ('{"a": ' + _nested(5000) + "}", 1007),
        (b"[2, 'binary', 'Heartbeat', {}]", 1003),  # OCPP-J uses text frames only
        (json.dumps([2, "huge", "Heartbeat", {"x": "y" * 70_000}]), 1009),
    ]
    for raw_frame, close_code in closing:
        async with (
            ocpp_client(gw.url, bystander, "1.6") as other,
            ocpp_client(gw.url, hostile, "1.6") as cp,
        ):
            await cp.ws.send(raw_frame)
            code, reason = await _closed_with(cp.ws)
            assert code == close_code and reason, (raw_frame[:40], code, reason)
            assert "currentTime" in await other.call("Heartbeat", {})
    report = (await client.get(f"/ocpi/cpos/{cpo['cpo_id']}/report")).json()
    assert set(report["messages"]) == {"BootNotification", "Heartbeat", "Reset"}
    assert all(len(e["detail"]) <= 500 for e in report["events"])
    # No log line carries a frame whole.
    assert caplog.records
    longest = max(len(r.getMessage()) + len(r.exc_text or "") for r in caplog.records)
    assert longest < 5000, longest


async def test_events_of_unknown_identities_are_capped(tmp_path: Path):
    settings = _settings(tmp_path, max_unknown_identity_events=10)
    async with (
        EmbeddedGateway(settings) as gw,
        httpx.AsyncClient(base_url=gw.url, headers=HEADERS, timeout=10) as client,
    ):
        url = gw.url.replace("http://", "ws://")
        for n in range(40):
            with pytest.raises(InvalidStatus) as refused:
                async with connect(f"{url}/ocpp/stranger-{n}"):
                    pass
            assert refused.value.response.status_code == 404

        async def listed() -> list[dict[str, Any]]:
            response = await client.get("/gateway/events", params={"limit": 500})
            data: list[dict[str, Any]] = response.json()["data"]
            return data

        # Each refusal is recorded after the answer: wait for the last one.
        events = await wait_until(listed, lambda e: e[-1]["station_id"] == "stranger-39")
        # The newest 10, up to a tenth more before they are cut back.
        assert 10 <= len(events) <= 11, len(events)
        stations = [e["station_id"] for e in events]
        assert stations == sorted(stations, key=lambda s: int(s.rsplit("-", 1)[1]))


async def _serve_and_connect(tmp_path: Path, *flags: str) -> str:
    """Run ``gateway serve`` with ``flags``, open one websocket, stop it; return its stderr."""
    db_url = f"sqlite+aiosqlite:///{tmp_path}/log{len(flags)}.db"
    argv = ["-m", "ocpplab_sim", "gateway", "serve", "--port", "0", "--db", db_url, *flags]
    proc = await asyncio.create_subprocess_exec(
        sys.executable, *argv, stderr=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.DEVNULL
    )
    assert proc.stderr is not None
    try:
        lines: list[str] = []
        while not lines or "listening on" not in lines[-1]:
            raw = await asyncio.wait_for(proc.stderr.readline(), 30)
            assert raw, "the gateway exited before listening"
            lines.append(raw.decode())
        url = lines[-1].rsplit(" ", 1)[1].strip().replace("http://", "ws://")
        with pytest.raises(InvalidStatus):
            async with connect(f"{url}/ocpp/somebody"):
                pass
        proc.send_signal(signal.SIGTERM)
        rest = await asyncio.wait_for(proc.stderr.read(), 30)
        assert await asyncio.wait_for(proc.wait(), 30) == 0
        return "".join(lines) + rest.decode()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


async def test_serve_is_quiet_about_connections_unless_asked(tmp_path: Path):
    quiet = await _serve_and_connect(tmp_path)
    assert "/ocpp/somebody" not in quiet and "INFO" not in quiet, quiet
    verbose = await _serve_and_connect(tmp_path, "--log-level", "info")
    assert '"WebSocket /ocpp/somebody" 404' in verbose, verbose
