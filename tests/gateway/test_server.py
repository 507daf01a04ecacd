"""Server life cycle: in-memory database, start-up failure, the blocking serve() and signals."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import httpx
import pytest
from pydantic import ValidationError
from websockets.exceptions import ConnectionClosed

from ocpplab_sim.gateway import EmbeddedGateway, GatewaySettings, GatewayStartError

from .support import ocpp_client, provision


async def test_in_memory_database_and_restart_safe_stop():
    settings = GatewaySettings(token="t", db_url="sqlite+aiosqlite:///:memory:")
    async with EmbeddedGateway(settings) as gw:
        url = gw.url
        headers = {"Authorization": "Bearer t"}
        async with httpx.AsyncClient(base_url=url, headers=headers) as client:
            cpo = await provision(client, "highway-dc")
            assert cpo["ocpi_peer_url"].startswith(url)
    with pytest.raises(RuntimeError):
        _ = gw.url


async def test_state_survives_restart(tmp_path: Path):
    settings = GatewaySettings(token="t", db_url=f"sqlite+aiosqlite:///{tmp_path}/gw.db")
    headers = {"Authorization": "Bearer t"}
    async with (
        EmbeddedGateway(settings) as gw,
        httpx.AsyncClient(base_url=gw.url, headers=headers) as client,
    ):
        cpo = await provision(client, "small-urban-ac")
    async with (
        EmbeddedGateway(settings) as gw,
        httpx.AsyncClient(base_url=gw.url, headers=headers) as client,
    ):
        status = (await client.get(f"/ocpi/cpos/{cpo['cpo_id']}/status")).json()
        assert status["status"] == "ready"
        body = (await client.get(f"/ocpi/cpos/{cpo['cpo_id']}")).json()
        assert body["ocpi_peer_url"] == f"{gw.url}/ocpi/peer/{cpo['cpo_id']}/versions"


async def test_settings_refuse_a_database_in_a_missing_folder(tmp_path: Path):
    missing_dir = tmp_path / "no" / "such" / "dir"
    with pytest.raises(ValidationError, match="does not exist"):
        GatewaySettings(db_url=f"sqlite+aiosqlite:///{missing_dir}/gw.db")


async def test_start_failure_is_reported(tmp_path: Path):
    garbage = tmp_path / "gw.db"
    garbage.write_bytes(b"this is not an SQLite database\n" * 200)
    settings = GatewaySettings(db_url=f"sqlite+aiosqlite:///{garbage}")
    with pytest.raises(GatewayStartError):
        async with EmbeddedGateway(settings):
            pass


async def test_serve_stops_cleanly_on_sigterm(tmp_path: Path):
    code = (
        "from ocpplab_sim.gateway import GatewaySettings, serve\n"
        f"serve(GatewaySettings(db_url='sqlite+aiosqlite:///{tmp_path}/gw.db'), '127.0.0.1', 0)\n"
    )
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", code, stderr=asyncio.subprocess.PIPE, env={**os.environ}
    )
    assert proc.stderr is not None
    try:
        line = ""
        while "listening on" not in line:
            raw = await asyncio.wait_for(proc.stderr.readline(), 20)
            assert raw, "serve() exited before listening"
            line = raw.decode()
        url = line.rsplit(" ", 1)[1].strip()
        async with httpx.AsyncClient(base_url=url) as client:
            assert (await client.get("/ocpi/cpos")).status_code == 401
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), 20) == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        await proc.stderr.read()


async def test_exit_closes_open_charger_websockets(tmp_path: Path):
    settings = GatewaySettings(token="t", db_url=f"sqlite+aiosqlite:///{tmp_path}/gw.db")
    headers = {"Authorization": "Bearer t"}
    gw = EmbeddedGateway(settings)
    async with gw, httpx.AsyncClient(base_url=gw.url, headers=headers) as client:
        cpo = await provision(client, "small-urban-ac")
        identity = f"demo-{cpo['cpo_id']}-L1-01"
        async with ocpp_client(gw.url, identity, "1.6") as cp:
            await cp.boot()
            loop = asyncio.get_running_loop()
            started = loop.time()
            await gw.__aexit__(None, None, None)
            assert loop.time() - started < 3
            with pytest.raises(ConnectionClosed) as closed:
                await cp.ws.recv()
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 1001
