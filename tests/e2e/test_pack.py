"""Every scenario of the pack in ``scenarios/`` against the reference gateway, through the real CLI.

The scenarios run at once, each in its own ``ocpplab-sim run`` process with its own embedded
gateway, so the whole pack takes about as long as its slowest scenario.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from tests.e2e.conftest import ROOT, CliResult, run_cli

PACK = ROOT / "scenarios"
FAILING = "failing-example.yaml"
EXPECTED = {
    "urban.yaml",
    "highway.yaml",
    "mixed-fleet.yaml",
    "faults.yaml",
    "availability.yaml",
    "reservation.yaml",
    "offline-recovery.yaml",
    "remote-start-stop.yaml",
    "network-load.yaml",
    FAILING,
}


async def test_every_pack_scenario_passes_and_the_failing_example_fails(tmp_path: Path) -> None:
    files = sorted(PACK.glob("*.yaml"))
    assert {f.name for f in files} >= EXPECTED
    results: list[CliResult] = await asyncio.gather(
        *(
            run_cli("run", f, "--no-color", "--junit", tmp_path / f"{f.stem}.xml", limit_s=80)
            for f in files
        )
    )
    outcomes = {f.name: r for f, r in zip(files, results, strict=True)}
    for name, result in outcomes.items():
        if name == FAILING:
            continue
        assert result.code == 0, f"{name}:\n{result.stdout}\n{result.stderr}"
        assert "✓ PASSED" in result.stdout
    failing = outcomes[FAILING]
    assert failing.code == 1, failing.stdout + failing.stderr
    assert "✗ FAILED: 1 of 2 check(s) failed: deliberately wrong" in failing.stdout
    assert "expected AVAILABLE within 2s; still" in failing.stdout
    assert "=CHARGING" in failing.stdout
    assert "StatusNotification" in failing.stdout and '"status": "Preparing"' in failing.stdout
    junit = (tmp_path / "failing-example.xml").read_text(encoding="utf-8")
    assert "<failure" in junit


async def test_the_pack_validates(tmp_path: Path) -> None:
    result = await run_cli("validate", *sorted(PACK.glob("*.yaml")))
    assert result.code == 0, result.stdout + result.stderr
