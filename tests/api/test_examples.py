"""Each example of ``examples/`` runs as a user runs it (a subprocess, the embedded gateway on a
loopback port) and prints what docs/python-api.md says it prints."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import ocpplab_sim

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"

EXPECTED = {
    "charge_session.py": [
        r"^CPO \S+: 6 chargers$",
        r"^\S+ \(OCPP 1\.6\) booted; \S+ is AVAILABLE$",
        r"^\S+ is CHARGING$",
        r"^\S+ is AVAILABLE again$",
    ],
    "fleet_and_commands.py": [
        r"^6 chargers online \(OCPP 1\.6, 2\.0\.1\)$",
        r"^\S+ got RequestStartTransaction for EVSE 1: answered \{'status': 'Accepted'\}$",
        r"^\S+ EVSE 1 is Charging$",
    ],
    "run_scenario.py": [
        r"^passed every EVSE AVAILABLE after boot$",
        r"^passed the session shows CHARGING$",
        r"^passed AVAILABLE after the driver leaves$",
        r"^passed: True \(exit code 0: 3 check\(s\) passed\)$",
    ],
}


def test_every_example_is_tested() -> None:
    assert sorted(p.name for p in EXAMPLES.glob("*.py")) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_example_runs_and_prints_what_it_should(name: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OCPPLAB_")}
    # the ocpplab_sim this test imports, whichever checkout that is
    src = str(Path(ocpplab_sim.__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join([src, env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / name)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=90,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == len(EXPECTED[name]), done.stdout
    for line, pattern in zip(lines, EXPECTED[name], strict=True):
        assert re.match(pattern, line), (line, pattern)
    assert done.stderr == ""
