"""The Python API for people who write their own tests (re-exported by ``ocpplab_sim``).

* :class:`ReferenceGateway` starts the embedded reference gateway on a free loopback port.
* :func:`provision` / :class:`Network` create a CPO from a template through any Gateway API and
  delete it again; the network knows its chargers (identity, OCPP version, EVSEs).
* :class:`Charger` / :func:`start_charger` and :class:`Fleet` / :func:`start_fleet` run simulated
  charge points against any central system, driven with the verbs of the scenario steps, and
  await a status (:meth:`Charger.wait_for_status`) or a CALL of the central system
  (:meth:`Charger.wait_for_call`).
* :func:`run_scenario_file` runs a scenario file and returns its :class:`ScenarioResult`.

Everything is asyncio; every object that holds a resource is an async context manager that
releases it on exit, whatever happened inside. Errors are those of :mod:`ocpplab_sim.errors`.
See ``docs/python-api.md``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
from collections import deque
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, Self, TypeVar

import orjson

from ocpplab_sim.chargepoint import ArmedAnswer
from ocpplab_sim.errors import CsmsUnreachable, InputError, WaitTimeout
from ocpplab_sim.fleet import ChargePointConfig, FrameRecord, SimulatedChargePoint
from ocpplab_sim.gateway_client import (
    GatewayClient,
    Party,
    Topology,
    TopologyCharger,
    csms_url_for,
    held_lease,
)
from ocpplab_sim.reports import RunRecord, TraceWriter
from ocpplab_sim.scenario.execution.events import CheckResult, Event, Outcome
from ocpplab_sim.vocabulary import OcppVersion

__all__ = [
    "Charger",
    "Fleet",
    "Network",
    "OcppVersion",
    "ReferenceGateway",
    "ScenarioResult",
    "format_frames",
    "provision",
    "run_scenario_file",
    "start_charger",
    "start_fleet",
]

Payload = dict[str, Any]
T = TypeVar("T")

_DEFAULT_ID_TOKEN = "OCPPLAB0001"
_PAYLOAD_CHARS = 200
_MESSAGE_TYPES = {2: "CALL", 3: "CALLRESULT", 4: "CALLERROR"}


class _Resource:
    """An object started by ``start()`` and released by ``stop()``, usable as ``async with``
    (which starts it unless it was started already, as ``async with await start_charger()``)."""

    _started = False

    async def start(self) -> Self:
        raise NotImplementedError

    async def stop(self) -> None:
        raise NotImplementedError

    async def __aenter__(self) -> Self:
        return self if self._started else await self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()


# -- the reference gateway --------------------------------------------------------------------


class ReferenceGateway(_Resource):
    """The embedded reference gateway on a free loopback port, with a throw-away database.

    ``async with ReferenceGateway() as gateway:`` returns once it accepts connections at
    :attr:`url`; leaving the block stops it and deletes its database. ``token`` is the bearer
    token its Gateway API accepts (a random one by default). It runs in the current event loop.
    """

    def __init__(self, *, token: str | None = None, host: str = "127.0.0.1") -> None:
        self.token = token or secrets.token_urlsafe(24)
        self._host = host
        self._stack: AsyncExitStack | None = None
        self._url: str | None = None

    @property
    def url(self) -> str:
        """The Gateway API base URL, ``http://127.0.0.1:PORT``."""
        if self._url is None:
            raise RuntimeError("the reference gateway is not running")
        return self._url

    @property
    def csms_url(self) -> str:
        """The base URL of its OCPP central system, ``ws://127.0.0.1:PORT/ocpp``."""
        return csms_url_for(self.url)

    async def start(self) -> Self:
        """Start the gateway (once)."""
        from ocpplab_sim.launcher import embedded_gateway

        if self._stack is not None:
            raise RuntimeError("the reference gateway was already started")
        _quiet_gateway_logs()
        self._started = True
        self._stack = AsyncExitStack()
        self._url = await self._stack.enter_async_context(
            embedded_gateway(self.token, host=self._host)
        )
        return self

    async def stop(self) -> None:
        """Stop the gateway and delete its database. Idempotent."""
        stack, self._stack = self._stack, None
        if stack is not None:
            await stack.aclose()

    def provision(self, template: str, **options: Any) -> Network:
        """:func:`provision` on this gateway: ``async with gateway.provision("small-urban-ac")``."""
        return provision(self.url, self.token, template, **options)


