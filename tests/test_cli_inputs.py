"""Bad input to the command line answered in a line or two, with the right exit code and no
traceback: `run`, `gateway serve`, `schema`, and signals while the command starts."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ocpplab_sim import cli

ROOT = Path(__file__).resolve().parents[1]
URBAN = str(ROOT / "scenarios" / "urban.yaml")


def ocpplab(*args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ocpplab_sim", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
    )


@pytest.fixture(scope="module")
def busy_port() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


BAD_SERVE = [
    (["--port", "70000"], "70000 is not a port"),
    (["--port", "-1"], "-1 is not a port"),
    (["--port", "http"], "'http' is not a port number"),
    (["--host", "999.1.1.1", "--port", "0"], "cannot listen on 999.1.1.1"),
    (["--db", "sqlite:///no/such/folder/x.db"], "the folder no/such/folder"),
    (["--db", "sqlite:////tmp"], "/tmp is a folder"),
    (["--db", "mysql://user@host/db"], "mysql is not supported"),
    (["--db", "notaurl"], "is not a database URL"),
    (["--db", "postgresql://"], "PostgreSQL"),
    (["--db", "postgresql+asyncpg://"], "PostgreSQL"),
    (["--ssl-certfile", "/no/cert.pem", "--ssl-keyfile", "/no/key.pem"], "/no/cert.pem"),
    (["--ssl-certfile", URBAN, "--ssl-keyfile", URBAN], "TLS certificate"),
    (["--ssl-certfile", URBAN], "go together"),
    (["--public-base-url", "notaurl"], "--public-base-url"),
    (["--public-base-url", "ftp://gw.example.test"], "--public-base-url"),
    (["--heartbeat-interval", "0"], "--heartbeat-interval"),
    (["--heartbeat-timeout-factor", "-1"], "--heartbeat-timeout-factor"),
    (["--heartbeat-grace", "-5"], "--heartbeat-grace"),
    (["--host", "0.0.0.0"], "refusing the well-known development token"),
    (["--token", ""], "--token"),
]


@pytest.mark.parametrize(
    ("args", "says"), BAD_SERVE, ids=lambda v: " ".join(v) if isinstance(v, list) else None
)
def test_gateway_serve_refuses_bad_settings_before_it_listens(args: list[str], says: str) -> None:
    result = ocpplab("gateway", "serve", *args)
    assert result.returncode == 2, result.stderr
    assert says in result.stderr
    assert "Traceback" not in result.stderr
    assert "listening on" not in result.stderr
    assert len(result.stderr.strip().splitlines()) <= 12  # usage lines at most


def test_gateway_serve_names_a_port_in_use(busy_port: int) -> None:
    result = ocpplab("gateway", "serve", "--port", str(busy_port), "--token", "t")
    assert result.returncode == 2
    assert f"port {busy_port}: Address already in use" in result.stderr
    assert "Traceback" not in result.stderr


def test_gateway_serve_warns_about_the_development_token_on_loopback(tmp_path: Path) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "ocpplab_sim", "gateway", "serve", "--port", "0",
         "--db", f"sqlite+aiosqlite:///{tmp_path / 'g.db'}"],
        stderr=subprocess.PIPE, text=True, cwd=ROOT,
    )  # fmt: skip
    try:
        assert process.stderr is not None
        first = process.stderr.readline()
        assert "WARNING" in first and "development token" in first
    finally:
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=30)


BAD_RUN = [
    (["--gateway-url", "http://127.0.0.1:99999"], "Port out of range"),
    (["--gateway-url", "http://[::1"], "Invalid IPv6 URL"),
    (["--gateway-url", "ftp://gw.example.test"], "http:// or https://"),
    (["--gateway-url", "notaurl"], "http:// or https://"),
    (["--csms-url", "http://csms.example.test"], "ws:// or wss://"),
    (["--csms-url", "notaurl"], "ws:// or wss://"),
    (["--csms-url", "ws://127.0.0.1:70000"], "Port out of range"),
    (["--json", "/tmp"], "is a folder"),
    (["--junit", "/no/such/folder/r.xml"], "does not exist"),
    (["--html", "/dev/null/x.html"], "does not exist"),
    (["--trace", "/no/such/folder/t.jsonl"], "does not exist"),
    (["--seed", "x"], "invalid int value"),
]


@pytest.mark.parametrize(
    ("args", "says"), BAD_RUN, ids=lambda v: " ".join(v) if isinstance(v, list) else None
)
def test_run_refuses_bad_arguments_up_front(args: list[str], says: str) -> None:
    started = time.monotonic()
    result = ocpplab("run", URBAN, *args)
    assert result.returncode == 2, result.stderr
    assert says in result.stderr
    assert "Traceback" not in result.stderr
    assert time.monotonic() - started < 10  # refused before anything starts


def test_a_bad_gateway_url_in_the_environment_is_named() -> None:
    env_run = subprocess.run(
        [sys.executable, "-m", "ocpplab_sim", "run", URBAN],
        capture_output=True, text=True, timeout=30, cwd=ROOT,
        env={**__import__("os").environ, "OCPPLAB_GATEWAY_URL": "http://[::1"},
    )  # fmt: skip
    assert env_run.returncode == 2
    assert "--gateway-url" in env_run.stderr and "Traceback" not in env_run.stderr


@pytest.mark.parametrize("which", ["scenario", "report"])
def test_schema_into_a_closed_pipe_exits_141_quietly(which: str) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "ocpplab_sim", "schema", which],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT,
    )  # fmt: skip
    assert process.stdout is not None and process.stderr is not None
    # closed before the command writes anything: its first write meets a closed pipe. (Closing
    # after one line, as `| head -1` does, raced: the 9 KB report schema fits in the pipe's
    # buffer and could be written whole, and the command exit 0, before the close.)
    process.stdout.close()
    err = process.stderr.read().decode()
    process.stderr.close()
    assert process.wait(timeout=30) == 141
    assert "Traceback" not in err and "BrokenPipe" not in err


@pytest.mark.parametrize("delay_s", [0.4, 0.8])
def test_ctrl_c_while_starting_is_one_line(delay_s: float) -> None:
    """Through the console script, as a user runs it. The interpreter's own start (about 40 ms
    here, before any code of ours runs) is no place an interrupt can be answered; 0.4 s is ten
    times that and still inside the command's imports. (20 runs in a row once showed an
    interrupt swallowed by the import machinery, the command running on to exit 0: the entry
    point now only notes an interrupt while it imports.)"""
    process = subprocess.Popen(
        [str(Path(sys.executable).parent / "ocpplab-sim"), "run", URBAN, "--no-color"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
    )  # fmt: skip
    time.sleep(delay_s)
    process.send_signal(signal.SIGINT)
    _out, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    assert "Traceback" not in err
    assert "interrupted" in err


def test_an_internal_error_is_one_line_and_its_traceback_waits_for_debug(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def defect(_args: object) -> int:
        raise RuntimeError("a defect")

    monkeypatch.setattr(cli, "_dispatch", defect)
    monkeypatch.delenv("OCPPLAB_DEBUG", raising=False)
    assert cli.main(["validate", URBAN]) == cli.EXIT_INTERNAL
    err = capsys.readouterr().err
    assert "internal error: RuntimeError: a defect" in err and "--debug" in err
    with pytest.raises(RuntimeError, match="a defect"):
        cli.main(["--debug", "validate", URBAN])
    monkeypatch.setenv("OCPPLAB_DEBUG", "1")
    with pytest.raises(RuntimeError, match="a defect"):
        cli.main(["validate", URBAN])


def test_a_run_into_a_closed_pipe_tears_down_and_still_writes_its_report(tmp_path: Path) -> None:
    report = tmp_path / "r.json"
    process = subprocess.Popen(
        [sys.executable, "-m", "ocpplab_sim", "run", URBAN, "--no-color", "--json", str(report)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT,
    )  # fmt: skip
    assert process.stdout is not None and process.stderr is not None
    process.stdout.readline()
    process.stdout.close()  # as `| head -1` does
    err = process.stderr.read().decode()
    process.stderr.close()
    assert process.wait(timeout=90) == 141, err
    assert "Traceback" not in err and "BrokenPipe" not in err
    written = json.loads(report.read_text(encoding="utf-8"))
    assert written["verdict"].startswith("interrupted")
    assert (written["phases"][-1]["phase"], written["phases"][-1]["outcome"]) == (
        "teardown",
        "passed",
    )
