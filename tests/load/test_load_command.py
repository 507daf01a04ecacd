"""`ocpplab-sim load` and `report merge` end to end, against the minimal central system in its own
process on loopback. Runs are small and short (≤ 300 chargers, ≤ 10 s) and stop by themselves."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@contextmanager
def sink(*extra: str) -> Iterator[str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "ocpplab_sim.load.sink", "--heartbeat-interval", "3600", *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.startswith("listening on ws://127.0.0.1:"), line
        yield line.split()[-1]
    finally:
        process.terminate()
        process.wait(timeout=10)
        if process.stdout is not None:
            process.stdout.close()


def load(*args: str | Path, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ocpplab_sim", "load", *(str(a) for a in args)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_a_small_load_run_reports_everything(tmp_path: Path) -> None:
    report, page = tmp_path / "load.json", tmp_path / "load.html"
    with sink() as url:
        result = load(
            "--csms-url",
            url,
            "--chargers",
            "300",
            "--shape",
            "ramp",
            "--duration",
            "8s",
            "--ramp",
            "2s",
            "--workers",
            "2",
            "--ocpp-version",
            "mixed",
            "--session-rate",
            "20",
            "--session-length",
            "2s",
            "--meter-interval",
            "1s",
            "--report",
            report,
            "--html",
            page,
        )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "✓ PASSED" in result.stdout
    data = json.loads(report.read_text())
    counters = data["metrics"]["counters"]
    assert counters["connected"] == 300
    assert counters["unanswered"] == 0
    assert counters["sessions.started"] > 20
    latency = data["metrics"]["latency_s"]
    assert latency["BootNotification"]["count"] == 300
    assert latency["StartTransaction"]["count"] > 0  # the 1.6 half
    assert latency["TransactionEvent"]["count"] > 0  # the 2.0.1 half
    assert data["workers"] == 2
    assert max(point["connected"] for point in data["timeline"]) == 300
    html = page.read_text()
    assert html.count("<polyline") == 5
    assert "BootNotification" in html


def test_shard_reports_merge_to_the_totals_of_one_run(tmp_path: Path) -> None:
    common = [
        "--chargers",
        "120",
        "--shape",
        "steady",
        "--duration",
        "4s",
        "--connectors",
        "2",
        "--workers",
        "1",
    ]
    with sink() as url:
        whole = load("--csms-url", url, *common, "--report", tmp_path / "whole.json")
        shards = [
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "ocpplab_sim",
                    "load",
                    "--csms-url",
                    url,
                    *common,
                    "--shard",
                    f"{i}/3",
                    "--report",
                    str(tmp_path / f"shard{i}.json"),
                    "--quiet",
                ],
                cwd=ROOT,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for i in range(3)
        ]
        for process in shards:
            out, err = process.communicate(timeout=60)
            assert process.returncode == 0, out + err
    assert whole.returncode == 0, whole.stdout + whole.stderr
    merged = subprocess.run(
        [
            sys.executable,
            "-m",
            "ocpplab_sim",
            "report",
            "merge",
            *(str(tmp_path / f"shard{i}.json") for i in range(3)),
            "--output",
            str(tmp_path / "merged.json"),
            "--html",
            str(tmp_path / "merged.html"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert merged.returncode == 0, merged.stdout + merged.stderr
    one = json.loads((tmp_path / "whole.json").read_text())["metrics"]
    many = json.loads((tmp_path / "merged.json").read_text())["metrics"]
    assert many["counters"] == one["counters"]
    counts = {name: lat["count"] for name, lat in one["latency_s"].items()}
    assert counts["BootNotification"] == 120
    assert counts["StatusNotification"] == 120 * 3  # connector 0 and two connectors (OCPP 1.6)
    assert {name: lat["count"] for name, lat in many["latency_s"].items()} == counts
    shard_sizes = [
        json.loads((tmp_path / f"shard{i}.json").read_text())["metrics"]["counters"]["connected"]
        for i in range(3)
    ]
    assert shard_sizes == [40, 40, 40]


def test_a_central_system_that_drops_connections_is_reported_not_fatal(tmp_path: Path) -> None:
    report = tmp_path / "drops.json"
    with sink("--drop-every", "4") as url:
        result = load(
            "--csms-url",
            url,
            "--chargers",
            "50",
            "--shape",
            "steady",
            "--duration",
            "6s",
            "--workers",
            "1",
            "--session-rate",
            "10",
            "--session-length",
            "1s",
            "--meter-interval",
            "1s",
            "--report",
            report,
        )
    assert result.returncode == 1, result.stdout + result.stderr  # errors are the verdict
    assert "✗ ERRORS" in result.stdout
    assert "Traceback" not in result.stderr
    counters = json.loads(report.read_text())["metrics"]["counters"]
    assert counters["connected"] == 50
    assert counters["reconnects"] > 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--csms-url", "http://x"], "must start with ws://"),
        (["--csms-url", "ws://127.0.0.1:9", "--shape", "steady", "--chargers", "0"], "at least 1"),
        (["--csms-url", "ws://127.0.0.1:9", "--shard", "3/3"], "shard"),
    ],
)
def test_bad_arguments_exit_2(args: list[str], message: str) -> None:
    result = load(*args)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr


SCENARIO = """\
name: inline load
topology:
  chargers:
    - {{identity: INL-1, ocpp_version: "1.6", evses: 2}}
    - {{identity: INL-2, ocpp_version: "2.0.1"}}
    - {{identity: INL-3, ocpp_version: "1.6"}}