def _quiet_gateway_logs() -> None:
    """The embedded gateway's warnings (e.g. an OCPI peer it cannot reach) are about the
    platform under test only when that is a real one: like the command line, keep them to
    errors, unless the application set a level for the gateway's logger itself."""
    gateway_log = logging.getLogger("ocpplab_sim.gateway")
    if gateway_log.level == logging.NOTSET:
        gateway_log.setLevel(logging.ERROR)


# -- a simulated charger ----------------------------------------------------------------------


@dataclass
class _Waiter:
    check: Callable[[], object | None]
    future: asyncio.Future[object]


class Charger(_Resource):
    """One simulated OCPP 1.6J or 2.0.1 charge point against any central system.

    It connects to ``{csms_url}/{identity}`` on :meth:`start` (boot, every status, heartbeats)
    and closes the connection on :meth:`stop`. ``evses`` EVSEs are numbered from 1 (1.6
    connectorId, 2.0.1 evseId). ``password`` sends HTTP Basic auth (security profile 1);
    ``strict`` refuses frames that violate the official schemas; ``options`` are any other
    field of :class:`~ocpplab_sim.fleet.ChargePointConfig` (``vendor``, ``model``,
    ``max_power_w``, ``call_timeout_s``, ``seed`` …). The last ``keep_frames`` OCPP frames are
    kept (:attr:`frames`, :meth:`format_frames`).

    Each verb returns once the central system answered every CALL it caused, like the scenario
    step of the same name; :attr:`point` is the underlying
    :class:`~ocpplab_sim.fleet.SimulatedChargePoint` for anything else.
    """

    def __init__(
        self,
        identity: str,
        csms_url: str,
        *,
        version: OcppVersion = "1.6",
        evses: int = 1,
        password: str | None = None,
        strict: bool = False,
        meter_interval_s: float = 10.0,
        keep_frames: int = 200,
        **options: Any,
    ) -> None:
        try:
            config = ChargePointConfig(
                identity=identity,
                ocpp_version=version,
                evse_count=evses,
                csms_url=csms_url,
                password=password,
                strict=strict,
                meter_interval_s=meter_interval_s,
                **options,
            )
        except (TypeError, ValueError) as exc:
            raise InputError(f"charger {identity!r}: {exc}") from exc
        self.config = config
        self.identity = identity
        self.version: OcppVersion = version
        self._frames: deque[FrameRecord] = deque(maxlen=max(1, keep_frames))
        self._csms_calls: deque[tuple[str, Payload]] = deque(maxlen=1000)
        self._waiters: list[_Waiter] = []
        self._wake_pending = False
        self.point = SimulatedChargePoint(config, on_frame=self._observe)

    # -- lifecycle --------------------------------------------------------------------------

    async def start(self) -> Self:
        """Connect and boot; returns once every status was reported. Raises
        :class:`~ocpplab_sim.errors.CsmsUnreachable` if the websocket cannot be opened."""
        self._started = True
        try:
            await self.point.start()
        finally:
            self._wake()
        return self

    async def stop(self) -> None:
        """Close the connection (code 1000). Idempotent; never raises."""
        await self.point.stop()
        self._wake()

    @property
    def connected(self) -> bool:
        """Whether the websocket is open."""
        return self.point.connected

    # -- what it saw -----------------------------------------------------------------------

    @property
    def frames(self) -> tuple[FrameRecord, ...]:
        """The last OCPP frames sent and received, oldest first."""
        return tuple(self._frames)

    def format_frames(self, last: int = 30) -> str:
        """The last ``last`` frames, one line each (see :func:`format_frames`)."""
        return format_frames(list(self._frames)[-last:])

    def status(self, evse: int = 1) -> str:
        """The EVSE's status in the version-neutral vocabulary of OCPP 1.6 (``Available``,
        ``Preparing``, ``Charging``, ``SuspendedEV``, ``Finishing``, ``Faulted`` …), for 2.0.1
        chargers too."""
        return self.point.status(evse)

    def energy_wh(self, evse: int = 1) -> float:
        """The EVSE's energy register in Wh, integrated up to now."""
        return self.point.energy_wh(evse)

    async def wait_for_status(self, evse: int, status: str, *, timeout_s: float = 10.0) -> None:
        """Return once EVSE ``evse`` has ``status`` (see :meth:`status`), at once if it has it
        now. Raises :class:`~ocpplab_sim.errors.WaitTimeout` naming the last status seen."""

        def check() -> object | None:
            return True if self.point.status(evse) == status else None

        def failed() -> str:
            return (
                f"charger {self.identity}: EVSE {evse} not {status} after {timeout_s:g} s "
                f"(last status: {self.point.status(evse)})"
            )

        await self._wait(check, timeout_s, failed)

    async def wait_for_call(self, action: str, *, timeout_s: float = 10.0) -> Payload:
        """The payload of the oldest CALL ``action`` the central system sent this charger that
        no earlier ``wait_for_call`` returned, waiting for one if there is none yet. Raises
        :class:`~ocpplab_sim.errors.WaitTimeout` naming the CALLs that did come."""

        def check() -> object | None:
            for item in self._csms_calls:
                if item[0] == action:
                    self._csms_calls.remove(item)
                    return item[1]
            return None

        def failed() -> str:
            seen = sorted({name for name, _ in self._csms_calls}) or ["none"]
            return (
                f"charger {self.identity}: no {action} from the central system after "
                f"{timeout_s:g} s (CALLs not yet taken: {', '.join(seen)})"
            )

        payload: Payload = await self._wait(check, timeout_s, failed)  # type: ignore[assignment]
        return payload

    # -- the verbs of the scenario steps ----------------------------------------------------

    async def plug_in(
        self,
        evse: int = 1,
        *,
        ev_max_power_w: float | None = None,
        battery_wh: float | None = None,
        soc_pct: float = 20.0,
    ) -> None:
        """A cable is plugged in (1.6 Preparing, 2.0.1 Occupied); the EV may be described."""
        await self._do(
            self.point.plug_in(
                evse, ev_max_power_w=ev_max_power_w, battery_wh=battery_wh, soc_pct=soc_pct
            )
        )

    async def unplug(self, evse: int = 1) -> None:
        """The cable is removed; a running transaction ends first (EVDisconnected)."""
        await self._do(self.point.unplug(evse))

    async def authorize(self, evse: int = 1, id_token: str = _DEFAULT_ID_TOKEN) -> str:
        """Authorize ``id_token``; returns the status the central system gave."""
        return await self._do(self.point.authorize(evse, id_token))

    async def start_charging(self, evse: int = 1, id_token: str = _DEFAULT_ID_TOKEN) -> None:
        """Plug in if needed, authorize and start a transaction. Raises
        :class:`~ocpplab_sim.errors.ChargePointError` if the token is not accepted."""
        await self._do(self.point.start_charging(evse, id_token))

    async def stop_charging(self, evse: int = 1, reason: str = "Local") -> None:
        """End the transaction; the cable stays in."""
        await self._do(self.point.stop_charging(evse, reason))

    async def ev_requests_energy(self, evse: int = 1) -> None:
        """The EV draws energy again (Charging)."""
        await self._do(self.point.set_ev_demand(evse, True))

    async def ev_stops_energy(self, evse: int = 1) -> None:
        """The EV stops drawing energy (SuspendedEV)."""
        await self._do(self.point.set_ev_demand(evse, False))

    async def power_update(self, evse: int, limit_w: float | None) -> None:
        """Cap the power the EVSE offers (0: SuspendedEVSE; None: no cap)."""
        await self._do(self.point.set_power_limit(evse, limit_w))

    async def inject_fault(self, evse: int = 1, error_code: str = "OtherError") -> None:
        """A fault on the EVSE (Faulted; a running transaction ends)."""
        await self._do(self.point.set_fault(evse, True, error_code))

    async def clear_fault(self, evse: int = 1) -> None:
        """Clear the EVSE's fault; it reports its status again."""
        await self._do(self.point.set_fault(evse, False))

    async def network_loss(self) -> None:
        """The network goes down until :meth:`reconnect`; transaction messages queue up."""
        await self._do(self.point.disconnect())

    async def reconnect(self) -> None:
        """The network comes back: the queue is delivered, then every status."""
        await self._do(self.point.reconnect())

    async def reboot(self, reason: str = "PowerUp") -> None:
        """Power-cycle: transactions end, the connection closes and opens, it boots again."""
        await self._do(self.point.reboot(reason))

    async def set_configuration(self, key: str, value: str) -> bool:
        """Change a setting by 1.6 key or 2.0.1 ``Component.Variable``; False when unknown,
        read-only or invalid."""
        return await self._do(self.point.set_configuration(key, value))

    async def send_raw(self, action: str, payload: Payload | None = None) -> Payload:
        """Send any CALL and return the central system's answer."""
        return await self._do(self.point.send_raw(action, payload or {}))

    async def data_transfer(
        self, vendor_id: str, message_id: str | None = None, data: str | None = None
    ) -> Payload:
        """DataTransfer to the central system; returns its answer."""
        return await self._do(self.point.data_transfer(vendor_id, message_id, data))

    def respond(
        self, action: str, *, status: str | None = None, payload: Payload | None = None
    ) -> ArmedAnswer:
        """Arm the answer to the next CALL ``action`` from the central system: ``status`` fills
        its status field, ``payload`` replaces it. ``cancel()`` on the result disarms it."""
        return self.point.answer_next(action, payload, status=status)

    # -- waking waiters ---------------------------------------------------------------------

    async def _do(self, work: Awaitable[T]) -> T:
        try:
            return await work
        finally:
            self._wake()

    def _observe(self, record: FrameRecord) -> None:
        self._frames.append(record)
        message = record.message
        if record.direction == "in" and len(message) >= 4 and message[0] == 2:
            payload = message[3] if isinstance(message[3], dict) else {}
            self._csms_calls.append((str(message[2]), payload))
        if self._waiters and not self._wake_pending:
            # after the charge point has finished handling the frame
            self._wake_pending = True
            asyncio.get_running_loop().call_soon(self._wake)

    def _wake(self) -> None:
        self._wake_pending = False
        for waiter in list(self._waiters):
            if waiter.future.done():
                continue
            value = waiter.check()
            if value is not None:
                waiter.future.set_result(value)

    async def _wait(
        self, check: Callable[[], object | None], timeout_s: float, failed: Callable[[], str]
    ) -> object:
        value = check()
        if value is not None:
            return value
        waiter = _Waiter(check, asyncio.get_running_loop().create_future())
        self._waiters.append(waiter)
        try:
            async with asyncio.timeout(timeout_s):
                return await waiter.future
        except TimeoutError:
            raise WaitTimeout(failed()) from None
        finally:
            self._waiters.remove(waiter)


