"""One scenario run, end to end: gateway → provision → chargers → OCPI → steps → teardown.

Teardown is guaranteed: whatever was set up is undone in reverse order on success, on failure, on a
crash of the step code, and on cancellation (Ctrl-C, SIGTERM), and the run still emits its verdict.
A second interrupt (:meth:`RunControl.interrupt`) aborts the teardown; the verdict then names what
was left behind and how to clean it up by hand.

With an inline ``topology`` (no ``gateway``) nothing is provisioned and no OCPI peer exists: the
chargers connect to the scenario's ``csms.url`` (or ``--csms-url``).
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import TypeVar

from ocpplab_sim.emsp import EmspReceiver
from ocpplab_sim.errors import InputError, OcpplabError
from ocpplab_sim.fleet import ChargePointConfig, Fleet
from ocpplab_sim.gateway_client import Cpo, GatewayClient, Party, csms_url_for, held_lease
from ocpplab_sim.ocpi_client import OcpiClient
from ocpplab_sim.runner_adapters import (
    GatewayPorts,
    OcpiViews,
    PushViews,
    inline_topology,
    neutral_topology,
)
from ocpplab_sim.scenario.execution.engine import Engine
from ocpplab_sim.scenario.execution.events import (
    Event,
    EventSink,
    Outcome,
    PhaseFinished,
    PhaseStarted,
    RunFinished,
    RunStarted,
    TopologyKnown,
)
from ocpplab_sim.scenario.execution.ports import ChargerPort, FrameLike
from ocpplab_sim.scenario.language.model import Scenario
from ocpplab_sim.topology import Topology

__all__ = [
    "EXIT_INTERRUPTED",
    "RunControl",
    "RunOptions",
    "inline_topology",
    "neutral_topology",
    "run_scenario",
]

EXIT_INTERRUPTED = 130

T = TypeVar("T")


@dataclass(frozen=True)
class RunOptions:
    """How to reach the platform under test. ``gateway_url=None`` starts the embedded gateway
    (unless the scenario has an inline topology, which needs no gateway)."""

    gateway_url: str | None = None
    token: str | None = None
    csms_url: str | None = None
    seed: int = 0
    strict: bool = False
    on_frame: Callable[[FrameLike], None] | None = None
    #: the provisioned CPO expires this long after the last renewal (every quarter of it) where
    #: the gateway offers leases: a harness killed outright leaves it behind that long at most
    lease_s: float = 60.0
    #: told of the fleet once it exists, before any charger starts (a control API serves it)
    on_fleet: Callable[[Fleet], None] | None = None


class _Teardown:
    """Undo actions, run last-in first-out; each failure is reported and the rest still run.

    Each action carries what a person must do by hand if it never runs (``left``).
    """

    def __init__(self) -> None:
        self._actions: list[tuple[str, Callable[[], Awaitable[object]], str]] = []
        self._current: asyncio.Future[object] | None = None
        self.aborted = False

    def push(self, what: str, action: Callable[[], Awaitable[object]], left: str = "") -> None:
        self._actions.append((what, action, left or f"{what}: not done"))

    def abort(self) -> None:
        """Stop now: cancel the running action and run no other."""
        self.aborted = True
        if self._current is not None:
            self._current.cancel()

    def _was_aborted(self) -> bool:
        # A method, not the attribute: abort() flips it while run() awaits.
        return self.aborted

    async def run(self) -> tuple[list[str], list[str]]:
        """Run every action; returns (problems, what was left undone by an abort)."""
        problems: list[str] = []
        left: list[str] = []
        while self._actions:
            what, action, undone = self._actions.pop()
            if self.aborted:
                left.append(undone)
                continue
            self._current = asyncio.ensure_future(asyncio.wait_for(action(), timeout=30))
            try:
                await self._current
            except asyncio.CancelledError:
                if not self._was_aborted():
                    raise
                left.append(undone)
            except Exception as exc:  # a teardown step must never stop the others
                problems.append(f"{what}: {exc or type(exc).__name__}")
            finally:
                self._current = None
        return problems, left


class RunControl:
    """Steers a run from signal handlers: the first :meth:`interrupt` cancels the run (teardown
    follows), the next one aborts the teardown."""

    def __init__(self) -> None:
        self.interrupts = 0
        self._run: asyncio.Future[tuple[int, str]] | None = None
        self._teardown: _Teardown | None = None

    def interrupt(self) -> str:
        """Interrupt; returns what happens now: ``"cancel"``, ``"abort-teardown"``, ``"wait"``."""
        self.interrupts += 1
        if self._teardown is not None and self.interrupts > 1:
            self._teardown.abort()
            return "abort-teardown"
        if self._run is not None and not self._run.done():
            self._run.cancel()
            return "cancel"
        return "wait"


async def run_scenario(
    scenario: Scenario,
    options: RunOptions,
    emit: EventSink,
    control: RunControl | None = None,
) -> int:
    """Run ``scenario`` and return the exit code (0 passed, 1 failed, 2 input, 3 unreachable).

    Every outcome, including cancellation, ends with a RunFinished event after teardown. A
    cancellation is not re-raised: it yields EXIT_INTERRUPTED so the caller can still write reports.
    """
    control = control or RunControl()
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
    task = asyncio.ensure_future(run.execute())
    control._run = task
    try:
        exit_code, message = await task
    except asyncio.CancelledError:
        exit_code, message = EXIT_INTERRUPTED, "interrupted; tearing down"
    except OcpplabError as exc:
        exit_code, message = exc.exit_code, str(exc)
    except Exception as exc:  # a crash in the harness still tears down and reports
        exit_code, message = 1, f"internal error: {type(exc).__name__}: {exc}"
    emit(PhaseStarted(phase="teardown"))
    teardown_started = time.monotonic()
    control._teardown = teardown
    if control.interrupts > 1:
        teardown.abort()
    work = asyncio.ensure_future(teardown.run())
    try:
        problems, left = await asyncio.shield(work)
    except asyncio.CancelledError:
        # Our own task was cancelled again: treat it as the second interrupt.
        teardown.abort()
        problems, left = await work
    if left:
        problems.append("teardown aborted by a second interrupt; left: " + "; ".join(left))
        message = f"{message}; teardown aborted, left: " + "; ".join(left)
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
        self.gateway: GatewayPorts | None = None
        self.passwords: dict[str, str] = {}

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
        ocpi: OcpiClient | None = None
        receiver: EmspReceiver | None = None
        if scenario.topology is not None:
            topology = inline_topology(scenario.topology)
            csms_url = options.csms_url or (scenario.csms.url if scenario.csms else None)
            if csms_url is None:
                raise InputError(
                    f"{scenario.source}: an inline topology needs csms: {{url: ws://...}} "
                    "or --csms-url"
                )
        else:
            topology, csms_url, ocpi, receiver = await self._gateway_side()
        self.emit(TopologyKnown(evse_uids=tuple(evse.uid for evse in topology.evses)))

        configs = [
            ChargePointConfig(
                identity=charger.identity,
                ocpp_version=charger.ocpp_version,
                evse_count=len(charger.evses),
                csms_url=csms_url,
                meter_interval_s=scenario.settings.meter_interval,
                seed=options.seed * 1_000_003 + index,
                strict=options.strict,
                password=self.passwords.get(charger.identity),
            )
            for index, charger in enumerate(topology.chargers)
        ]
        # The engine observes the fleet's frames and drives the fleet's charge points: it is built
        # first, and the charge points join its mapping once the fleet exists.
        ports: dict[str, ChargerPort] = {}
        engine = Engine(
            scenario,
            topology,
            ports,
            OcpiViews(ocpi) if ocpi else None,
            self.emit,
            pushes=PushViews(receiver) if receiver else None,
            commands=self.gateway,
            reports=self.gateway,
            seed=options.seed,
        )
        engine.check_selectors()
        fleet = Fleet(configs, on_frame=self._frame_observer(engine))
        ports.update({cp.identity: cp for cp in fleet})
        if options.on_fleet is not None:
            options.on_fleet(fleet)
        self.teardown.push(
            "disconnect chargers",
            fleet.stop_all,
            "chargers not disconnected (they close when this process exits)",
        )
        if ocpi is not None:
            self.teardown.push("close OCPI client", ocpi.aclose, "OCPI client not closed")
            pinned = scenario.ocpi.version
            detail = f"credentials handshake (OCPI {pinned or 'newest common version'})"
            await self._phase("ocpi", detail, ocpi.handshake())
            self.teardown.push(
                "close OCPI registration",
                ocpi.close_registration,
                "OCPI registration not closed (deleting the CPO voids its tokens)",
            )

        count = len(scenario.setup) + len(scenario.teardown)
        count += sum(len(phase.steps) for phase in scenario.main_phases)
        self.emit(PhaseStarted(phase="steps", detail=f"{count} step(s)"))
        result = await engine.run()
        failed = [c for c in result.checks if c.outcome is not Outcome.PASSED]
        if result.passed:
            return 0, f"{len(result.checks)} check(s) passed"
        if failed:
            return 1, f"{len(failed)} of {len(result.checks)} check(s) failed: {failed[0].name}"
        return 1, f"{result.errored_steps + result.failed_steps} step(s) did not complete"

    async def _gateway_side(
        self,
    ) -> tuple[Topology, str, OcpiClient | None, EmspReceiver | None]:
        """Provision through the Gateway API; prepare the OCPI client (and eMSP receiver)."""
        scenario, options = self.scenario, self.options
        spec = scenario.gateway
        assert spec is not None
        token = options.token or secrets.token_urlsafe(24)
        gateway_url = options.gateway_url
        if gateway_url is None:
            gateway_url = await self._start_embedded(token)
        elif options.token is None:
            raise InputError("--token (or OCPPLAB_TOKEN) is required with --gateway-url")

        client = GatewayClient(gateway_url, token)
        self.teardown.push("close gateway client", client.aclose, "gateway client not closed")
        cpo, topology = await self._phase(
            "provision", f"template {spec.template}", self._provision(client, gateway_url)
        )
        csms_url = options.csms_url or (scenario.csms.url if scenario.csms else None)
        csms_url = csms_url or csms_url_for(gateway_url)

        versions_url, token_a = cpo.ocpi_peer_url, cpo.token_a
        if scenario.ocpi.roam_helper and cpo.roam_helper is not None:
            versions_url, token_a = cpo.roam_helper.versions_url, cpo.roam_helper.token_a
        if not (versions_url and token_a):
            return topology, csms_url, None, None
        receiver: EmspReceiver | None = None
        token_b = secrets.token_urlsafe(32)
        our_url: str | None = None
        if scenario.ocpi.push:
            stack = AsyncExitStack()
            self.teardown.push("stop eMSP receiver", stack.aclose, "eMSP receiver not stopped")
            receiver = await stack.enter_async_context(EmspReceiver(token_b))
            our_url = receiver.versions_url
        pinned = scenario.ocpi.version
        ocpi = OcpiClient(
            versions_url,
            token_a,
            party=cpo.party,
            versions=[pinned] if pinned else None,
            token_b=token_b,
            our_versions_url=our_url,
        )
        return topology, csms_url, ocpi, receiver

    async def _provision(self, client: GatewayClient, gateway_url: str) -> tuple[Cpo, Topology]:
        spec = self.scenario.gateway
        assert spec is not None
        party = Party(country_code=spec.party.country_code, party_id=spec.party.party_id)
        cpo = await client.create_cpo(
            spec.template,
            party,
            name_prefix=spec.name_prefix,
            mapping_profile=spec.mapping_profile,
            ocpp_security_profile=spec.ocpp_security_profile,
            template_params=dict(spec.template_params) or None,
        )
        self.cpo_id = cpo.cpo_id
        self.gateway = GatewayPorts(client, cpo.cpo_id)
        self.teardown.push(
            f"delete CPO {cpo.cpo_id}",
            lambda: client.delete_cpo(cpo.cpo_id),
            f"CPO {cpo.cpo_id} not deleted: DELETE {gateway_url.rstrip('/')}/ocpi/cpos/"
            f"{cpo.cpo_id} yourself",
        )
        await self._hold_lease(client, cpo.cpo_id)
        await client.wait_ready(cpo.cpo_id, timeout_s=spec.ready_timeout)
        if spec.ocpp_security_profile:
            # Security profile 1: every charger authenticates with its own password.
            for info in await client.chargers(cpo.cpo_id):
                if info.password is not None:
                    self.passwords[info.identity] = info.password
        return cpo, neutral_topology(await client.topology(cpo.cpo_id))

    async def _hold_lease(self, client: GatewayClient, cpo_id: str) -> None:
        """Put the CPO on a short lease renewed while the run lasts (see ``held_lease``)."""
        stack = AsyncExitStack()
        await stack.enter_async_context(held_lease(client, cpo_id, self.options.lease_s))
        self.teardown.push("stop renewing the lease", stack.aclose)

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
        self.teardown.push(
            "stop embedded gateway", stack.aclose, "embedded gateway not stopped (exits with us)"
        )
        return await self._phase(
            "gateway",
            "starting the embedded reference gateway",
            stack.enter_async_context(embedded_gateway(token)),
        )


def _finished(name: str, outcome: Outcome, message: str, started: float) -> Event:
    return PhaseFinished(
        phase=name, outcome=outcome, message=message, duration_s=time.monotonic() - started
    )
