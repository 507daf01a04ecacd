"""End to end: the structured language, the inline topology against a central system without
provisioning, and the report files (HTML, trace, JSON) of a failing run."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from tests.e2e.conftest import Gateway, run_cli, urban, write_scenario
from tests.trace_schema import trace_validator


async def _provision(gateway: Gateway) -> tuple[str, list[str]]:
    """A ready small-urban-ac CPO: its id and its chargers' identities."""
    async with gateway.client() as client:
        body = {"template": "small-urban-ac", "party": {"country_code": "FR", "party_id": "INL"}}
        cpo = (await client.post("/ocpi/cpos", json=body)).json()
        cpo_id = cpo["cpo_id"]
        for _ in range(200):
            status = (await client.get(f"/ocpi/cpos/{cpo_id}/status")).json()["status"]
            if status == "ready":
                break
            await asyncio.sleep(0.05)
        locations = (await client.get(f"/ocpi/cpos/{cpo_id}/locations")).json()["data"]
    identities = [charger["identity"] for loc in locations for charger in loc["chargers"]]
    return cpo_id, identities


async def test_an_inline_topology_runs_against_a_central_system(
    tmp_path: Path, gateway: Gateway
) -> None:
    cpo_id, identities = await _provision(gateway)
    chargers = "".join(
        f'    - {{identity: {identity}, ocpp_version: "1.6"}}\n' for identity in identities[:2]
    )
    csms = gateway.url.replace("http://", "ws://") + "/ocpp"
    scenario = write_scenario(
        tmp_path,
        "name: inline\n"
        f"topology:\n  chargers:\n{chargers}"
        f"csms: {{url: {csms}}}\n"
        "settings: {meter_interval: 1s}\n"
        "setup: [{connect: all}]\n"
        "phases:\n"
        "  - name: sessions\n"
        "    steps:\n"
        "      - each:\n"
        "          evse: all\n"
        "          steps:\n"
        "            - start_charging: ${evse}\n"
        "            - stop_charging: ${evse}\n"
        "teardown: [{disconnect: all}]\n",
    )
    trace = tmp_path / "trace.jsonl"
    result = await run_cli("run", scenario, "--no-color", "--trace", trace)
    assert result.code == 0, result.stdout + result.stderr
    assert "provision" not in result.stdout  # nothing provisioned, no gateway started
    assert f"start_charging evse_uid {identities[1]}-1 [evse {identities[1]}-1]" in result.stdout
    frames = [json.loads(line) for line in trace.read_text().splitlines()]
    validator = trace_validator()  # the one trace format, as `chargers --trace` writes it
    for frame in frames:
        validator.validate(frame)
    actions = {frame["message"][2] for frame in frames if frame["message"][0] == 2}
    assert {
        "BootNotification",
        "StatusNotification",
        "StartTransaction",
        "StopTransaction",
    } <= actions
    async with gateway.client() as client:
        report = (await client.get(f"/ocpi/cpos/{cpo_id}/report")).json()
    assert len(report["transactions"]) == 2


async def test_a_failed_check_is_explained_in_console_html_and_json(
    tmp_path: Path, gateway: Gateway
) -> None:
    scenario = write_scenario(
        tmp_path,
        urban(
            [
                "connect: all",
                "expect_ocpi: {evse: all, status: AVAILABLE, stays: 1s, within: 10s}\n    name: stays AVAILABLE",
                "expect_ocpi: {evse: 0, status: AVAILABLE, connector: {standard: IEC_62196_T2, power_type: AC_3_PHASE}}",
                "expect_ocpi: {evse: 0, status: CHARGING, within: 1s}\n    name: wrongly expects CHARGING",
            ]
        ),
    )
    html, report = tmp_path / "r.html", tmp_path / "r.json"
    result = await run_cli(
        "run",
        scenario,
        "--gateway-url",
        gateway.url,
        "--token",
        gateway.token,
        "--no-color",
        "--html",
        html,
        "--json",
        report,
    )
    assert result.code == 1, result.stdout + result.stderr
    assert "✓ step 2: stays AVAILABLE" in result.stdout
    assert "expected CHARGING, saw AVAILABLE" in result.stdout
    assert "→ StatusNotification" in result.stdout  # the OCPP messages that led there
    data = json.loads(report.read_text())
    failed = [c for c in data["checks"] if c["outcome"] == "failed"]
    assert [c["name"] for c in failed] == ["wrongly expects CHARGING"]
    assert any(
        "StatusNotification" in line
        for lines in failed[0]["ocpp_messages"].values()
        for line in lines
    )
    assert {c["source"] for c in data["timeline"]} == {"ocpp", "ocpi"}
    page = html.read_text()
    assert page.count('<svg class="evse"') == 6
    assert "wrongly expects CHARGING" in page


async def test_schema_command_prints_the_scenario_schema() -> None:
    result = await run_cli("schema")
    assert result.code == 0, result.stderr
    schema = json.loads(result.stdout)
    assert schema["title"] == "ocpplab-sim scenario"
    report = json.loads((await run_cli("schema", "report")).stdout)
    assert report["properties"]["report_version"]["const"] == 2
