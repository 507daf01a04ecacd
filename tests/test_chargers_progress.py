"""`ocpplab-sim chargers` shows live progress on a terminal, with FORCE_COLOR or --progress, and
stays silent otherwise (a log or a pipe gets the summary only)."""

from __future__ import annotations

import asyncio
import os
import re
import sys

import pytest

from tests.chargepoint.csms import TestCsms

LINE = re.compile(r"t=\s*\d+s  connected\s+(\d+)/2  booted\s+(\d+)\s+(\d+) msg/s  errors\s+0")


async def _chargers(url: str, *extra: str, env: dict[str, str]) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "ocpplab_sim", "chargers", "--csms-url", url, "--count", "2",
        "--duration", "2s", *extra,
        env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        stdout, stderr = await asyncio.wait_for(proc.communicate(), 30)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode is not None
    return proc.returncode, stdout.decode(), stderr.decode()


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR", "NO_COLOR")}
    return {**env, **extra}


async def test_not_a_terminal_no_progress() -> None:
    async with TestCsms() as csms:
        code, stdout, stderr = await _chargers(csms.url, env=_env())
    assert code == 0, stdout + stderr
    assert "msg/s" not in stderr + stdout
    assert stderr == ""
    assert stdout.startswith("chargers: 2/2 connected")


@pytest.mark.parametrize(
    ("extra", "env"),
    [((), {"FORCE_COLOR": "1"}), (("--progress",), {}), (("--progress",), {"NO_COLOR": "1"})],
    ids=["FORCE_COLOR", "--progress", "--progress with NO_COLOR"],
)
async def test_forced_progress_prints_counts_and_rate(
    extra: tuple[str, ...], env: dict[str, str]
) -> None:
    async with TestCsms() as csms:
        code, stdout, stderr = await _chargers(csms.url, *extra, env=_env(**env))
    assert code == 0, stdout + stderr
    lines = [LINE.search(line) for line in stderr.splitlines() if "msg/s" in line]
    assert lines, stderr
    assert all(lines), stderr  # every progress line has the counts, the rate and the errors
    last = lines[-1]
    assert last is not None
    assert (last[1], last[2]) == ("2", "2"), stderr  # the fleet is up before the duration runs
    assert "msg/s" not in stdout  # the summary on stdout stays clean
    assert stdout.startswith("chargers: 2/2 connected")