csms: {{url: "{url}"}}
steps:
  - connect: all
load:
  shape: steady
  duration: 4s
  connect_rate: 100
  sessions: {{rate: 2, length: 1s}}
  faults: {{rate: {fault_rate}, length: 1s, error_code: GroundFailure}}
"""


def test_a_scenario_gives_the_chargers_and_the_load_block_flags_override(tmp_path: Path) -> None:
    with sink() as url:
        scenario = tmp_path / "inline.yaml"
        scenario.write_text(SCENARIO.format(url=url, fault_rate=2), encoding="utf-8")
        report = tmp_path / "inline.json"
        result = load(scenario, "--workers", "1", "--session-rate", "0", "--report", report)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 chargers" in result.stdout and "4s" in result.stdout
    data = json.loads(report.read_text())
    counters = data["metrics"]["counters"]
    assert counters["connected"] == 3
    assert "sessions.started" not in counters  # --session-rate 0 overrode the block's 2/s
    assert counters["faults.injected"] >= 2 and counters["faults.cleared"] >= 1
    assert data["plan"]["fault_code"] == "GroundFailure"
    assert data["plan"]["chargers"] == 3 and data["plan"]["shape"]["kind"] == "Steady"


def test_a_bad_load_block_names_file_line_and_field(tmp_path: Path) -> None:
    scenario = tmp_path / "bad.yaml"
    scenario.write_text(SCENARIO.format(url="ws://127.0.0.1:9", fault_rate=-1), encoding="utf-8")
    result = load(scenario)
    assert result.returncode == 2, result.stdout + result.stderr
    assert f"{scenario}:15:" in result.stderr and "load.faults.rate" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_example_load_scenario_runs_on_the_embedded_gateway(tmp_path: Path) -> None:
    report = tmp_path / "network.json"
    result = load(
        ROOT / "scenarios" / "network-load.yaml",
        "--duration",
        "4s",
        "--workers",
        "1",
        "--report",
        report,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "12 chargers" in result.stdout
    data = json.loads(report.read_text())
    counters = data["metrics"]["counters"]
    assert counters["connected"] == 12 and counters["ocpi.checked"] >= 12
    assert data["plan"]["fault_code"] == "GroundFailure"
