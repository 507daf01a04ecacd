"""A report given as `-` goes to standard output, and is the only thing there: the console
moves to standard error. `run --json/--junit/--html -`, `load --report -`, `report merge`."""

from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path

import pytest

from tests.e2e.conftest import ROOT, run_cli, urban, write_scenario
from tests.load.test_load_command import load, sink
from tests.load.test_report_merge import shards

STEPS = ["connect: all", "expect_ocpi: {evse: all, status: AVAILABLE}"]


def _html_ok(text: str) -> None:
    parser = HTMLParser()
    parser.feed(text)
    parser.close()
    assert text.lstrip().lower().startswith("<!doctype html>")
    assert text.rstrip().endswith("</html>")
    assert 'class="tick"' in text  # the timelines have their time axis
    assert "Preparing" in text.split('class="legend"', 1)[1].split("</p>", 1)[0]


@pytest.mark.parametrize(
    ("flag", "parse"),
    [
        ("--json", lambda text: json.loads(text)["exit_code"] == 0),
        ("--junit", lambda text: ET.fromstring(text.encode()).find("testsuite") is not None),
        ("--html", lambda text: _html_ok(text) is None),
    ],
)
async def test_run_report_to_stdout_and_console_to_stderr(
    tmp_path: Path, flag: str, parse: object
) -> None:
    scenario = write_scenario(tmp_path, urban(STEPS))
    result = await run_cli("run", scenario, flag, "-", "--no-color")
    assert result.code == 0, result.stdout + result.stderr
    assert callable(parse)
    assert parse(result.stdout), result.stdout[:500]
    assert "✓ provision" in result.stderr
    assert "PASSED" in result.stderr
    assert "▶" not in result.stdout
    assert not (tmp_path / "-").exists()
    assert not (ROOT / "-").exists()


async def test_run_refuses_two_reports_on_stdout(tmp_path: Path) -> None:
    scenario = write_scenario(tmp_path, urban(STEPS))
    result = await run_cli("run", scenario, "--json", "-", "--junit", "-")
    assert result.code == 2, result.stdout + result.stderr
    assert "--junit and --json: only one report can go to standard output" in result.stderr
    assert result.stdout == ""


def test_load_report_to_stdout_and_summary_to_stderr(tmp_path: Path) -> None:
    with sink() as url:
        result = load(
            "--csms-url",
            url,
            "--chargers",
            "5",
            "--shape",
            "steady",
            "--duration",
            "2s",
            "--workers",
            "1",
            "--report",
            "-",
        )
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout)  # one document, nothing else
    assert report["metrics"]["counters"]["connected"] == 5
    assert report["verdict"]["passed"] is True
    assert "✓ PASSED" in result.stderr
    assert not (ROOT / "-").exists()


@pytest.mark.parametrize("output", [[], ["--output", "-"]])
def test_report_merge_without_output_prints_one_json_document(
    tmp_path: Path, output: list[str]
) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "ocpplab_sim", "report", "merge", *shards(tmp_path, 2), *output],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    merged = json.loads(result.stdout)
    assert merged["metrics"]["counters"]["connected"] == 60
    assert merged["shard"]["complete"] is True
    assert "✓ PASSED" in result.stderr
    assert not (tmp_path / "-").exists()


def test_load_html_to_stdout_is_refused_up_front() -> None:
    result = load("--csms-url", "ws://127.0.0.1:9", "--html", "-", timeout=30)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "--html -: the HTML report goes to a file" in result.stderr
    assert result.stdout == ""
