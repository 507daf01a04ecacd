"""Every bad input of `ocpplab-sim load` is answered up front: exit 2, a few lines naming the
problem, no traceback, nothing run. And a run that measured nothing, or whose calls went
unanswered, has failed (exit 1) and says why. Loopback only; each run is bounded and short."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
_SHARD_ENV = ("JOB_COMPLETION_INDEX", "OCPPLAB_SHARD_COUNT", "JOB_COMPLETIONS")
_GATEWAY_ENV = ("OCPPLAB_GATEWAY_URL", "OCPPLAB_TOKEN")


def load(
    *args: str | Path, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if k not in _SHARD_ENV + _GATEWAY_ENV}
    environment.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "ocpplab_sim", "load", *(str(a) for a in args)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=environment,
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


URL = "ws://127.0.0.1:9"  # never reached: every case is refused before anything connects
K8S = {"OCPPLAB_SHARD_COUNT": "4"}

BAD: list[tuple[list[str], dict[str, str], str]] = [
    (["--csms-url", URL, "--duration=-5s"], {}, "cannot be negative"),
    (["--csms-url", URL, "--duration", "-5"], {}, "cannot be negative"),
    (["--csms-url", URL, "--duration", "nan"], {}, "finite"),
    (["--csms-url", URL, "--duration", "inf"], {}, "finite"),
    (["--csms-url", URL, "--duration", ""], {}, "empty duration"),
    (["--csms-url", URL, "--duration", "10x"], {}, "unknown unit 'x'"),
    (["--csms-url", URL, "--duration", "soon"], {}, "not a duration"),
    (["--csms-url", URL, "--duration", "0"], {}, "--duration must be positive"),
    (["--csms-url", URL, "--ramp=-1s"], {}, "cannot be negative"),
    (["--csms-url", URL, "--session-length", "abc"], {}, "not a duration"),
    (["--csms-url", URL, "--meter-interval", "0"], {}, "--meter-interval must be > 0"),
    (["--csms-url", URL, "--workers", "0"], {}, "argument --workers"),
    (["--csms-url", URL, "--workers", "-2"], {}, "argument --workers"),
    (["--csms-url", URL, "--workers", "many"], {}, "argument --workers"),
    (["--csms-url", URL, "--workers", "100000"], {}, "1 to 256"),
    (["--csms-url", URL, "--chargers", "99999999999"], {}, "at most 10,000,000"),
    (["--csms-url", URL, "--connectors", "0"], {}, "argument --connectors: must be at least 1"),
    (["--csms-url", URL, "--connectors", "5000"], {}, "at most 100"),
    (["--csms-url", URL, "--session-rate", "-1"], {}, "argument --session-rate"),
    (["--csms-url", URL, "--fault-rate", "nan"], {}, "finite"),
    (["--csms-url", URL, "--connect-rate", "0"], {}, "must be > 0"),
    (["--csms-url", URL, "--prometheus", "70000"], {}, "at most 65,535"),
    (["--csms-url", URL, "--prometheus", "0.0.0.0:"], {}, "takes [HOST:]PORT"),
    (["--csms-url", URL, "--prometheus", "bad host:9464"], {}, "not an IP address or host name"),
    (["--csms-url", URL, "--pushgateway", "ftp://127.0.0.1:9091"], {}, "takes http(s)://"),
    (["--csms-url", URL, "--pushgateway", "http://127.0.0.1:x"], {}, "--pushgateway"),
    (["--csms-url", URL, "--source-addresses", "-1"], {}, "at least 0"),
    (["--csms-url", URL, "--seed", "x"], {}, "not a whole number"),
    (["--csms-url", URL, "--fault-code", ""], {}, "1 to 50"),
    (["--csms-url", URL, "--ocpi-sample", "-1"], {}, "at least 0"),
    (["--csms-url", "ws://127.0.0.1:99999"], {}, "Port out of range"),
    (["--csms-url", "ws://127.0.0.1:port"], {}, "not a valid URL"),
    (["--csms-url", "ws://:80/ocpp"], {}, "has no host"),
    (["--csms-url", "http://127.0.0.1:9"], {}, "must start with ws:// or wss://"),
    (["--csms-url", "ws://127.0.0.1:9/ocpp?x=1"], {}, "no ?query"),
    (["--csms-url", URL, "--id-prefix", "A/B"], {}, "cannot be in a charger identity"),
    (["--csms-url", URL, "--shard", "1/0"], {}, "--shard"),
    (["--csms-url", URL, "--shard", "a/b"], {}, "--shard takes I/N"),
    (["--csms-url", URL], {"JOB_COMPLETION_INDEX": "abc", **K8S}, "JOB_COMPLETION_INDEX"),
    (["--csms-url", URL], {"JOB_COMPLETION_INDEX": "4", **K8S}, "JOB_COMPLETION_INDEX=4"),
    (["--csms-url", URL], {"JOB_COMPLETION_INDEX": "1", "OCPPLAB_SHARD_COUNT": "x"}, "SHARD_COUNT"),
    (["--csms-url", URL], {"JOB_COMPLETION_INDEX": "0"}, "OCPPLAB_SHARD_COUNT"),
    (["--csms-url", URL, "--report", "no-such-folder/r.json"], {}, "does not exist"),
    (["--csms-url", URL, "--report", "."], {}, "is a folder"),
    (["--csms-url", URL, "--report", "x.json", "--html", "x.json"], {}, "the same file"),
    (["--template", "small-urban-ac", "--csms-url", URL], {}, "exclude each other"),
    (["--csms-url", URL, "--gateway-url", "http://127.0.0.1:9"], {}, "goes with --template"),
    (["--template", "small-urban-ac", "--gateway-url", "gateway"], {}, "--gateway-url"),
    (["--template", "small-urban-ac"], {"OCPPLAB_GATEWAY_URL": "ftp://x"}, "OCPPLAB_GATEWAY_URL"),
    (["--template", "small-urban-ac", "--template-param", "locations"], {}, "NAME=VALUE"),
    ([], {}, "give --csms-url"),
]


@pytest.mark.parametrize(
    ("args", "env", "message"), BAD, ids=[f"{i}:{' '.join(c[0])[-40:]}" for i, c in enumerate(BAD)]
)
def test_a_bad_input_exits_2_with_a_short_clear_message(
    args: list[str], env: dict[str, str], message: str
) -> None:
    result = load(*args, env=env, timeout=30)
    assert result.returncode == 2, result.stdout + result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) <= 3, result.stderr
    assert "▶" not in result.stdout  # refused before anything was provisioned or run


def _report(path: Path) -> dict[str, object]:
    data: dict[str, object] = json.loads(path.read_text())
    return data


def test_nothing_listening_is_a_failed_run_that_says_why(tmp_path: Path) -> None:
    report = tmp_path / "refused.json"
    result = load(
        "--csms-url", f"ws://127.0.0.1:{free_port()}", "--chargers", "5",
        "--duration", "2s", "--workers", "1", "--quiet", "--report", report,
    )  # fmt: skip
    assert result.returncode == 1, result.stdout + result.stderr
    assert "✗ ERRORS: nothing connected" in result.stdout
    assert "errors.connect.CsmsUnreachable" in result.stdout
    assert "Traceback" not in result.stderr and "never retrieved" not in result.stderr
    verdict = _report(report)["verdict"]
    assert verdict["passed"] is False  # type: ignore[index]
    assert verdict["reasons"][0].startswith("nothing connected")  # type: ignore[index]


@contextmanager
def silent_listener() -> Iterator[int]:
    """A TCP port that accepts connections (the kernel's backlog) and never answers."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(64)
        yield sock.getsockname()[1]


def test_a_central_system_that_never_answers_the_handshake_fails_the_run(tmp_path: Path) -> None:
    with silent_listener() as port:
        result = load(
            "--csms-url", f"ws://127.0.0.1:{port}", "--chargers", "5", "--shape", "steady",
            "--duration", "2s", "--workers", "1", "--quiet",
        )  # fmt: skip
    assert result.returncode == 1, result.stdout + result.stderr
    assert "nothing connected (5 still connecting at the stop)" in result.stdout
    assert "✓ PASSED" not in result.stdout
    assert "Traceback" not in result.stderr


def test_a_central_system_that_never_answers_a_call_fails_the_run(tmp_path: Path) -> None:
    """The websocket opens, no BootNotification is ever answered: unanswered, not passed."""
    from websockets.asyncio.server import ServerConnection, serve

    report = tmp_path / "mute.json"

    async def scenario() -> subprocess.CompletedProcess[str]:
        async def ignore(ws: ServerConnection) -> None:
            async for _ in ws:
                pass

        async with serve(ignore, "127.0.0.1", 0, subprotocols=["ocpp1.6"]) as server:  # type: ignore[list-item]
            port = server.sockets[0].getsockname()[1]
            return await asyncio.to_thread(
                load,
                "--csms-url", f"ws://127.0.0.1:{port}", "--chargers", "4", "--shape", "steady",
                "--duration", "3s", "--workers", "1", "--quiet", "--report", report,
            )  # fmt: skip

    result = asyncio.run(scenario())
    assert result.returncode == 1, result.stdout + result.stderr
    assert "4 of 4 call(s) never answered" in result.stdout
    counters = _report(report)["metrics"]["counters"]  # type: ignore[index]
    assert counters["unanswered"] == 4 and counters.get("connected", 0) == 0
    assert "Traceback" not in result.stderr


def test_template_runs_quietly_on_the_embedded_gateway() -> None:
    """No warning of the embedded gateway about the OCPI probe's placeholder eMSP address."""
    result = load(
        "--template", "small-urban-ac", "--duration", "3s", "--workers", "1", "--quiet",
        timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "✓ PASSED" in result.stdout and "CPO 1 deleted" in result.stdout
    assert "versions check failed" not in result.stderr
    assert "Traceback" not in result.stderr
