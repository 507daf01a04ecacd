"""One scenario run, end to end: gateway → provision → chargers → OCPI → steps → teardown.

Teardown is guaranteed: whatever was set up is undone in reverse order on success, on failure, on a
crash of the step code, and on cancellation (Ctrl-C, SIGTERM), and the run still emits its verdict.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Awaitable, Callable, Mapping
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import TypeVar
from urllib.parse import urlsplit, urlunsplit

from ocpplab_sim.errors import ConnectivityError, InputError, OcpplabError
from ocpplab_sim.fleet import ChargePointConfig, Fleet
from ocpplab_sim.gateway_client import Cpo, GatewayClient, Party
from ocpplab_sim.gateway_client import Topology as GatewayTopology
from ocpplab_sim.ocpi_client import OcpiClient
from ocpplab_sim.scenario.engine import ChargerPort, Engine, FrameLike
from ocpplab_sim.scenario.events import (
    Event,
    EventSink,
    Outcome,
    PhaseFinished,
    PhaseStarted,
    RunFinished,
    RunStarted,
)
from ocpplab_sim.scenario.model import Scenario
from ocpplab_sim.topology import Charger, Evse, Topology

__all__ = ["EXIT_INTERRUPTED", "RunOptions", "neutral_topology", "run_scenario"]

EXIT_INTERRUPTED = 130

T = TypeVar("T")


@dataclass(frozen=True)
class RunOptions:
    """How to reach the platform under test. ``gateway_url=None`` starts the embedded gateway."""

    gateway_url: str | None = None
    token: str | None = None
    csms_url: str | None = None
    seed: int = 0
    strict: bool = False
    on_frame: Callable[[FrameLike], None] | None = None


class _Teardown:
    """Undo actions, run last-in first-out; each failure is reported and the rest still run."""

    def __init__(self) -> None:
        self._actions: list[tuple[str, Callable[[], Awaitable[object]]]] = []

    def push(self, what: str, action: Callable[[], Awaitable[object]]) -> None:
        self._actions.append((what, action))

    async def run(self) -> list[str]:
        problems = []
        while self._actions:
            what, action = self._actions.pop()
            try:
                await asyncio.wait_for(action(), timeout=30)
            except Exception as exc:  # a teardown step must never stop the others
                problems.append(f"{what}: {exc or type(exc).__name__}")
        return problems


class _StatusStrings:
    """Adapts the OCPI client to the engine's StatusSource (plain status strings)."""

    def __init__(self, client: OcpiClient) -> None:
        self._client = client

    async def evse_statuses(self) -> Mapping[str, str]:
        statuses = await self._client.evse_statuses()
        return {uid: str(getattr(status, "value", status)) for uid, status in statuses.items()}


def csms_url_for(gateway_url: str) -> str:
    """The reference gateway's central system: ``ws(s)://host:port/ocpp``."""
    parts = urlsplit(gateway_url)
    scheme = "wss" if parts.scheme == "https" else "ws"
    return urlunsplit((scheme, parts.netloc, parts.path.rstrip("/") + "/ocpp", "", ""))


async def run_scenario(scenario: Scenario, options: RunOptions, emit: EventSink) -> int:
    """Run ``scenario`` and return the exit code (0 passed, 1 failed, 2 input, 3 unreachable).

    Every outcome, including cancellation, ends with a RunFinished event after teardown. A
    cancellation is not re-raised: it yields EXIT_INTERRUPTED so the caller can still write reports.
    """
    started = time.monotonic()
    teardown = _Teardown()
    run = _Run(scenario, options, emit, teardown)
    emit(
        RunStarted(
            scenario=scenario.name,
            source=scenario.source,
            seed=options.seed,
            gateway_url=options.gateway_url,
        )
    )
    try:
        exit_code, message = await run.execute()
    except asyncio.CancelledError:
        exit_code, message = EXIT_INTERRUPTED, "interrupted; tearing down"
    except OcpplabError as exc:
        exit_code, message = exc.exit_code, str(exc)
    except Exception as exc:  # a crash in the harness still tears down and reports
        exit_code, message = 1, f"internal error: {type(exc).__name__}: {exc}"
    emit(PhaseStarted(phase="teardown"))
    teardown_started = time.monotonic()
    problems = await asyncio.shield(teardown.run())
    emit(
        PhaseFinished(
            phase="teardown",
            outcome=Outcome.ERROR if problems else Outcome.PASSED,
            message="; ".join(problems),
            duration_s=time.monotonic() - teardown_started,
        )
    )
    emit(
        RunFinished(
            exit_code=exit_code,
            message=message,
            duration_s=time.monotonic() - started,
            cpo_id=run.cpo_id,
        )
    )
    return exit_code


