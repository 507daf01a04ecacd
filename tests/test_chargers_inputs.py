"""Every bad input of `ocpplab-sim chargers` is answered up front (exit 2, a few lines, no
traceback); SIGINT and SIGTERM end it with its summary (exit 130), a closed standard output with
141, and a central system that never lets a charger boot cannot hold it past `--duration`.
Loopback only; every run is bounded and stops by itself."""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.load.test_load_command import sink

ROOT = Path(__file__).resolve().parents[1]
URL = "ws://127.0.0.1:9/ocpp"  # never reached: every case is refused before anything connects


def chargers(*args: str | Path, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ocpplab_sim", "chargers", *(str(a) for a in args)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def _not_pem(tmp: Path) -> str:
    path = tmp / "not.pem"
    path.write_text("NOT_PEM\n")
    return str(path)


# (arguments, message); "{tmp}" and "{not_pem}" are filled in per test
BAD: list[tuple[list[str], str]] = [
    (["--csms-url", "ws://127.0.0.1:99999"], "Port out of range"),
    (["--csms-url", "ws://127.0.0.1:port/ocpp"], "not a valid URL"),
    (["--csms-url", "ws://"], "has no host"),
    (["--csms-url", "http://127.0.0.1:9"], "must start with ws:// or wss://"),
    (["--csms-url", "ws://127.0.0.1:9/ocpp#x"], "no ?query or #fragment"),
    (["--csms-url", URL, "--duration", "nan"], "finite"),
    (["--csms-url", URL, "--duration", "inf"], "finite"),
    (["--csms-url", URL, "--duration=-5s"], "--duration must be > 0"),
    (["--csms-url", URL, "--duration", "0"], "--duration must be > 0"),
    (["--csms-url", URL, "--duration", "10 minutes"], "unknown unit 'minutes'"),
    (["--csms-url", URL, "--duration", "later"], "not a duration"),
    (["--csms-url", URL, "--count", "0"], "--count must be from 1"),
    (["--csms-url", URL, "--count", "5000000"], "--count must be from 1"),
    (["--csms-url", URL, "--count", "many"], "argument --count"),
    (["--csms-url", URL, "--connectors", "0"], "--connectors must be from 1"),
    (["--csms-url", URL, "--id-prefix", "CP/"], "cannot be in a charger identity"),
    (["--csms-url", "wss://127.0.0.1:9", "--ca", "{not_pem}"], "not a usable PEM"),
    (["--csms-url", "wss://127.0.0.1:9", "--ca", "{tmp}/missing.pem"], "no such file"),
    (["--csms-url", URL, "--ca", "{not_pem}"], "need a wss:// URL"),
    (
        ["--csms-url", "wss://127.0.0.1:9", "--cert", "{not_pem}", "--key", "{not_pem}"],
        "not a usable PEM",
    ),
    (["--csms-url", "wss://127.0.0.1:9", "--cert", "{not_pem}"], "--cert and --key go together"),
    (["--csms-url", URL, "--trace", "{tmp}"], "is a folder"),
    (["--csms-url", URL, "--trace", "{tmp}/no/such/trace.jsonl"], "does not exist"),
    (["--csms-url", URL, "--ocpp-version", "3.0"], "invalid choice"),
]


@pytest.mark.parametrize(
    ("args", "message"), BAD, ids=[f"{i}:{' '.join(c[0])[-40:]}" for i, c in enumerate(BAD)]
)
def test_a_bad_input_exits_2_with_a_short_clear_message(
    args: list[str], message: str, tmp_path: Path
) -> None:
    filled = [a.format(tmp=tmp_path, not_pem=_not_pem(tmp_path)) for a in args]
    result = chargers(*filled)
    assert result.returncode == 2, result.stdout + result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) <= 3, result.stderr


@pytest.mark.parametrize(
    ("text", "seconds"), [("10m", 600.0), ("500ms", 0.5), ("2.5", 2.5), ("1h", 3600.0)]
)
def test_the_duration_takes_the_one_grammar(text: str, seconds: float) -> None:
    from ocpplab_sim.chargers import add_parser

    parser = argparse.ArgumentParser()
    add_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["chargers", "--csms-url", URL, "--duration", text])
    assert args.duration == seconds


def test_nothing_listening_exits_3_without_a_traceback() -> None:
    result = chargers("--csms-url", f"ws://127.0.0.1:{free_port()}/ocpp", "--duration", "10m")
    assert result.returncode == 3, result.stdout + result.stderr
    assert "central system unreachable" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_central_system_that_never_answers_the_boot_cannot_outlast_the_duration() -> None:
    from websockets.asyncio.server import ServerConnection, serve

    async def scenario() -> tuple[subprocess.CompletedProcess[str], float]:
        async def ignore(ws: ServerConnection) -> None:
            async for _ in ws:
                pass

        async with serve(ignore, "127.0.0.1", 0, subprotocols=["ocpp1.6"]) as server:  # type: ignore[list-item]
            port = server.sockets[0].getsockname()[1]
            began = time.monotonic()
            result = await asyncio.to_thread(
                chargers, "--csms-url", f"ws://127.0.0.1:{port}", "--count", "2",
                "--duration", "2s",
            )  # fmt: skip
            return result, time.monotonic() - began

    result, took = asyncio.run(scenario())
    assert result.returncode == 3, result.stdout + result.stderr
    assert took < 20
    assert "0/2 booted" in result.stderr
    assert "BootNotification" in result.stdout  # the summary still comes
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_signal_ends_the_run_with_its_summary_and_exit_130(signum: int) -> None:
    with sink() as url:
        process = subprocess.Popen(
            [sys.executable, "-m", "ocpplab_sim", "chargers", "--csms-url", url, "--count", "3",
             "--control-port", "0"],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        try:
            # started and booted, as the fleet itself says (no guess at how long a busy machine
            # takes to start Python): its control API reports 3 connected
            assert process.stderr is not None
            first = process.stderr.readline()
            control = first.split(" at ", 1)[1].split("/ ", 1)[0]
            deadline = time.monotonic() + 60
            while httpx.get(f"{control}/health", timeout=10).json()["connected"] < 3:
                assert time.monotonic() < deadline, "the fleet did not connect"
                time.sleep(0.05)
            began = time.monotonic()
            process.send_signal(signum)
            out, err = process.communicate(timeout=30)
            err = first + err
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
    assert process.returncode == 130, out + err
    assert time.monotonic() - began < 15
    assert "3/3 connected" in out and "BootNotification" in out
    assert f"{signal.Signals(signum).name}: stopping" in err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err


def test_a_closed_standard_output_exits_141_without_a_traceback() -> None:
    with sink() as url:
        read_end, write_end = os.pipe()
        os.close(read_end)  # nobody will read the summary
        try:
            result = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "ocpplab_sim",
                    "chargers",
                    "--csms-url",
                    url,
                    "--count",
                    "2",
                    "--duration",
                    "1s",
                ],
                cwd=ROOT,
                stdout=write_end,
                stderr=subprocess.PIPE,
                text=True,
                timeout=30,
            )
        finally:
            os.close(write_end)
    assert result.returncode == 141, result.stderr
    assert "Traceback" not in result.stderr and "BrokenPipe" not in result.stderr
