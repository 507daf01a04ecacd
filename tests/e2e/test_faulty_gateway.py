"""The harness catches a gateway that maps a status wrongly, or publishes it too late."""

from __future__ import annotations

from pathlib import Path

from tests.e2e.conftest import TOKEN, Gateway, run_cli, write_scenario
from tests.e2e.faulty_gateway import faulty_gateway


def _scenario(steps: str) -> str:
    return (
        "name: faulty gateway\n"
        "gateway:\n"
        "  template: small-urban-ac\n"
        "  party: {country_code: FR, party_id: FGW}\n"
        "settings: {within: 5s, meter_interval: 1s}\n"
        "steps:\n" + steps
    )


async def _run(gateway: Gateway, proxy: str, scenario: Path) -> tuple[int, str]:
    csms = gateway.url.replace("http://", "ws://") + "/ocpp"
    result = await run_cli(
        "run", scenario, "--no-color", "--gateway-url", proxy, "--token", TOKEN, "--csms-url", csms
    )
    return result.code, result.stdout + result.stderr


async def test_a_gateway_mapping_with_another_profile_is_caught(
    tmp_path: Path, gateway: Gateway
) -> None:
    scenario = write_scenario(
        tmp_path,
        _scenario(
            "  - connect: all\n"
            "  - expect_ocpi: {evse: all, status: AVAILABLE}\n"
            "  - plug_in: 0\n"
            "  - inject_fault: 1\n"
            "  - expect_ocpi: {evse: 0, status_of_ocpp: Preparing, within: 2s}\n"
            "    name: plugged in\n"
            "  - expect_ocpi: {evse: 1, status_of_ocpp: Faulted, within: 2s}\n"
            "    name: faulted\n"
        ),
    )
    # The scenario assumes the default profile; the proxy creates the CPO with evserver.
    async with faulty_gateway(gateway.url, profile="evserver") as proxy:
        code, out = await _run(gateway, proxy, scenario)
    assert code == 1, out
    assert "✗ FAILED: 2 of 3 check(s) failed: plugged in" in out
    assert "expected CHARGING within 2s; still" in out and "=AVAILABLE" in out
    assert "CHARGING is what mapping profile default publishes for OCPP Preparing" in out
    assert "AVAILABLE for OCPP Preparing matches profile(s) evserver, greenflux" in out
    assert "OUTOFORDER is what mapping profile default publishes for OCPP Faulted" in out
    assert "INOPERATIVE for OCPP Faulted matches profile(s) evserver" in out
    assert '"status": "Preparing"' in out  # the OCPP messages that led there


async def test_the_same_scenario_passes_when_it_names_the_profile(
    tmp_path: Path, gateway: Gateway
) -> None:
    scenario = write_scenario(
        tmp_path,
        _scenario(
            "  - connect: all\n"
            "  - plug_in: 0\n"
            "  - inject_fault: 1\n"
            "  - expect_ocpi: {evse: 0, status_of_ocpp: Preparing}\n"
            "  - expect_ocpi: {evse: 1, status_of_ocpp: Faulted}\n"
            "  - disconnect: all\n"
            "  - expect_ocpi: {evse: all, status_of_ocpp: offline}\n"
        ).replace("party: {", "mapping_profile: evserver\n  party: {"),
    )
    code, out = await _run(gateway, gateway.url, scenario)
    assert code == 0, out
    assert "3 check(s) passed" in out


async def test_a_gateway_publishing_too_late_is_caught(tmp_path: Path, gateway: Gateway) -> None:
    scenario = write_scenario(
        tmp_path,
        _scenario(
            "  - connect: all\n"
            "  - expect_ocpi: {evse: all, status: AVAILABLE, within: 10s}\n"
            "  - start_charging: 0\n"
            "  - expect_ocpi: {evse: 0, status: CHARGING, within: 1s}\n"
            "    name: CHARGING within 1s\n"
        ),
    )
    async with faulty_gateway(gateway.url, delay_s=3.0) as proxy:
        code, out = await _run(gateway, proxy, scenario)
    assert code == 1, out
    assert "✗ FAILED: 1 of 2 check(s) failed: CHARGING within 1s" in out
    assert "expected CHARGING within 1s; still" in out and "=AVAILABLE" in out
    assert "StartTransaction" in out  # the charger did its part: the messages are shown
