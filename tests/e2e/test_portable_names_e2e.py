"""Portable names end to end: the same scenario, written without any id the gateway assigns,
runs against a gateway whose CPO ids do not start at 1 — twice, getting a new CPO id each time."""

from __future__ import annotations

import json
from pathlib import Path

from tests.e2e.conftest import TOKEN, Gateway, run_cli, urban, write_scenario

STEPS = [
    "connect: all",
    "expect_ocpi: {evse: all, status: AVAILABLE}",
    "plug_in: {evse: {charger: L2-C3}}",
    "start_charging: {evse: {charger: L2-C3}}",
    "expect_ocpi: {evse: {charger: L2-C3}, status: CHARGING}",
    "expect_ocpi: {evse: {location: Parking Bastille}, status: AVAILABLE}",
    "expect_ocpi: {evse: {location: L1}, status: AVAILABLE}",
    "stop_charging: {evse: {charger: L2-C3}}",
    "unplug: {evse: {charger: L2-C3}}",
    "expect_ocpi: {evse: {location: L2}, status: AVAILABLE}",
]


async def test_a_scenario_with_portable_names_runs_whatever_ids_the_gateway_gives(
    tmp_path: Path, gateway: Gateway
) -> None:
    async with gateway.client() as client:  # CPO ids 1 and 2 are taken (and deleted)
        for _ in range(2):
            body = {
                "template": "small-urban-ac",
                "party": {"country_code": "FR", "party_id": "OLD"},
            }
            cpo = (await client.post("/ocpi/cpos", json=body)).json()
            await client.delete(f"/ocpi/cpos/{cpo['cpo_id']}")
    scenario = write_scenario(tmp_path, urban(STEPS))
    cpo_ids = []
    for n in range(2):
        report = tmp_path / f"run{n}.json"
        result = await run_cli(
            "run", scenario, "--no-color", "--gateway-url", gateway.url, "--token", TOKEN,
            "--json", report,
        )  # fmt: skip
        assert result.code == 0, result.stdout + result.stderr
        assert "charger L2-C3" in result.stdout
        cpo_ids.append(json.loads(report.read_text())["cpo_id"])
    assert "1" not in cpo_ids and len(set(cpo_ids)) == 2, cpo_ids
    async with gateway.client() as client:
        listed = (await client.get("/ocpi/cpos")).json()
    assert len(listed["data"]) == 0  # each run deleted its CPO