async def start_charger(identity: str, csms_url: str, **options: Any) -> Charger:
    """A started :class:`Charger` (``options`` as for its constructor); stop it with
    :meth:`Charger.stop` or ``async with await start_charger(...)``."""
    charger = Charger(identity, csms_url, **options)
    await charger.start()
    return charger


def format_frames(frames: Sequence[FrameRecord]) -> str:
    """OCPP frames one line each: local time, direction (``→`` sent by the charger, ``←``
    received), message type, action (a CALLRESULT's from its CALL when that is among
    ``frames``) and the payload, cut at 200 characters."""
    actions: dict[str, str] = {}
    lines = []
    for record in frames:
        message = record.message
        kind = _MESSAGE_TYPES.get(message[0], str(message[0])) if message else "?"
        message_id = str(message[1]) if len(message) > 1 else ""
        if kind == "CALL" and len(message) >= 4:
            action = str(message[2])
            actions[message_id] = action
            body: object = message[3]
        elif kind == "CALLERROR":
            action = actions.pop(message_id, "")
            body = message[2:]
        else:
            action = actions.pop(message_id, "")
            body = message[2] if len(message) > 2 else None
        text = orjson.dumps(body, default=str).decode()
        if len(text) > _PAYLOAD_CHARS:
            text = text[: _PAYLOAD_CHARS - 1] + "…"
        at = datetime.fromtimestamp(record.at).strftime("%H:%M:%S.%f")[:-3]
        arrow = "→" if record.direction == "out" else "←"
        note = f" ({record.note})" if record.note else ""
        lines.append(f"{at} {record.identity} {arrow} {kind} {action} {text}{note}".rstrip())
    return "\n".join(lines)


