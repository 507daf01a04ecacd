"""End to end: the real ``ocpplab-sim`` command in a subprocess, real gateway, real sockets.

The reference gateway runs in the test's own event loop on a loopback port chosen by the OS, so a
test can look at what the harness left behind (was the CPO deleted?) through the Gateway API.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from ocpplab_sim.gateway import EmbeddedGateway, GatewaySettings

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "e2e-token"


@dataclass
class CliResult:
    code: int
    stdout: str
    stderr: str


@dataclass
class Gateway:
    url: str
    token: str

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            base_url=self.url, headers={"Authorization": f"Bearer {self.token}"}, timeout=10
        )


@pytest.fixture
async def gateway(tmp_path: Path) -> AsyncIterator[Gateway]:
    settings = GatewaySettings(token=TOKEN, db_url=f"sqlite+aiosqlite:///{tmp_path / 'gw.db'}")
    async with EmbeddedGateway(settings, host="127.0.0.1", port=0) as running:
        yield Gateway(running.url, TOKEN)


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OCPPLAB_")}
    env["PYTHONUNBUFFERED"] = "1"
    return env


async def run_cli(
    *args: str | Path,
    limit_s: float = 90,
    interrupt_after: str | None = None,
    interrupt_with: signal.Signals = signal.SIGTERM,
) -> CliResult:
    """Run ``ocpplab-sim ARGS`` as a user would; optionally signal it once ``interrupt_after``
    appears on its standard output."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "ocpplab_sim",
        *(str(a) for a in args),
        cwd=ROOT,
        env=_env(),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert process.stdout is not None
    assert process.stderr is not None
    lines: list[str] = []

    async def read_stdout() -> None:
        assert process.stdout is not None
        async for raw in process.stdout:
            line = raw.decode()
            lines.append(line)
            if interrupt_after is not None and interrupt_after in line:
                process.send_signal(interrupt_with)

    try:
        _, stderr = await asyncio.wait_for(
            asyncio.gather(read_stdout(), process.stderr.read()), limit_s
        )
        code = await asyncio.wait_for(process.wait(), limit_s)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise
    return CliResult(code, "".join(lines), stderr.decode())


def write_scenario(tmp_path: Path, body: str, name: str = "s.yaml") -> Path:
    path = tmp_path / name
    path.write_text(body, encoding="utf-8")
    return path


def urban(steps: Sequence[str], settings: str = "{within: 10s, meter_interval: 1s}") -> str:
    return (
        "name: e2e\n"
        "gateway:\n"
        "  template: small-urban-ac\n"
        "  party: {country_code: FR, party_id: ABC}\n"
        f"settings: {settings}\n"
        "steps:\n" + "".join(f"  - {step}\n" for step in steps)
    )
