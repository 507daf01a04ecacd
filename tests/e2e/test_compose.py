"""docker/compose.yaml's two services, run as their containers would run them, on loopback; the
compose file against the Compose Specification, the Dockerfile through hadolint and against what
the image must be (wheels built apart, PostgreSQL support, a non-root user owning /data).

The gateway service's command and environment (with compose's ``${VAR:-default}``
interpolation) start ``ocpplab-sim gateway serve``; its healthcheck runs as written; then the
harness service's command and environment run the main job against it. Only what a test must
change is changed: the listening address (loopback, a free port instead of 0.0.0.0:8080), the
gateway's host name in the harness's URL, and the volumes (a temporary folder).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
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


DOCKER = ROOT / "docker"


def tool(name: str) -> str:
    """A checker installed with the test extras (beside this interpreter), else skip."""
    here = Path(sys.executable).parent / name
    found = str(here) if here.exists() else shutil.which(name)
    if found is None:
        pytest.skip(f"{name} is not installed (pip install -e '.[test]')")
    return found


def dockerfile_stages() -> list[list[str]]:
    """The Dockerfile's instructions (continuation lines joined), split at each FROM."""
    text = re.sub(r"\\\n\s*", " ", (DOCKER / "Dockerfile").read_text())
    lines = [
        ln.strip() for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")
    ]
    stages: list[list[str]] = []
    for line in lines:
        if line.startswith("FROM "):
            stages.append([])
        if stages:
            stages[-1].append(line)
    return stages


def image_user() -> int:
    users = [ln.split()[1] for ln in dockerfile_stages()[-1] if ln.startswith("USER ")]
    assert users, "the runtime stage sets no USER"
    uid = users[-1].split(":")[0]
    assert uid.isdigit(), f"USER {uid}: numeric, so runAsNonRoot can check it"
    return int(uid)


def test_the_compose_file_matches_the_compose_specification() -> None:
    result = subprocess.run(
        [tool("check-jsonschema"), "--builtin-schema", "vendor.compose-spec", str(COMPOSE)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_dockerfile_passes_hadolint() -> None:
    result = subprocess.run(
        [tool("hadolint"), "--no-color", str(DOCKER / "Dockerfile")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == ""  # not even an info


def test_the_image_builds_wheels_apart_and_runs_as_a_non_root_user() -> None:
    build, runtime = dockerfile_stages()
    assert build[0].endswith(" AS build")
    assert any("gcc" in ln and "apt-get install" in ln for ln in build)  # arm64: hdrhistogram
    (wheel,) = [ln for ln in build if "pip wheel" in ln]
    assert '".[postgres]"' in wheel  # asyncpg: gateway serve --db postgresql://
    (install,) = [ln for ln in runtime if "pip install" in ln]
    assert "from=build" in install and "--no-index" in install and "[postgres]" in install
    assert not any("gcc" in ln for ln in runtime)
    assert "uvloop" not in (DOCKER / "Dockerfile").read_text()  # a dependency already
    uid = image_user()
    assert uid >= 1000
    # the data directory is the user's: a named volume mounted there starts out as theirs
    assert f"chown {uid}:{uid} /data" in install
    assert 'VOLUME ["/data"]' in runtime


def test_the_dockerignore_lets_in_exactly_what_the_image_copies() -> None:
    patterns = [
        ln.strip()
        for ln in (ROOT / ".dockerignore").read_text().splitlines()
        if ln.strip() and not ln.startswith("#")
    ]
    assert patterns[0] == "**"  # nothing by default: not .git, .venv, tests, out/, *.db
    allowed = {p[1:].rstrip("/") for p in patterns if p.startswith("!")}
    copied = {
        source.rstrip("/")
        for stage in dockerfile_stages()
        for ln in stage
        if ln.startswith("COPY ") and "--from" not in ln
        for source in ln.split()[1:-1]
    }
    assert copied == allowed, (copied, allowed)


def test_no_service_runs_as_root_and_the_gateway_database_is_on_its_volume() -> None:
    compose = yaml.safe_load(COMPOSE.read_text())
    uid = image_user()
    for name, service in compose["services"].items():
        user = interpolate(str(service.get("user", uid)))
        assert user.split(":")[0] not in ("root", "0"), name
        assert service.get("read_only") is True, name
        assert "/tmp" in service.get("tmpfs", []), name
    gateway = compose["services"]["gateway"]
    assert "user" not in gateway  # the image's own user, whom /data belongs to
    db = gateway["command"][gateway["command"].index("--db") + 1]
    volume, mount = gateway["volumes"][0].split(":")
    assert volume in compose["volumes"]  # a named volume: it takes the image's /data owner
    assert mount == "/data" and db.startswith(f"sqlite+aiosqlite:///{mount}/")