# -- a fleet -----------------------------------------------------------------------------------


class Fleet(_Resource):
    """Several :class:`Charger` objects started and stopped together, addressed by identity.

    :meth:`start` starts them at most ``max_concurrent_starts`` at a time; if any fails, all
    are stopped again and the first failure (in the given order) is raised.
    """

    def __init__(self, chargers: Sequence[Charger], *, max_concurrent_starts: int = 50) -> None:
        if max_concurrent_starts < 1:
            raise InputError("max_concurrent_starts must be >= 1")
        self._chargers: dict[str, Charger] = {}
        for charger in chargers:
            if charger.identity in self._chargers:
                raise InputError(f"duplicate charger identity {charger.identity!r}")
            self._chargers[charger.identity] = charger
        self._gate = max_concurrent_starts

    def __getitem__(self, identity: str) -> Charger:
        return self._chargers[identity]

    def __iter__(self) -> Iterator[Charger]:
        return iter(self._chargers.values())

    def __len__(self) -> int:
        return len(self._chargers)

    async def start(self) -> Self:
        """Start every charger; on any failure stop them all and raise the first one."""
        self._started = True
        gate = asyncio.Semaphore(self._gate)

        async def start(charger: Charger) -> None:
            async with gate:
                await charger.start()

        results = await asyncio.gather(*(start(c) for c in self), return_exceptions=True)
        failures = [
            (charger.identity, result)
            for charger, result in zip(self, results, strict=True)
            if isinstance(result, BaseException)
        ]
        if not failures:
            return self
        await self.stop()
        identity, exc = failures[0]
        others = f" ({len(failures) - 1} more failed)" if len(failures) > 1 else ""
        if isinstance(exc, CsmsUnreachable):
            raise CsmsUnreachable(f"charger {identity}: {exc}{others}") from exc
        if isinstance(exc, Exception):
            exc.add_note(f"charger {identity} failed to start{others}")
        raise exc

    async def stop(self) -> None:
        """Stop every charger. Never raises."""
        await asyncio.gather(*(c.stop() for c in self), return_exceptions=True)


