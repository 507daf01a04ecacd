"""The pytest plugin, run the way a central-system team runs it: pytest in a subprocess
(``pytester``) with the plugin, pytest-asyncio and pytest-xdist, against the embedded reference
gateway or a gateway and central system given by the ``--ocpplab-*`` options."""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import AsyncIterator
from importlib.metadata import entry_points
from pathlib import Path

import pytest

# The gateway and the API are imported here, before pytester snapshots sys.modules at each
# test: modules first imported during one test would be dropped after it, and a second copy of
# SQLAlchemy in the next test breaks the gateway.
import ocpplab_sim
import ocpplab_sim.api
import ocpplab_sim.gateway
from ocpplab_sim import Network, ReferenceGateway
from ocpplab_sim.gateway_client import GatewayClient

pytest_plugins = ["pytester"]

PLUGIN = "ocpplab_sim.pytest_plugin"

INI = """
[pytest]
asyncio_mode = {mode}
asyncio_default_fixture_loop_scope = function
asyncio_default_test_loop_scope = function
filterwarnings = error
addopts = --strict-markers -p no:cacheprovider
"""


def _plugin_args() -> list[str]:
    """``-p`` the plugin unless the installed distribution registers it already (after
    ``pip install -e .``, the ``pytest11`` entry point loads it in every session)."""
    if any(ep.value == PLUGIN for ep in entry_points(group="pytest11")):
        return []
    return ["-p", PLUGIN]


@pytest.fixture
def inner(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    """A pytester whose runs import the ocpplab_sim this test imports."""
    src = str(Path(ocpplab_sim.__file__).resolve().parents[1])
    monkeypatch.setenv(
        "PYTHONPATH", os.pathsep.join([src, os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    )
    for name in [n for n in os.environ if n.startswith(("OCPPLAB_", "PYTEST_"))]:
        monkeypatch.delenv(name)
    pytester.makeini(INI.format(mode="auto"))
    return pytester


def _run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest_subprocess(*_plugin_args(), *args, timeout=180)


@pytest.fixture
async def gateway() -> AsyncIterator[ReferenceGateway]:
    async with ReferenceGateway() as running:
        yield running


PASSING_AND_FAILING = """
import pytest

async def test_boot(ocpp_charger):
    cp = await ocpp_charger()
    assert cp.connected
    await cp.plug_in(1)
    await cp.wait_for_status(1, "Preparing", timeout_s=5)

async def test_fails(ocpp_charger):
    cp = await ocpp_charger()
    await cp.plug_in(1)
    assert cp.status(1) == "Charging", "deliberately wrong"

def test_without_fixtures():
    assert True
"""


def test_a_passing_and_a_failing_test_with_the_last_frames_reported(
    inner: pytest.Pytester,
) -> None:
    inner.makepyfile(test_csms=PASSING_AND_FAILING)
    result = _run(inner, "-rf")
    result.assert_outcomes(passed=2, failed=1)
    output = result.stdout.str()
    result.stdout.fnmatch_lines(
        [
            "*AssertionError: deliberately wrong*",
            "*- ocpplab: last frames of demo-*-L1-01 -*",
            "* demo-*-L1-01 → CALL BootNotification {*",
            "* demo-*-L1-01 ← CALLRESULT BootNotification {*Accepted*",
            '* → CALL StatusNotification {"connectorId":1,*"status":"Preparing"*',
        ]
    )
    # only the failing test's report has the section
    assert output.count("ocpplab: last frames of") == 1


def test_the_plugin_works_under_xdist_and_strict_asyncio_mode(inner: pytest.Pytester) -> None:
    inner.makeini(INI.format(mode="strict"))
    inner.makepyfile(
        test_strict="""
        import pytest

        @pytest.mark.asyncio
        @pytest.mark.ocpplab_network("highway-dc")
        async def test_dc(ocpp_charger, ocpplab_network):
            cp = await ocpp_charger(version="2.0.1")
            assert cp.version == "2.0.1"
            assert ocpplab_network.template == "highway-dc"

        @pytest.mark.asyncio
        async def test_fails(ocpp_charger):
            cp = await ocpp_charger()
            await cp.wait_for_status(1, "Charging", timeout_s=0.2)
        """
    )
    result = _run(inner, "-n", "2")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*WaitTimeout: charger *: EVSE 1 not Charging after 0.2 s (last status: Available)*",
            "*- ocpplab: last frames of *-L1-01 -*",
            "* → CALL BootNotification {*",
        ]
    )


async def test_gateway_options_are_honoured_and_the_cpo_deleted_when_a_test_fails(
    inner: pytest.Pytester, gateway: ReferenceGateway
) -> None:
    inner.makepyfile(
        test_remote="""
        async def test_remote(ocpplab_gateway, ocpplab_network, ocpp_charger):
            assert not ocpplab_gateway.embedded
            print("CPO", ocpplab_network.cpo_id, "at", ocpplab_gateway.url)
            await ocpp_charger()
            assert False, "deliberately failing"
        """
    )
    args = [f"--ocpplab-gateway-url={gateway.url}", f"--ocpplab-token={gateway.token}", "-s"]
    # the gateway serves from this event loop while pytest runs in its own process
    result = await asyncio.to_thread(_run, inner, *args)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([f"*CPO * at {gateway.url}", "*ocpplab: last frames of *"])
    found = re.search(r"CPO (\S+) at", result.stdout.str())
    assert found is not None
    async with GatewayClient(gateway.url, gateway.token) as client:
        assert (await client.cpo_status(found[1])).status == "deleted"


async def test_the_csms_option_points_chargers_at_any_central_system(
    inner: pytest.Pytester, gateway: ReferenceGateway
) -> None:
    async with gateway.provision("mixed-depot") as network:
        identity = next(c.identity for c in network.chargers if c.ocpp_version == "2.0.1")
        inner.makepyfile(
            test_csms=f"""
            async def test_boot(ocpp_charger):
                cp = await ocpp_charger("{identity}", version="2.0.1", evses=2)
                assert cp.connected
                await cp.wait_for_status(2, "Available", timeout_s=5)
            """
        )
        result = await asyncio.to_thread(_run, inner, f"--ocpplab-csms-url={network.csms_url}")
        result.assert_outcomes(passed=1)
        await _no_network_was_provisioned(gateway, network)


async def _no_network_was_provisioned(gateway: ReferenceGateway, network: Network) -> None:
    async with GatewayClient(gateway.url, gateway.token) as client:
        page = await client.list_cpos()
    assert [cpo.cpo_id for cpo in page.data] == [network.cpo_id]


def test_a_gateway_url_needs_a_token(inner: pytest.Pytester) -> None:
    inner.makepyfile(test_x="async def test_x(ocpplab_network):\n    pass\n")
    result = _run(inner, "--ocpplab-gateway-url=http://127.0.0.1:9")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*--ocpplab-token is required with --ocpplab-gateway-url*"])


def test_the_options_and_marker_are_registered(inner: pytest.Pytester) -> None:
    result = _run(inner, "--help")
    result.stdout.fnmatch_lines(
        ["*--ocpplab-gateway-url=URL*", "*--ocpplab-token=TOKEN*", "*--ocpplab-csms-url=URL*"]
    )
    markers = _run(inner, "--markers")
    markers.stdout.fnmatch_lines(["@pytest.mark.ocpplab_network(template=*"])
