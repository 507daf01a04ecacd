"""`ocpplab-sim gateway serve` as a separate process, used by `ocpplab-sim run` over the network."""

from __future__ import annotations

import asyncio
import re
import signal
import sys
from pathlib import Path

from tests.e2e.conftest import ROOT, run_cli


async def test_run_against_a_served_gateway_then_stop_it(tmp_path: Path) -> None:
    server = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "ocpplab_sim",
        "gateway",
        "serve",
        "--port",
        "0",
        "--db",
        f"sqlite+aiosqlite:///{tmp_path / 'served.db'}",
        "--token",
        "served-token",
        cwd=ROOT,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    assert server.stderr is not None
    try:
        first = await asyncio.wait_for(server.stderr.readline(), 20)
        match = re.search(rb"listening on (http://127\.0\.0\.1:\d+)", first)
        assert match, first
        url = match.group(1).decode()
        result = await run_cli(
            "run", "scenarios/highway.yaml", "--gateway-url", url, "--token", "served-token"
        )
        assert result.code == 0, result.stdout + result.stderr
        assert f"gateway {url}" in result.stdout
    finally:
        if server.returncode is None:
            server.send_signal(signal.SIGTERM)
        await asyncio.wait_for(server.stderr.read(), 20)
        code = await asyncio.wait_for(server.wait(), 20)
    assert code == 0
    assert (tmp_path / "served.db").exists()