async def start_fleet(
    identities: Sequence[str], csms_url: str, *, max_concurrent_starts: int = 50, **options: Any
) -> Fleet:
    """A started :class:`Fleet` of chargers with these identities, all with the same
    ``options`` (as for :class:`Charger`)."""
    fleet = Fleet(
        [Charger(identity, csms_url, **options) for identity in identities],
        max_concurrent_starts=max_concurrent_starts,
    )
    return await fleet.start()


# -- a provisioned network ---------------------------------------------------------------------


class Network(_Resource):
    """A CPO created from a gateway template, deleted again by :meth:`stop`.

    Made by :func:`provision`. After :meth:`start` (which waits until the CPO is ready) it
    knows its :attr:`topology`: locations, chargers with identity, OCPP version and EVSEs (each
    EVSE's ``evse_uid`` is its OCPI uid). :meth:`start_charger` / :meth:`start_fleet` run its
    chargers against :attr:`csms_url` (with their passwords under security profile 1); they
    are stopped before the CPO is deleted. The CPO is held on a short lease while the network
    runs, so a process killed outright leaves it behind for ``lease_s`` at most.
    """

    def __init__(
        self,
        gateway_url: str,
        token: str,
        template: str,
        *,
        party: tuple[str, str] = ("FR", "ABC"),
        name_prefix: str | None = None,
        csms_url: str | None = None,
        security_profile: Literal[0, 1] | None = None,
        template_params: Mapping[str, str | int] | None = None,
        ready_timeout_s: float = 60.0,
        lease_s: float = 60.0,
    ) -> None:
        self.gateway_url = gateway_url.rstrip("/")
        self.template = template
        self.csms_url = csms_url or csms_url_for(self.gateway_url)
        self.client = GatewayClient(self.gateway_url, token)
        self._party = Party(country_code=party[0], party_id=party[1])
        self._name_prefix = name_prefix
        self._security_profile = security_profile
        self._template_params = dict(template_params) if template_params else None
        self._ready_timeout_s = ready_timeout_s
        self._lease_s = lease_s
        self._stack: AsyncExitStack | None = None
        self._cpo_id: str | None = None
        self._topology: Topology | None = None
        self._passwords: dict[str, str] = {}
        self._chargers: dict[str, Charger] = {}

    @property
    def cpo_id(self) -> str:
        """The id of the CPO in the Gateway API."""
        if self._cpo_id is None:
            raise RuntimeError("the network is not provisioned")
        return self._cpo_id

    @property
    def topology(self) -> Topology:
        """Locations → chargers → EVSEs, as the gateway lists them."""
        if self._topology is None:
            raise RuntimeError("the network is not provisioned")
        return self._topology

    @property
    def chargers(self) -> tuple[TopologyCharger, ...]:
        """Every charger of the network (``identity``, ``ocpp_version``, ``evses``)."""
        return self.topology.chargers

    @property
    def started_chargers(self) -> tuple[Charger, ...]:
        """The chargers started through this network so far."""
        return tuple(self._chargers.values())

    async def start(self) -> Self:
        """Create the CPO, hold its lease, wait until it is ready, read its topology. On any
        failure whatever was created is deleted again before the error propagates."""
        if self._stack is not None:
            raise RuntimeError("the network was already provisioned")
        self._started = True
        stack = self._stack = AsyncExitStack()
        try:
            stack.push_async_callback(self.client.aclose)
            cpo = await self.client.create_cpo(
                self.template,
                self._party,
                name_prefix=self._name_prefix,
                ocpp_security_profile=self._security_profile,
                template_params=self._template_params,
            )
            self._cpo_id = cpo.cpo_id
            stack.push_async_callback(self.client.delete_cpo, cpo.cpo_id)
            await stack.enter_async_context(held_lease(self.client, cpo.cpo_id, self._lease_s))
            stack.push_async_callback(self._stop_chargers)
            await self.client.wait_ready(cpo.cpo_id, timeout_s=self._ready_timeout_s)
            for info in await self.client.chargers(cpo.cpo_id):
                if info.password is not None:
                    self._passwords[info.identity] = info.password
            self._topology = await self.client.topology(cpo.cpo_id)
        except BaseException:
            await self.stop()
            raise
        return self

    async def stop(self) -> None:
        """Stop the chargers started through it, delete the CPO, close the client.
        Idempotent."""
        stack, self._stack = self._stack, None
        if stack is not None:
            await stack.aclose()

    def charger(self, identity: str) -> TopologyCharger:
        """The network's charger with this identity; :class:`~ocpplab_sim.errors.InputError`
        naming the identities there are if there is none."""
        try:
            return self.topology.charger(identity)
        except KeyError:
            known = ", ".join(c.identity for c in self.chargers)
            raise InputError(
                f"no charger {identity!r} in CPO {self.cpo_id} (its chargers: {known})"
            ) from None

    def new_charger(self, identity: str | None = None, **options: Any) -> Charger:
        """A :class:`Charger` (not started) for one of the network's chargers, with its OCPP
        version, EVSE count and password (a ``version`` or ``evses`` that differs is an
        :class:`~ocpplab_sim.errors.InputError`); ``identity=None`` picks the first one not
        taken yet (with ``version="2.0.1"`` the first such one of that version)."""
        version = options.pop("version", None)
        if identity is None:
            free = [
                c
                for c in self.chargers
                if c.identity not in self._chargers and version in (None, c.ocpp_version)
            ]
            if not free:
                which = f"OCPP {version} " if version else ""
                raise InputError(f"CPO {self.cpo_id}: every {which}charger is taken")
            identity = free[0].identity
        spec = self.charger(identity)
        if version is not None and version != spec.ocpp_version:
            raise InputError(
                f"charger {identity} of CPO {self.cpo_id} speaks OCPP {spec.ocpp_version}, "
                f"not {version}"
            )
        evses = options.pop("evses", len(spec.evses))
        if evses != len(spec.evses):
            raise InputError(
                f"charger {identity} of CPO {self.cpo_id} has {len(spec.evses)} EVSE(s), "
                f"not {evses}"
            )
        if identity in self._chargers:
            raise InputError(f"charger {identity} of CPO {self.cpo_id} was already started")
        options.setdefault("password", self._passwords.get(identity))
        charger = Charger(
            identity,
            options.pop("csms_url", self.csms_url),
            version=spec.ocpp_version,
            evses=evses,
            **options,
        )
        self._chargers[identity] = charger
        return charger

    async def start_charger(self, identity: str | None = None, **options: Any) -> Charger:
        """:meth:`new_charger`, started (it is stopped with the network)."""
        return await self.new_charger(identity, **options).start()

    async def start_fleet(self, identities: Sequence[str] | None = None, **options: Any) -> Fleet:
        """A started :class:`Fleet` of the network's chargers (all of them by default)."""
        chosen = identities if identities is not None else [c.identity for c in self.chargers]
        fleet = Fleet([self.new_charger(identity, **options) for identity in chosen])
        return await fleet.start()

    async def ocpi_status(self, evse_uid: str) -> str | None:
        """The OCPI status the gateway currently publishes for this EVSE (e.g. ``AVAILABLE``,
        ``CHARGING``); None before it has one."""
        report = await self.client.report(self.cpo_id)
        for evse in report.evses:
            if evse.evse_uid == evse_uid:
                return evse.ocpi_status
        raise InputError(f"no EVSE {evse_uid!r} in CPO {self.cpo_id}")

    async def wait_for_ocpi_status(
        self, evse_uid: str, status: str, *, timeout_s: float = 30.0, poll_s: float = 0.2
    ) -> None:
        """Poll the gateway every ``poll_s`` until the EVSE's OCPI status is ``status``.
        Raises :class:`~ocpplab_sim.errors.WaitTimeout` naming the last status seen."""
        last: str | None = None
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout_s):
                while True:
                    last = await self.ocpi_status(evse_uid)
                    if last == status:
                        return
                    await asyncio.sleep(poll_s)
        raise WaitTimeout(
            f"EVSE {evse_uid} of CPO {self.cpo_id}: OCPI status not {status} after "
            f"{timeout_s:g} s (last status: {last})"
        )

    async def _stop_chargers(self) -> None:
        await asyncio.gather(*(c.stop() for c in self._chargers.values()), return_exceptions=True)


