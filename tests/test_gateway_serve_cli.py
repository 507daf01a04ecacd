"""`ocpplab-sim gateway serve` flags: TLS with a certificate made here, and bad options refused."""

from __future__ import annotations

import re
import signal
import ssl
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.certs import self_signed_certificate


def test_serve_over_tls(tmp_path: Path) -> None:
    cert, key = self_signed_certificate(tmp_path)
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
            "tls-token",
            "--db",
            f"sqlite+aiosqlite:///{tmp_path / 'gw.db'}",
            "--ssl-certfile",
            str(cert),
            "--ssl-keyfile",
            str(key),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stderr is not None
        first = process.stderr.readline()
        match = re.search(r"listening on (https://127\.0\.0\.1:\d+)", first)
        assert match, first
        url = match.group(1)
        with httpx.Client(
            verify=ssl.create_default_context(cafile=str(cert)), timeout=10
        ) as client:
            answer = client.get(f"{url}/ocpi/cpos", headers={"Authorization": "Bearer tls-token"})
        assert answer.status_code == 200
        assert answer.json()["data"] == []
        with pytest.raises(httpx.ConnectError), httpx.Client(timeout=10) as untrusting:
            untrusting.get(f"{url}/ocpi/cpos")
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=20)
        if process.stderr is not None:
            process.stderr.close()
    assert process.returncode == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--ssl-certfile", "cert.pem"], "--ssl-certfile and --ssl-keyfile go together"),
        (["--heartbeat-interval", "0"], "--heartbeat-interval"),
    ],
)
def test_bad_serve_options_exit_2(args: list[str], message: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "ocpplab_sim", "gateway", "serve", "--port", "0", *args],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr
