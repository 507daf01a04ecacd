"""docker/compose.yaml's two services, run as their containers would run them, on loopback.

The gateway service's command and environment (with compose's ``${VAR:-default}``
interpolation) start ``ocpplab-sim gateway serve``; its healthcheck runs as written; then the
harness service's command and environment run the main job against it. Only what a test must
change is changed: the listening address (loopback, a free port instead of 0.0.0.0:8080), the
gateway's host name in the harness's URL, and the volumes (a temporary folder).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from tests.e2e.conftest import ROOT

COMPOSE = ROOT / "docker" / "compose.yaml"


def interpolate(value: str) -> str:
    """Compose's ``${VAR:-default}`` / ``${VAR}`` against this process's environment."""

    def one(match: re.Match[str]) -> str:
        name, default = match[1], match[3] or ""
        return os.environ.get(name) or default

    return re.sub(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(:-([^}]*))?\}", one, value)


def environment(service: dict[str, Any]) -> dict[str, str]:
    return {k: interpolate(str(v)) for k, v in service.get("environment", {}).items()}


def test_the_compose_services_run_the_main_job(tmp_path: Path) -> None:
    services = yaml.safe_load(COMPOSE.read_text())["services"]
    gateway, harness = services["gateway"], services["harness"]
    data = tmp_path / "data"
    data.mkdir()
    command = [str(a) for a in gateway["command"]]
    assert command[:2] == ["gateway", "serve"]
    port = command[command.index("--port") + 1]
    command[command.index("--host") + 1] = "127.0.0.1"  # loopback only, never 0.0.0.0 here
    command[command.index("--port") + 1] = "0"
    command = [a.replace("/data/", f"{data}/") for a in command]
    server = subprocess.Popen(
        [sys.executable, "-m", "ocpplab_sim", *command],
        cwd=ROOT,
        env={**os.environ, **environment(gateway)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stderr is not None
        first = server.stderr.readline()
        match = re.search(r"listening on http://127\.0\.0\.1:(\d+)", first)
        assert match, first
        served = match[1]

        check = [str(a) for a in gateway["healthcheck"]["test"]]
        assert check[0] == "CMD" and check[1] == "python"
        probe = [a.replace(f"127.0.0.1:{port}", f"127.0.0.1:{served}") for a in check[2:]]
        healthy = subprocess.run(
            [sys.executable, *probe], capture_output=True, text=True, timeout=30
        )
        assert healthy.returncode == 0, healthy.stderr

        reports = tmp_path / "reports"
        reports.mkdir()
        volume = next(v for v in harness["volumes"] if v.endswith(":/reports"))
        assert volume.split(":")[0] == "../out"
        env = environment(harness)
        assert env["OCPPLAB_GATEWAY_URL"] == f"http://gateway:{port}"
        env["OCPPLAB_GATEWAY_URL"] = f"http://127.0.0.1:{served}"
        job = [str(a).replace("/reports/", f"{reports}/") for a in harness["command"]]
        result = subprocess.run(
            [sys.executable, "-m", "ocpplab_sim", *job],
            cwd=ROOT,
            env={**os.environ, **env},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        assert f"gateway http://127.0.0.1:{served}" in result.stdout
        assert "<testsuite" in (reports / "urban.xml").read_text()
        assert (reports / "urban.json").read_text().startswith("{")
    finally:
        server.terminate()
        server.wait(timeout=20)
        if server.stderr is not None:
            server.stderr.close()
    assert list(data.glob("gateway.db*"))
