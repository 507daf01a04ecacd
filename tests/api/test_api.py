"""The Python API end to end: the embedded reference gateway on a loopback port, real sockets."""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

import ocpplab_sim
from ocpplab_sim import (
    Charger,
    Fleet,
    Network,
    ReferenceGateway,
    WaitTimeout,
    provision,
    run_scenario_file,
    start_charger,
)
from ocpplab_sim.errors import CsmsUnreachable, InputError, ScenarioError
from ocpplab_sim.gateway_client import GatewayClient

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
async def gateway() -> AsyncIterator[ReferenceGateway]:
    async with ReferenceGateway() as running:
        yield running


@pytest.fixture
async def network(gateway: ReferenceGateway) -> AsyncIterator[Network]:
    async with gateway.provision("mixed-depot") as provisioned:
        yield provisioned


def test_the_package_imports_the_api_only_when_it_is_used() -> None:
    code = (
        "import sys, ocpplab_sim\n"
        "assert 'ocpplab_sim.api' not in sys.modules\n"
        "assert ocpplab_sim.Charger.__module__ == 'ocpplab_sim.api'\n"
        "print(sorted(set(ocpplab_sim.__all__) - set(dir(ocpplab_sim))))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout.strip() == "[]"
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        ocpplab_sim.nothing  # noqa: B018


async def test_a_network_knows_its_chargers_and_is_deleted_on_exit(
    gateway: ReferenceGateway,
) -> None:
    async with provision(gateway.url, gateway.token, "mixed-depot", party=("DE", "XYZ")) as net:
        versions = {c.identity: c.ocpp_version for c in net.chargers}
        assert sorted(set(versions.values())) == ["1.6", "2.0.1"]
        assert net.csms_url == gateway.csms_url
        cpo_id = net.cpo_id
    async with GatewayClient(gateway.url, gateway.token) as client:
        assert (await client.cpo_status(cpo_id)).status == "deleted"


async def test_a_charger_is_driven_and_awaited(network: Network) -> None:
    charger = await network.start_charger(version="2.0.1")
    assert charger.connected
    assert charger.version == "2.0.1"
    assert len(network.charger(charger.identity).evses) == 2
    await charger.wait_for_status(2, "Available", timeout_s=1)  # already so: at once
    await charger.plug_in(2)
    await charger.start_charging(2, "TOKEN0001")
    await charger.wait_for_status(2, "Charging", timeout_s=5)
    uid = network.charger(charger.identity).evses[1].evse_uid
    await network.wait_for_ocpi_status(uid, "CHARGING", timeout_s=10)
    await charger.ev_stops_energy(2)
    assert charger.status(2) == "SuspendedEV"
    await charger.stop_charging(2)
    await charger.unplug(2)
    await charger.inject_fault(1)
    await charger.wait_for_status(1, "Faulted", timeout_s=1)
    lines = charger.format_frames().splitlines()
    assert any("→ CALL BootNotification" in line for line in lines)
    assert any("← CALLRESULT BootNotification" in line for line in lines)
    assert all(charger.identity in line for line in lines)


async def test_a_status_that_never_comes_names_the_last_one_seen(network: Network) -> None:
    charger = await network.start_charger()
    with pytest.raises(WaitTimeout, match=r"EVSE 1 not Charging after 0.2 s \(last status: Avail"):
        await charger.wait_for_status(1, "Charging", timeout_s=0.2)
    uid = network.charger(charger.identity).evses[0].evse_uid
    with pytest.raises(WaitTimeout, match=r"OCPI status not CHARGING after 0\.3 s"):
        await network.wait_for_ocpi_status(uid, "CHARGING", timeout_s=0.3, poll_s=0.05)


async def test_a_status_the_central_system_causes_wakes_the_waiter(network: Network) -> None:
    charger = await network.start_charger(version="1.6")
    await charger.plug_in(1)
    waiting = charger.wait_for_status(1, "Charging", timeout_s=10)
    answer = await network.client.command(
        network.cpo_id,
        charger.identity,
        "RemoteStartTransaction",
        {"connectorId": 1, "idTag": "TOKEN0001"},
    )
    assert answer.status == "answered"
    await waiting
    request = await charger.wait_for_call("RemoteStartTransaction", timeout_s=1)
    assert request["idTag"] == "TOKEN0001"
    with pytest.raises(WaitTimeout, match=r"no RemoteStartTransaction .* not yet taken: none"):
        await charger.wait_for_call("RemoteStartTransaction", timeout_s=0.1)


async def test_a_charger_answers_as_armed(network: Network) -> None:
    charger = await network.start_charger(version="1.6")
    charger.respond("RemoteStartTransaction", status="Rejected")
    answer = await network.client.command(
        network.cpo_id,
        charger.identity,
        "RemoteStartTransaction",
        {"connectorId": 1, "idTag": "TOKEN0001"},
    )
    assert answer.response == {"status": "Rejected"}
    assert charger.status(1) == "Available"


async def test_a_fleet_starts_and_stops_every_charger(network: Network) -> None:
    fleet = await network.start_fleet()
    assert len(fleet) == len(network.chargers)
    assert all(c.connected for c in fleet)
    first = network.chargers[0].identity
    assert fleet[first].identity == first
    await fleet.stop()
    assert not any(c.connected for c in fleet)


async def test_network_chargers_are_checked(network: Network) -> None:
    with pytest.raises(InputError, match=r"no charger 'CP1' in CPO .* \(its chargers: "):
        network.new_charger("CP1")
    one_six = next(c.identity for c in network.chargers if c.ocpp_version == "1.6")
    with pytest.raises(InputError, match=r"speaks OCPP 1\.6, not 2\.0\.1"):
        network.new_charger(one_six, version="2.0.1")
    with pytest.raises(InputError, match=r"has 1 EVSE\(s\), not 2"):
        network.new_charger(one_six, evses=2)
    await network.start_charger(one_six)
    with pytest.raises(InputError, match="already started"):
        network.new_charger(one_six)


async def test_chargers_connect_to_any_central_system(network: Network) -> None:
    identities = [c.identity for c in network.chargers if c.ocpp_version == "1.6"][:2]
    async with Fleet([Charger(i, network.csms_url) for i in identities]) as fleet:
        assert all(c.connected for c in fleet)
    assert not any(c.connected for c in fleet)
    async with await start_charger(identities[0], network.csms_url) as charger:
        assert charger.connected


async def test_an_unreachable_central_system_is_named() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # nothing listens here
    fleet = Fleet([Charger("CP1", f"ws://127.0.0.1:{port}/ocpp")])
    with pytest.raises(CsmsUnreachable, match="charger CP1"):
        await fleet.start()
    with pytest.raises(InputError, match="charger 'CP2': csms_url must be a ws://"):
        Charger("CP2", "http://127.0.0.1/ocpp")


async def test_a_scenario_file_runs_to_a_result(tmp_path: Path) -> None:
    trace = tmp_path / "trace.jsonl"
    events: list[object] = []
    result = await run_scenario_file(
        ROOT / "scenarios" / "failing-example.yaml", trace=trace, on_event=events.append
    )
    assert (result.exit_code, result.passed) == (1, False)
    assert [c.name for c in result.failed_checks] == [
        "deliberately wrong: a plugged-in EVSE stays AVAILABLE"
    ]
    assert len(result.checks) == 2
    assert result.record.finished is not None
    assert events[-1] is result.record.finished
    assert trace.read_text(encoding="utf-8").count("BootNotification") == 6  # one per charger


async def test_an_invalid_scenario_file_raises(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nsteps: [{nonsense: 1}]\n", encoding="utf-8")
    with pytest.raises(ScenarioError):
        await run_scenario_file(bad)