def provision(gateway_url: str, token: str, template: str, **options: Any) -> Network:
    """A :class:`Network` of ``template`` on the gateway at ``gateway_url``, to use as
    ``async with provision(url, token, "small-urban-ac") as network:``. ``options``:
    ``party`` (country code, party id), ``name_prefix``, ``csms_url`` (where its chargers
    connect; default the gateway's own central system), ``security_profile``,
    ``template_params``, ``ready_timeout_s``, ``lease_s``."""
    return Network(gateway_url, token, template, **options)


# -- scenario files ----------------------------------------------------------------------------


@dataclass(frozen=True)
class ScenarioResult:
    """The verdict of one scenario run.

    ``exit_code`` is that of ``ocpplab-sim run`` (0 passed, 1 failed, 2 invalid input, 3
    unreachable); ``checks`` every expectation's verdict in order; ``record`` every event of
    the run, from which :mod:`ocpplab_sim.reports` writes JUnit, JSON or HTML reports.
    """

    exit_code: int
    message: str
    checks: tuple[CheckResult, ...]
    record: RunRecord

    @property
    def passed(self) -> bool:
        """Every check passed and every step completed."""
        return self.exit_code == 0

    @property
    def failed_checks(self) -> tuple[CheckResult, ...]:
        """The checks that did not pass."""
        return tuple(c for c in self.checks if c.outcome is not Outcome.PASSED)


