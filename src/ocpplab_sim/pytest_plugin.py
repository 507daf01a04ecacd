"""pytest plugin: simulated charge points as fixtures (entry point ``pytest11``: ``ocpplab``).

Fixtures (all function-scoped, none autouse; async ones need pytest-asyncio):

* ``ocpplab_gateway``: the Gateway API to test against: ``--ocpplab-gateway-url`` with
  ``--ocpplab-token``, or else the embedded reference gateway on a free loopback port.
* ``ocpplab_network``: a CPO provisioned on it from a template (``small-urban-ac`` unless the
  test is marked ``@pytest.mark.ocpplab_network(template=..., ...)``), deleted after the test
  whatever its outcome.
* ``ocpp_charger``: a factory of started :class:`~ocpplab_sim.api.Charger` objects, stopped
  after the test. With ``--ocpplab-csms-url`` they connect to that central system
  (``await ocpp_charger("CP1", version="2.0.1")``); without it they are chargers of
  ``ocpplab_network`` (``await ocpp_charger()`` takes the next free one).

When a test fails, its report gets one section per charger it started with the charger's last
OCPP frames. Nothing changes for tests that use none of these fixtures.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import pytest

if TYPE_CHECKING:
    # imported when a fixture is first used: a session that uses none pays nothing
    from ocpplab_sim.api import Charger, Network

__all__ = ["ChargerFactory", "OcpplabGateway"]

DEFAULT_TEMPLATE = "small-urban-ac"
_FRAMES_SHOWN = 30

_STARTED = pytest.StashKey[list["Charger"]]()
_NETWORKS = pytest.StashKey[list["Network"]]()


class ChargerFactory(Protocol):
    """``ocpp_charger``: ``await ocpp_charger(identity, version=..., evses=..., **options)``
    returns a started :class:`~ocpplab_sim.api.Charger`."""

    def __call__(self, identity: str | None = None, **options: Any) -> Awaitable[Charger]: ...


@dataclass(frozen=True)
class OcpplabGateway:
    """The Gateway API the fixtures use: its ``url``, bearer ``token`` and the ``csms_url``
    its chargers connect to; ``embedded`` when it is the reference gateway of this test."""

    url: str
    token: str
    csms_url: str
    embedded: bool


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("ocpplab", "ocpplab-sim simulated charge points")
    group.addoption(
        "--ocpplab-gateway-url",
        default=None,
        metavar="URL",
        help="Gateway API base URL for the ocpplab fixtures (default: the embedded reference "
        "gateway on a free loopback port, started per test)",
    )
    group.addoption(
        "--ocpplab-token",
        default=None,
        metavar="TOKEN",
        help="bearer token of --ocpplab-gateway-url",
    )
    group.addoption(
        "--ocpplab-csms-url",
        default=None,
        metavar="URL",
        help="OCPP central system base URL (ws:// or wss://) the ocpp_charger fixture "
        "connects to (default: the gateway's, with chargers of ocpplab_network)",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "ocpplab_network(template='small-urban-ac', **options): the template (and the "
        "options of ocpplab_sim.provision) of the ocpplab_network fixture",
    )


def _option(config: pytest.Config, name: str) -> str | None:
    value = config.getoption(name, default=None)
    return str(value) if value else None


try:
    import pytest_asyncio
except ImportError:  # pragma: no cover - the fixtures then say what they need
    _HAVE_ASYNCIO = False
else:
    _HAVE_ASYNCIO = True


def _async_fixture(function: Callable[..., Any]) -> Any:
    """An async fixture through pytest-asyncio (so it works in its strict mode too), or a
    fixture that fails the test with the reason when pytest-asyncio is missing."""
    if _HAVE_ASYNCIO:
        return pytest_asyncio.fixture(function)

    def missing() -> None:
        pytest.fail("the ocpplab fixtures need pytest-asyncio (pip install pytest-asyncio)")

    missing.__name__ = function.__name__
    missing.__doc__ = function.__doc__
    return pytest.fixture(missing)


@_async_fixture
async def ocpplab_gateway(request: pytest.FixtureRequest) -> AsyncIterator[OcpplabGateway]:
    """The Gateway API under test, or the embedded reference gateway of this test."""
    url = _option(request.config, "ocpplab_gateway_url")
    if url is not None:
        token = _option(request.config, "ocpplab_token")
        if token is None:
            pytest.fail("--ocpplab-token is required with --ocpplab-gateway-url", pytrace=False)
        from ocpplab_sim.gateway_client import csms_url_for

        yield OcpplabGateway(url.rstrip("/"), token, csms_url_for(url), embedded=False)
        return
    from ocpplab_sim.api import ReferenceGateway

    async with ReferenceGateway() as gateway:
        yield OcpplabGateway(gateway.url, gateway.token, gateway.csms_url, embedded=True)


@_async_fixture
async def ocpplab_network(
    request: pytest.FixtureRequest, ocpplab_gateway: OcpplabGateway
) -> AsyncIterator[Network]:
    """A CPO provisioned for this test and deleted after it, even when the test fails."""
    from ocpplab_sim.api import provision

    marker = request.node.get_closest_marker("ocpplab_network")
    options: dict[str, Any] = dict(marker.kwargs) if marker is not None else {}
    template = options.pop("template", None)
    if marker is not None and marker.args:
        template = marker.args[0]
    options.setdefault("csms_url", _option(request.config, "ocpplab_csms_url"))
    network = provision(
        ocpplab_gateway.url, ocpplab_gateway.token, template or DEFAULT_TEMPLATE, **options
    )
    request.node.stash.setdefault(_NETWORKS, []).append(network)
    async with network:
        yield network


@pytest.fixture
def _ocpplab_charger_target(request: pytest.FixtureRequest) -> str | Network:
    """Where ``ocpp_charger`` connects: ``--ocpplab-csms-url``, else ``ocpplab_network``
    (set up only then, from this synchronous fixture)."""
    csms_url = _option(request.config, "ocpplab_csms_url")
    if csms_url is not None:
        return csms_url
    network: Network = request.getfixturevalue("ocpplab_network")
    return network


@_async_fixture
async def ocpp_charger(
    request: pytest.FixtureRequest, _ocpplab_charger_target: str | Network
) -> AsyncIterator[ChargerFactory]:
    """``await ocpp_charger("CP1", version="2.0.1", evses=2, ...)``: a started charger,
    stopped after the test."""
    from ocpplab_sim.api import Charger, Network
    from ocpplab_sim.errors import InputError

    target = _ocpplab_charger_target
    started = request.node.stash.setdefault(_STARTED, [])

    async def factory(identity: str | None = None, **options: Any) -> Charger:
        if isinstance(target, Network):
            charger = target.new_charger(identity, **options)
            started.append(charger)
            return await charger.start()
        if identity is None:
            raise InputError("ocpp_charger needs an identity with --ocpplab-csms-url")
        csms_url = options.pop("csms_url", target)
        charger = Charger(identity, csms_url, **options)
        started.append(charger)
        return await charger.start()

    try:
        yield factory
    finally:
        for charger in started:
            await charger.stop()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Any:  # the report, as the other hooks made it
    report = yield
    if report.failed:
        chargers: dict[int, Charger] = {}
        for charger in item.stash.get(_STARTED, []):
            chargers[id(charger)] = charger
        for network in item.stash.get(_NETWORKS, []):
            for charger in network.started_chargers:
                chargers.setdefault(id(charger), charger)
        for charger in chargers.values():
            frames = charger.format_frames(_FRAMES_SHOWN) or "(no frames)"
            report.sections.append((f"ocpplab: last frames of {charger.identity}", frames))
    return report
