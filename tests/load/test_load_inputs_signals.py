"""`ocpplab-sim load` answers SIGINT, SIGTERM and a closed standard output: the run stops
promptly (workers too), the summary and the report of what was measured are written and marked
interrupted, a provisioned CPO is deleted, and the exit code says what happened (130, 141).
Against the loopback sink or a loopback gateway; every run is bounded and stops by itself."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import httpx
import pytest

from tests.load.test_load_command import sink

ROOT = Path(__file__).resolve().parents[2]
STOP_WITHIN_S = 25.0  # the wind-down after an interrupt is bounded by 10 s; a slow CI machine


def start(*args: str | Path, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    environment = {
        k: v
        for k, v in os.environ.items()
        if k not in {"JOB_COMPLETION_INDEX", "OCPPLAB_SHARD_COUNT", "OCPPLAB_GATEWAY_URL"}
    }
    environment.update(env or {})
    return subprocess.Popen(
        [sys.executable, "-m", "ocpplab_sim", "load", *(str(a) for a in args)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=environment,
    )


def wait_for_line(stream: IO[str], prefix: str, within_s: float = 60) -> list[str]:
    """Lines read until one starts with ``prefix`` (the run's progress says where it is)."""
    deadline = time.monotonic() + within_s
    lines: list[str] = []
    while time.monotonic() < deadline:
        line = stream.readline()
        if not line:
            break
        lines.append(line)
        if line.lstrip().startswith(prefix):
            return lines
    raise AssertionError(f"no line starting with {prefix!r}: {lines}")


def stopped(process: subprocess.Popen[str], signum: int) -> tuple[str, str, float]:
    began = time.monotonic()
    process.send_signal(signum)
    try:
        out, err = process.communicate(timeout=STOP_WITHIN_S + 30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    return out, err, time.monotonic() - began


def read(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def test_sigint_stops_the_run_and_writes_the_report_marked_interrupted(tmp_path: Path) -> None:
    report, page = tmp_path / "int.json", tmp_path / "int.html"
    with sink() as url:
        process = start(
            "--csms-url", url, "--chargers", "40", "--shape", "steady", "--duration", "120s",
            "--workers", "1", "--report", report, "--html", page,
        )  # fmt: skip
        assert process.stdout is not None
        wait_for_line(process.stdout, "t=")  # chargers are up and the run is measuring
        out, err, took = stopped(process, signal.SIGINT)
    assert process.returncode == 130, out + err
    assert took < STOP_WITHIN_S
    assert "Traceback" not in err and "KeyboardInterrupt" not in err
    assert "SIGINT: stopping" in err
    assert "✗ INTERRUPTED: interrupted by SIGINT" in out and "calls sent:" in out
    data = read(report)
    assert data["interrupted"]["reason"] == "SIGINT" and data["interrupted"]["exit_code"] == 130
    assert data["verdict"]["passed"] is False
    counters = data["metrics"]["counters"]
    assert counters["interrupted"] == 1 and counters["connected"] > 0
    assert data["metrics"]["latency_s"]["BootNotification"]["count"] > 0
    assert data["duration_s"] < 60  # stopped, not run to the end of the shape
    assert page.read_text().count("<polyline") >= 1


def test_sigterm_stops_a_kubernetes_shard_with_its_workers(tmp_path: Path) -> None:
    """An Indexed Job's pod gets SIGTERM: the shard's report is still written for the merge."""
    report = tmp_path / "shard-1.json"
    with sink() as url:
        process = start(
            "--csms-url", url, "--chargers", "60", "--shape", "steady", "--duration", "120s",
            "--workers", "2", "--quiet", "--report", report,
            env={"JOB_COMPLETION_INDEX": "1", "OCPPLAB_SHARD_COUNT": "2"},
        )  # fmt: skip
        assert process.stdout is not None
        wait_for_line(process.stdout, "▶ load:")
        time.sleep(4)  # the worker processes start and connect their chargers
        out, err, took = stopped(process, signal.SIGTERM)
    assert process.returncode == 130, out + err
    assert took < STOP_WITHIN_S
    assert "Traceback" not in err
    data = read(report)
    assert data["interrupted"]["reason"] == "SIGTERM"
    assert data["shard"] == {"index": 1, "count": 2}
    assert data["workers"] == 2 and "worker_failures" not in data
    assert data["metrics"]["counters"]["interrupted"] == 1


def test_a_closed_standard_output_stops_the_run_quietly(tmp_path: Path) -> None:
    """`ocpplab-sim load … | head -1`: no BrokenPipeError, the report is written, exit 141."""
    report = tmp_path / "pipe.json"
    with sink() as url:
        process = start(
            "--csms-url", url, "--chargers", "10", "--duration", "120s", "--workers", "1",
            "--report", report,
        )  # fmt: skip
        assert process.stdout is not None and process.stderr is not None
        first = process.stdout.readline()
        process.stdout.close()  # what `head -1` does after its line
        began = time.monotonic()
        try:
            err = process.stderr.read()
            process.wait(timeout=STOP_WITHIN_S + 30)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
            process.stderr.close()
    assert first.startswith("▶ load:")
    assert process.returncode == 141, err
    assert time.monotonic() - began < STOP_WITHIN_S
    assert "Traceback" not in err and "BrokenPipe" not in err
    assert read(report)["interrupted"]["reason"] == "closed standard output"


@contextmanager
def gateway(tmp_path: Path, token: str) -> Iterator[str]:
    """The reference gateway in its own process on a loopback port."""
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ocpplab_sim",
            "gateway",
            "serve",
            "--port",
            "0",
            "--token",
            token,
            "--db",
            f"sqlite+aiosqlite:///{tmp_path / 'gw.db'}",
        ],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stderr is not None
        match = re.search(r"listening on (http://127\.0\.0\.1:\d+)", process.stderr.readline())
        assert match
        yield match.group(1)
    finally:
        process.terminate()
        process.wait(timeout=20)
        if process.stderr is not None:
            process.stderr.close()


def test_sigint_during_a_template_run_deletes_the_cpo_on_the_gateway_of_the_environment(
    tmp_path: Path,
) -> None:
    """`load --template` takes OCPPLAB_GATEWAY_URL / OCPPLAB_TOKEN as `run` does; interrupted,
    it still deletes the CPO it provisioned there."""
    report = tmp_path / "template.json"
    with gateway(tmp_path, "env-token") as url:
        process = start(
            "--template", "small-urban-ac", "--duration", "120s", "--workers", "1",
            "--report", report,
            env={"OCPPLAB_GATEWAY_URL": url, "OCPPLAB_TOKEN": "env-token"},
        )  # fmt: skip
        assert process.stdout is not None
        lines = wait_for_line(process.stdout, "t=", within_s=90)
        out, err, took = stopped(process, signal.SIGINT)
        answer = httpx.get(
            f"{url}/ocpi/cpos", headers={"Authorization": "Bearer env-token"}, timeout=10
        )
    out = "".join(lines) + out
    assert process.returncode == 130, out + err
    assert took < STOP_WITHIN_S
    assert f"at ws://127.0.0.1:{url.rsplit(':', 1)[1]}" in out  # the gateway of the environment
    assert re.search(r"CPO \S+ deleted", out)
    assert answer.status_code == 200 and answer.json()["data"] == []
    assert "Traceback" not in err
    assert read(report)["interrupted"]["reason"] == "SIGINT"


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_an_interrupt_while_provisioning_ends_cleanly_with_a_report(
    tmp_path: Path, signum: int
) -> None:
    report = tmp_path / "early.json"
    process = start("--template", "small-urban-ac", "--duration", "120s", "--report", report)
    assert process.stdout is not None
    wait_for_line(process.stdout, "▶ provisioning")
    out, err, took = stopped(process, signum)
    assert process.returncode == 130, out + err
    assert took < STOP_WITHIN_S
    assert "Traceback" not in err and "CancelledError" not in err
    assert read(report)["interrupted"]["reason"] == signal.Signals(signum).name
