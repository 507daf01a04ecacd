"""`ocpplab-sim run` end to end: verdicts, exit codes, reports and teardown, as a user sees them."""

from __future__ import annotations

import json
import signal
import socket
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tests.e2e.conftest import ROOT, Gateway, run_cli, urban, write_scenario


async def assert_torn_down(gateway: Gateway, report: Path) -> None:
    """The run's CPO is deleted and no charger of it is still connected."""
    cpo_id = json.loads(report.read_text())["cpo_id"]
    assert cpo_id, "the run created a CPO"
    async with gateway.client() as client:
        status = (await client.get(f"/ocpi/cpos/{cpo_id}/status")).json()
        assert status["status"] == "deleted", status
        live = (await client.get("/ocpi/cpos")).json()
    assert cpo_id not in [cpo["cpo_id"] for cpo in live["data"]]


async def test_urban_scenario_passes_on_the_embedded_gateway(tmp_path: Path) -> None:
    junit, report = tmp_path / "urban.xml", tmp_path / "urban.json"
    result = await run_cli(
        "run", "scenarios/urban.yaml", "--junit", junit, "--json", report, "--no-color"
    )
    assert result.code == 0, result.stdout + result.stderr
    assert "✓ provision" in result.stdout
    assert "PASSED" in result.stdout.splitlines()[-1]
    suite = ET.parse(junit).getroot().find("testsuite")
    assert suite is not None
    assert suite.get("failures") == "0"
    assert suite.get("errors") == "0"
    names = [case.get("name") for case in suite.iter("testcase")]
    assert "session on the first EVSE shows CHARGING" in names
    assert len(names) == 6
    data = json.loads(report.read_text())
    assert data["exit_code"] == 0
    assert data["ocpi_latency_s"]["count"] >= 6
    assert data["phases"][-1]["phase"] == "teardown"
    assert data["phases"][-1]["outcome"] == "passed"


async def test_highway_scenario_passes_on_the_embedded_gateway() -> None:
    result = await run_cli("run", "scenarios/highway.yaml", "--no-color", "--strict")
    assert result.code == 0, result.stdout + result.stderr


async def test_a_wrong_expectation_exits_1_naming_the_check(
    tmp_path: Path, gateway: Gateway
) -> None:
    scenario = write_scenario(
        tmp_path,
        urban(
            [
                "connect: all",
                "expect_ocpi: {evse: 0, status: CHARGING, within: 2s}\n    name: wrongly expects CHARGING",
            ]
        ),
    )
    junit, report = tmp_path / "out.xml", tmp_path / "out.json"
    result = await run_cli(
        "run",
        scenario,
        "--gateway-url",
        gateway.url,
        "--token",
        gateway.token,
        "--junit",
        junit,
        "--json",
        report,
    )
    assert result.code == 1, result.stdout + result.stderr
    assert "✗ step 2: wrongly expects CHARGING" in result.stdout
    assert "expected CHARGING within 2s; still" in result.stdout
    assert "=AVAILABLE" in result.stdout
    failures = [
        case
        for case in ET.parse(junit).getroot().iter("testcase")
        if case.find("failure") is not None
    ]
    assert [case.get("name") for case in failures] == ["wrongly expects CHARGING"]
    # the failure did not skip teardown
    await assert_torn_down(gateway, report)


async def test_an_invalid_scenario_exits_2_with_file_line_and_field(tmp_path: Path) -> None:
    scenario = write_scenario(
        tmp_path, urban(["connect: all", "expect_ocpi: {evse: 0, status: CHARGNG}"])
    )
    result = await run_cli("run", scenario)
    assert result.code == 2
    assert f"{scenario}:8:36: steps[1].expect_ocpi.status: Input should be" in result.stderr
    assert "Traceback" not in result.stderr


async def test_a_selector_outside_the_topology_exits_2(tmp_path: Path, gateway: Gateway) -> None:
    scenario = write_scenario(tmp_path, urban(["connect: all", "plug_in: 42"]))
    result = await run_cli("run", scenario, "--gateway-url", gateway.url, "--token", gateway.token)
    assert result.code == 2, result.stdout + result.stderr
    assert "index 42 is out of range: the topology has 6 EVSEs" in result.stdout


async def test_a_gateway_where_nothing_listens_exits_3() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = await run_cli(
        "run", "scenarios/urban.yaml", "--gateway-url", f"http://127.0.0.1:{port}", "--token", "x"
    )
    assert result.code == 3, result.stdout + result.stderr
    assert f"127.0.0.1:{port}" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr


async def test_a_wrong_token_exits_3(gateway: Gateway) -> None:
    result = await run_cli(
        "run", "scenarios/urban.yaml", "--gateway-url", gateway.url, "--token", "wrong"
    )
    assert result.code == 3, result.stdout + result.stderr
    assert "401" in result.stdout


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
async def test_a_signal_mid_run_still_tears_down(
    tmp_path: Path, gateway: Gateway, signum: signal.Signals
) -> None:
    scenario = write_scenario(
        tmp_path,
        urban(["connect: all", "start_charging: 0", "wait: 60s\n    name: long wait", "unplug: 0"]),
    )
    report = tmp_path / "out.json"
    result = await run_cli(
        "run",
        scenario,
        "--gateway-url",
        gateway.url,
        "--token",
        gateway.token,
        "--no-color",
        "--json",
        report,
        interrupt_after="step 2: start_charging",
        interrupt_with=signum,
        limit_s=40,
    )
    assert result.code == 130, result.stdout + result.stderr
    assert "✓ teardown" in result.stdout
    assert "Traceback" not in result.stderr
    await assert_torn_down(gateway, report)


async def test_validate_lists_every_problem(tmp_path: Path) -> None:
    bad = write_scenario(tmp_path, urban(["plugin: 0", "wait: soon"]), "bad.yaml")
    result = await run_cli("validate", ROOT / "scenarios" / "urban.yaml", bad)
    assert result.code == 2
    assert "urban.yaml: ok" in result.stdout
    assert f"{bad}:7:5: steps[0].plugin: unknown action" in result.stderr
    assert f"{bad}:8:11: steps[1].wait: expected a duration" in result.stderr
