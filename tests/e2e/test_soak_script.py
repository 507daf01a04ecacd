"""``scripts/soak.py`` end to end: the real script, each run the real CLI with its own embedded
gateway; the table, the expect-fail marker, the kept outputs of a failed run, exit codes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.conftest import ROOT, urban, write_scenario

SOAK = ROOT / "scripts" / "soak.py"
FAILING = ROOT / "scenarios" / "failing-example.yaml"
QUICK = ["connect: all", "expect_ocpi: {evse: all, status: AVAILABLE}"]


def soak(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, SOAK, *(str(a) for a in args)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=100,
    )


def table(stdout: str) -> dict[str, list[str]]:
    """The rows of the results table by scenario label: runs, as expected, failed, pass rate."""
    rows: dict[str, list[str]] = {}
    for line in stdout.splitlines():
        words = line.split()
        if len(words) >= 5 and words[-4].isdigit() and words[-1].endswith("%"):
            rows[" ".join(words[:-4])] = words[-4:]
    return rows


def test_a_passing_and_an_expected_failure_exit_0(tmp_path: Path) -> None:
    quick = write_scenario(tmp_path, urban(QUICK), "quick.yaml")
    out = tmp_path / "out"
    result = soak(quick, FAILING, "--runs", "1", "--jobs", "2", "--out", out)
    assert result.returncode == 0, result.stdout + result.stderr
    assert table(result.stdout) == {
        "quick.yaml": ["1", "1", "0", "100%"],
        "failing-example.yaml (expect-fail)": ["1", "1", "0", "100%"],
    }
    assert (
        "failing-example.yaml: expected failing checks: "
        "deliberately wrong: a plugged-in EVSE stays AVAILABLE" in result.stdout
    )
    assert "not as expected" not in result.stdout
    assert "2 run(s) in" in result.stdout
    assert list(out.iterdir()) == []  # nothing to keep: every run ended as expected


def test_an_unexpected_failure_exits_1_naming_the_check_and_keeping_the_run(
    tmp_path: Path,
) -> None:
    wrong = "expect_ocpi: {evse: 0, status: CHARGING, within: 1s}\n    name: wrongly CHARGING"
    scenario = write_scenario(tmp_path, urban(["connect: all", wrong]), "wrong.yaml")
    result = soak(scenario, "--runs", "1", "--out", tmp_path / "out")
    assert result.returncode == 1, result.stdout + result.stderr
    assert table(result.stdout) == {"wrong.yaml": ["1", "0", "1", "0%"]}
    assert "wrong.yaml #1: exit 1: wrongly CHARGING" in result.stdout
    kept = Path(result.stdout.split("kept in ")[1].split()[0])
    assert sorted(p.name for p in kept.iterdir()) == ["report.json", "stderr.txt", "stdout.txt"]
    assert "✗ FAILED" in (kept / "stdout.txt").read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--runs", "0"], "--runs must be positive"),
        (["--jobs", "two"], "invalid int value: 'two'"),
        (["scenarios/no-such.yaml"], "no-such.yaml: no such scenario file"),
    ],
)
def test_bad_arguments_exit_2_without_a_traceback(args: list[str], message: str) -> None:
    result = soak(*args)
    assert result.returncode == 2, result.stdout + result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.stderr