class _Run:
    def __init__(
        self, scenario: Scenario, options: RunOptions, emit: EventSink, teardown: _Teardown
    ) -> None:
        self.scenario = scenario
        self.options = options
        self.emit = emit
        self.teardown = teardown
        self.cpo_id: str | None = None

    async def _phase(self, name: str, detail: str, work: Awaitable[T]) -> T:
        """Await ``work`` between PhaseStarted and PhaseFinished events; return its result."""
        self.emit(PhaseStarted(phase=name, detail=detail))
        started = time.monotonic()
        try:
            result = await work
        except BaseException as exc:
            outcome = Outcome.ERROR
            message = str(exc) if isinstance(exc, OcpplabError) else type(exc).__name__
            self.emit(_finished(name, outcome, message, started))
            raise
        self.emit(_finished(name, Outcome.PASSED, "", started))
        return result

    async def execute(self) -> tuple[int, str]:
        scenario, options = self.scenario, self.options
        token = options.token or secrets.token_urlsafe(24)
        gateway_url = options.gateway_url
        if gateway_url is None:
            gateway_url = await self._start_embedded(token)
        elif options.token is None:
            raise InputError("--token (or OCPPLAB_TOKEN) is required with --gateway-url")

        client = GatewayClient(gateway_url, token)
        self.teardown.push("close gateway client", client.aclose)

        spec = scenario.gateway
        cpo, topology = await self._phase(
            "provision", f"template {spec.template}", self._provision(client)
        )

        csms_url = options.csms_url or (scenario.csms.url if scenario.csms else None)
        csms_url = csms_url or csms_url_for(gateway_url)
        configs = [
            ChargePointConfig(
                identity=charger.identity,
                ocpp_version=charger.ocpp_version,
                evse_count=len(charger.evses),
                csms_url=csms_url,
                meter_interval_s=scenario.settings.meter_interval,
                seed=options.seed * 1_000_003 + index,
                strict=options.strict,
            )
            for index, charger in enumerate(topology.chargers)
        ]
        ocpi: OcpiClient | None = None
        if cpo.token_a and cpo.ocpi_peer_url:
            ocpi = OcpiClient(cpo.ocpi_peer_url, cpo.token_a, party=cpo.party)
        # The engine observes the fleet's frames and drives the fleet's charge points: it is built
        # first, and the charge points join its mapping once the fleet exists.
        ports: dict[str, ChargerPort] = {}
        engine = Engine(
            scenario, topology, ports, _StatusStrings(ocpi) if ocpi else None, self.emit
        )
        engine.check_selectors()
        fleet = Fleet(configs, on_frame=self._frame_observer(engine))
        ports.update({cp.identity: cp for cp in fleet})
        self.teardown.push("disconnect chargers", fleet.stop_all)
        if ocpi is not None:
            self.teardown.push("close OCPI client", ocpi.aclose)
            await self._phase("ocpi", "credentials handshake (2.2.1)", ocpi.handshake())
            self.teardown.push("close OCPI registration", ocpi.close_registration)

        self.emit(PhaseStarted(phase="steps", detail=f"{len(scenario.steps)} step(s)"))
        result = await engine.run()
        failed = [c for c in result.checks if c.outcome is not Outcome.PASSED]
        if result.passed:
            return 0, f"{len(result.checks)} check(s) passed"
        if failed:
            return 1, f"{len(failed)} of {len(result.checks)} check(s) failed: {failed[0].name}"
        return 1, f"{result.errored_steps + result.failed_steps} step(s) did not complete"

    async def _provision(self, client: GatewayClient) -> tuple[Cpo, Topology]:
        spec = self.scenario.gateway
        party = Party(country_code=spec.party.country_code, party_id=spec.party.party_id)
        cpo = await client.create_cpo(
            spec.template, party, name_prefix=spec.name_prefix, mapping_profile=spec.mapping_profile
        )
        self.cpo_id = cpo.cpo_id
        self.teardown.push(f"delete CPO {cpo.cpo_id}", lambda: client.delete_cpo(cpo.cpo_id))
        await client.wait_ready(cpo.cpo_id, timeout_s=spec.ready_timeout)
        return cpo, neutral_topology(await client.topology(cpo.cpo_id))

    def _frame_observer(self, engine: Engine) -> Callable[[FrameLike], None]:
        extra = self.options.on_frame

        def on_frame(record: FrameLike) -> None:
            engine.observe_frame(record)
            if extra is not None:
                extra(record)

        return on_frame

    async def _start_embedded(self, token: str) -> str:
        from ocpplab_sim.launcher import embedded_gateway

        stack = AsyncExitStack()
        self.teardown.push("stop embedded gateway", stack.aclose)
        return await self._phase(
            "gateway",
            "starting the embedded reference gateway",
            stack.enter_async_context(embedded_gateway(token)),
        )


def _finished(name: str, outcome: Outcome, message: str, started: float) -> Event:
    return PhaseFinished(
        phase=name, outcome=outcome, message=message, duration_s=time.monotonic() - started
    )


def neutral_topology(network: GatewayTopology) -> Topology:
    """The engine's version-neutral view of the gateway client's topology.

    Raises ConnectivityError when the network has nothing to simulate.
    """
    chargers = tuple(
        Charger(
            identity=charger.identity,
            ocpp_version=charger.ocpp_version,
            location_id=charger.location_id,
            evses=tuple(
                Evse(
                    uid=evse.evse_uid,
                    charger=charger.identity,
                    number=evse.ocpp_number,
                    location_id=evse.location_id,
                    ocpi_evse_id=evse.ocpi_evse_id,
                    topology_id=evse.topology_id,
                )
                for evse in charger.evses
            ),
        )
        for charger in network.chargers
    )
    if not chargers or any(not charger.evses for charger in chargers):
        raise ConnectivityError(f"CPO {network.cpo_id} has a charger without EVSEs, or none")
    return Topology(chargers)