async def run_scenario_file(
    path: str | os.PathLike[str],
    *,
    gateway_url: str | None = None,
    token: str | None = None,
    csms_url: str | None = None,
    seed: int = 0,
    strict: bool = False,
    lease_s: float = 60.0,
    trace: str | os.PathLike[str] | None = None,
    on_event: Callable[[Event], None] | None = None,
) -> ScenarioResult:
    """Run the scenario file at ``path`` like ``ocpplab-sim run`` and return its result.

    ``gateway_url=None`` starts the embedded reference gateway (unless the scenario has an
    inline topology); a ``gateway_url`` needs its ``token``. ``trace`` writes every OCPP frame
    as JSON Lines; ``on_event`` sees every event as it happens (e.g.
    :class:`ocpplab_sim.reports.ConsoleReporter`). An invalid file raises
    :class:`~ocpplab_sim.errors.ScenarioError`; everything else ends in the result, after
    teardown.
    """
    from ocpplab_sim.runner import RunOptions, run_scenario
    from ocpplab_sim.scenario.language.loader import load_scenario

    scenario = load_scenario(Path(path))
    if gateway_url is None:
        _quiet_gateway_logs()
    writer = TraceWriter(Path(trace)) if trace is not None else None
    record = RunRecord()

    def emit(event: Event) -> None:
        record(event)
        if on_event is not None:
            on_event(event)

    options = RunOptions(
        gateway_url=gateway_url,
        token=token,
        csms_url=csms_url,
        seed=seed,
        strict=strict,
        on_frame=writer,
        lease_s=lease_s,
    )
    try:
        exit_code = await run_scenario(scenario, options, emit)
    finally:
        if writer is not None:
            writer.close()
    message = record.finished.message if record.finished is not None else ""
    return ScenarioResult(exit_code, message, tuple(record.checks), record)
