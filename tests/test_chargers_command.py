"""``ocpplab-sim chargers`` against the test central system, over real sockets."""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import signal
import socket
import sys
from pathlib import Path

import pytest

from ocpplab_sim.chargers import add_parser, run_async
from tests.chargepoint.csms import TestCsms
from tests.trace_schema import trace_validator


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_parser(parser.add_subparsers(dest="command"))
    return parser.parse_args(["chargers", *argv])


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@pytest.mark.parametrize("version", ["1.6", "2.0.1"])
async def test_fleet_boots_heartbeats_answers_and_summarises(version: str, tmp_path: Path) -> None:
    trace = tmp_path / "trace.jsonl"
    async with TestCsms() as csms:
        args = parse(
            "--csms-url", csms.url, "--count", "3", "--ocpp-version", version,
            "--connectors", "2", "--id-prefix", "T-", "--trace", str(trace), "--strict",
        )  # fmt: skip
        stop, out = asyncio.Event(), io.StringIO()
        task = asyncio.create_task(run_async(args, stop=stop, out=out))
        # 1 s heartbeat interval from the test central system
        await csms.wait_for(lambda: len(csms.calls("Heartbeat")) >= 3, within_s=5)
        assert sorted(set(csms.connects)) == ["T-0001", "T-0002", "T-0003"]
        server = csms.points["T-0002"]
        if version == "1.6":
            from ocpp.v16 import call as c16

            answer = await server.call(c16.GetConfiguration(key=["NumberOfConnectors"]))
            assert answer.configuration_key[0]["value"] == "2"
        else:
            from ocpp.v201 import call as c201

            answer = await server.call(
                c201.GetBaseReport(request_id=1, report_base="SummaryInventory")
            )
            assert answer.status == "Accepted"
        stop.set()
        assert await task == 0
    text = out.getvalue()
    assert "3/3 connected" in text
    assert "BootNotification" in text and "Heartbeat" in text
    lines = [json.loads(line) for line in trace.read_text().splitlines()]
    validator = trace_validator()
    for line in lines:
        validator.validate(line)
    assert {line["identity"] for line in lines} == {"T-0001", "T-0002", "T-0003"}
    assert any(line["direction"] == "in" for line in lines)


@pytest.mark.parametrize(
    "argv",
    [
        ["--csms-url", "ws://127.0.0.1:1/x", "--count", "0"],
        ["--csms-url", "http://127.0.0.1:1/x"],
        ["--csms-url", "ws://127.0.0.1:1/x", "--cert", "c.pem"],
        ["--csms-url", "ws://127.0.0.1:1/x", "--duration", "-1"],
    ],
)
async def test_bad_input_exits_2(argv: list[str]) -> None:
    assert await run_async(parse(*argv), out=io.StringIO()) == 2


async def test_unreachable_central_system_exits_3() -> None:
    args = parse("--csms-url", f"ws://127.0.0.1:{free_port()}/ocpp", "--count", "2")
    assert await run_async(args, out=io.StringIO()) == 3


async def test_duration_ends_the_run() -> None:
    async with TestCsms() as csms:
        args = parse("--csms-url", csms.url, "--duration", "0.3")
        out = io.StringIO()
        assert await asyncio.wait_for(run_async(args, out=out), 5) == 0
    assert "1/1 connected" in out.getvalue()


async def test_sigterm_stops_the_process_with_a_summary() -> None:
    async with TestCsms() as csms:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "ocpplab_sim.chargers", "--csms-url", csms.url,
            "--count", "2", "--ocpp-version", "2.0.1",
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        try:
            await csms.wait_for(lambda: len(csms.calls("BootNotification")) == 2, within_s=15)
            proc.send_signal(signal.SIGTERM)
            stdout, stderr = await asyncio.wait_for(proc.communicate(), 10)
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
    assert proc.returncode == 130, stderr.decode()
    assert "2/2 connected" in stdout.decode()
    assert "BootNotification" in stdout.decode()


def test_the_main_command_offers_chargers() -> None:
    """`ocpplab-sim chargers` is wired into the main command, with its input checks."""
    import subprocess
    import sys

    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "ocpplab_sim",
            "chargers",
            "--csms-url",
            "http://not-ws",
            "--count",
            "1",
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
