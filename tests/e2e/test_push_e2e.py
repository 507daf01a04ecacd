"""OCPI push end to end: the gateway PATCHes the harness's eMSP receiver, ``expect_push`` checks."""

from __future__ import annotations

from pathlib import Path

from tests.e2e.conftest import run_cli, write_scenario


async def test_pushed_statuses_are_verified(tmp_path: Path) -> None:
    scenario = write_scenario(
        tmp_path,
        "name: push\n"
        "gateway: {template: small-urban-ac, party: {country_code: FR, party_id: PSH}}\n"
        "ocpi: {push: true}\n"
        "settings: {within: 8s, meter_interval: 1s}\n"
        "steps:\n"
        "  - connect: all\n"
        "  - expect_push: {evse: all, status: AVAILABLE}\n"
        "  - start_charging: 0\n"
        "  - expect_push: {evse: 0, status: CHARGING}\n"
        "  - expect_push: {evse: 1, status: CHARGING, within: 1s}\n"
        "    name: deliberately wrong\n",
    )
    result = await run_cli("run", scenario, "--no-color")
    assert result.code == 1, result.stdout + result.stderr
    assert "✗ FAILED: 1 of 3 check(s) failed: deliberately wrong" in result.stdout
    assert "expected a push of CHARGING within 1s; latest" in result.stdout
    assert "=AVAILABLE" in result.stdout
