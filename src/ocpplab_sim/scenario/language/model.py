"""The scenario file's typed model: what a user writes, validated.

A scenario is a header (``name``, ``vars``, ``gateway`` or an inline ``topology``, optional
``csms``, ``ocpi`` and ``settings``) and its steps: either one ``steps`` list or named
``phases``, plus optional ``setup`` and ``teardown`` lists. Each step is a mapping with exactly
one action key (``plug_in: {evse: 0}``) and the optional step keys ``name`` and ``timeout``.
Blocks (``parallel``, ``repeat``, ``each``) hold steps of their own. The loader
(:mod:`ocpplab_sim.scenario.loader`) turns YAML into these objects and points every error at its
file, line and field.

The steps themselves are declared in :mod:`ocpplab_sim.scenario.registry` (a model, its short
form, its handler and its documentation): a new step is one ``register_step`` call.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

from pydantic import Field, PlainValidator, PrivateAttr, SerializeAsAny, model_validator

from ocpplab_sim.scenario.language.base import STEP_KEYS, Action, Expectation
from ocpplab_sim.scenario.language.mapping import OCPP_STATUSES
from ocpplab_sim.scenario.language.types import (
    ChargerSelection,
    ConnectorSpec,
    Duration,
    EvseSelection,
    EvseStatus,
    PositiveDuration,
    Selector,
    Strict,
    parse_duration,
)

__all__ = [
    "STEP_KEYS",
    "Action",
    "Authorize",
    "ChargerSelection",
    "Connect",
    "ConnectorSpec",
    "CsmsSpec",
    "Disconnect",
    "Duration",
    "Each",
    "EvseSelection",
    "EvseStatus",
    "ExpectOcpi",
    "ExpectPush",
    "Expectation",
    "GatewaySpec",
    "InlineCharger",
    "InlineEvse",
    "InlineTopology",
    "LoadFaults",
    "LoadSessions",
    "LoadSpec",
    "OcpiSpec",
    "Parallel",
    "PartySpec",
    "Phase",
    "PlugIn",
    "Repeat",
    "Scenario",
    "Selector",
    "Settings",
    "StartCharging",
    "Step",
    "StopCharging",
    "Unplug",
    "Wait",
    "parse_duration",
]


def _a_step(value: Any) -> Action:
    if not isinstance(value, Action):
        raise ValueError("a step is built by the loader (an Action of a registered step)")
    return value


#: Any step of the language (the registry says which): in code, an :class:`Action`.
Step = Action
#: A step as a field of a model: a built step, kept as it is (with its position).
StepItem = Annotated[Action, PlainValidator(_a_step), SerializeAsAny()]
StepList = Annotated[tuple[StepItem, ...], Field(min_length=1)]


class PartySpec(Strict):
    country_code: Annotated[str, Field(pattern=r"^[A-Z]{2}$")]
    party_id: Annotated[str, Field(pattern=r"^[A-Z0-9]{3}$")]


class GatewaySpec(Strict):
    """Which CPO network to provision through the Gateway API (``POST /ocpi/cpos``).

    ``mapping_profile`` is sent to the gateway and names the OCPP → OCPI table the expectations
    written in OCPP terms (``status_of_ocpp``) are translated through (see
    :mod:`ocpplab_sim.scenario.mapping`). ``ocpp_security_profile: 1`` makes every charger
    authenticate with its own password (HTTP Basic), learnt from the Gateway API.
    """

    template: Annotated[str, Field(min_length=1)]
    party: PartySpec
    name_prefix: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$")] | None = None
    mapping_profile: str | None = None
    ocpp_security_profile: Literal[0, 1] | None = None
    ready_timeout: PositiveDuration = 60.0
    #: parameters of a parameterised template (``large-network``: locations, chargers_per_location)
    template_params: dict[str, str | int] = Field(default_factory=dict)


class CsmsSpec(Strict):
    """Where the chargers connect; by default the gateway's own ``/ocpp`` endpoint."""

    url: Annotated[str, Field(pattern=r"^wss?://")]


class InlineEvse(Strict):
    """One EVSE of an inline charger; ``uid`` defaults to ``{identity}-{number}``."""

    uid: Annotated[str, Field(min_length=1)] | None = None
    topology_id: str | None = None


class InlineCharger(Strict):
    """A charger of an inline topology: its OCPP identity, version and EVSEs (a count or a list)."""

    identity: Annotated[str, Field(pattern=r"^[^/\s]+$")]
    ocpp_version: Literal["1.6", "2.0.1"]
    location: Annotated[str, Field(min_length=1)] = "local"
    evses: Annotated[int, Field(ge=1)] | tuple[InlineEvse, ...] = 1


class InlineTopology(Strict):
    """The chargers to simulate when no gateway provisions them (no OCPI checks then)."""

    chargers: Annotated[tuple[InlineCharger, ...], Field(min_length=1)]


class OcpiSpec(Strict):
    """How the harness talks OCPI to the CPO.

    ``version`` pins the OCPI version (default: the newest both sides speak); ``push`` runs a
    harness-side eMSP receiver whose URL is given in the credentials handshake, so the CPO can
    push Location updates that ``expect_push`` checks; ``roam_helper`` uses the gateway's
    ready-made handshake payload when it offers one.
    """

    version: Literal["2.2.1", "2.1.1"] | None = None
    push: bool = False
    roam_helper: bool = True


class Settings(Strict):
    """Run-wide defaults; every step may override what it names."""

    within: Duration = 30.0
    poll_interval: PositiveDuration = 0.2
    id_token: Annotated[str, Field(min_length=1, max_length=20)] = "OCPPLAB0001"
    meter_interval: PositiveDuration = 5.0
    heartbeat_timeout: PositiveDuration = 30.0
    stop_on_failure: bool = False
    step_timeout: PositiveDuration | None = None


class LoadSessions(Strict):
    """Charging sessions started across the fleet at ``rate`` per second, each ``length`` long
    (authorize, start, meter values every ``meter_interval``, stop, unplug)."""

    rate: Annotated[float, Field(ge=0)] = 0.0
    length: Duration = 30.0


class LoadFaults(Strict):
    """Faults on idle chargers at ``rate`` per second: EVSE 1 goes Faulted with ``error_code``
    (a 1.6 ChargePointErrorCode; 2.0.1 sends it as NotifyEvent techCode) and recovers after
    ``length``."""

    rate: Annotated[float, Field(ge=0)] = 0.0
    length: Duration = 10.0
    error_code: Annotated[str, Field(min_length=1, max_length=50)] = "OtherError"


class LoadSpec(Strict):
    """What ``ocpplab-sim load SCENARIO`` runs; ``ocpplab-sim run`` ignores it. The chargers are
    the scenario's (its gateway template, or its inline topology at ``csms.url``); every field
    can be overridden by the command-line flag of the same name."""

    chargers: Annotated[int, Field(ge=1)] | None = None
    shape: Literal["steady", "ramp", "spike", "soak"] | None = None
    duration: PositiveDuration | None = None
    ramp: Duration | None = None
    connect_rate: Annotated[float, Field(gt=0)] | None = None
    meter_interval: PositiveDuration | None = None
    sessions: LoadSessions = LoadSessions()
    faults: LoadFaults = LoadFaults()


class Connect(Action):
    """Open the websocket of each selected charger, boot and report status. A charger already
    connected is left as it is, so ``connect: all`` also connects the ones still offline; one
    that ``disconnect`` closed cannot connect again (checked before the run starts)."""

    key: ClassVar[str] = "connect"
    chargers: ChargerSelection = Selector(kind="all")


class Disconnect(Action):
    """Close the websocket of each selected charger cleanly, for good: after it the charger
    neither connects again nor acts (``network_loss`` and ``reconnect`` take one offline and
    back)."""

    key: ClassVar[str] = "disconnect"
    chargers: ChargerSelection = Selector(kind="all")


class PlugIn(Action):
    """Plug a cable into each selected EVSE (the EV connects). The EV may be described: its
    maximum power, battery size and state of charge (a full battery ends its demand)."""

    key: ClassVar[str] = "plug_in"
    evse: EvseSelection
    ev_max_power_w: Annotated[float, Field(gt=0)] | None = None
    battery_wh: Annotated[float, Field(gt=0)] | None = None
    soc_pct: Annotated[float, Field(ge=0, le=100)] | None = None

    @property
    def ev(self) -> dict[str, float]:
        """The EV parameters written, as keyword arguments of the charge point's plug_in."""
        fields = ("ev_max_power_w", "battery_wh", "soc_pct")
        return {name: getattr(self, name) for name in fields if getattr(self, name) is not None}


class Unplug(Action):
    """Unplug the cable of each selected EVSE (ends a session's physical part)."""

    key: ClassVar[str] = "unplug"
    evse: EvseSelection


class Authorize(Expectation):
    """Present an id token at each selected EVSE; the answer is a check against ``expect``."""

    key: ClassVar[str] = "authorize"
    evse: EvseSelection
    id_token: Annotated[str, Field(min_length=1, max_length=20)] | None = None
    expect: str = "Accepted"


class StartCharging(Action):
    """Start a session on each selected EVSE (plugging in and authorizing first when needed)."""

    key: ClassVar[str] = "start_charging"
    evse: EvseSelection
    id_token: Annotated[str, Field(min_length=1, max_length=20)] | None = None


class StopCharging(Action):
    """Stop the session on each selected EVSE with ``reason``."""

    key: ClassVar[str] = "stop_charging"
    evse: EvseSelection
    reason: str = "Local"


class Wait(Action):
    """Do nothing for ``duration``."""

    key: ClassVar[str] = "wait"
    duration: Duration


class ExpectOcpi(Expectation):
    """The OCPI EVSE status of every selected EVSE must become ``status`` within the deadline.

    ``status_of_ocpp`` writes it in OCPP terms instead (``Preparing``, ``Faulted``, ``offline``,
    ...): the OCPI status is then the one the scenario's mapping profile publishes for it. With
    ``stays`` the status must then hold for that long (every poll); without an explicit
    ``within`` it must hold from the first poll. ``connector`` fields are checked against each
    EVSE's OCPI connectors (one of them must match every field written).
    """

    key: ClassVar[str] = "expect_ocpi"
    evse: EvseSelection
    status: EvseStatus | None = None
    status_of_ocpp: Annotated[str, Field(min_length=1, examples=list(OCPP_STATUSES))] | None = None
    within: Duration | None = None
    stays: Duration | None = None
    connector: ConnectorSpec | None = None

    @model_validator(mode="after")
    def _one_status(self) -> ExpectOcpi:
        if (self.status is None) == (self.status_of_ocpp is None):
            raise ValueError("expect_ocpi takes exactly one of status or status_of_ocpp")
        return self

    @property
    def wanted(self) -> str:
        """The OCPI status expected (the OCPP one, marked, until the engine translates it)."""
        return self.status.value if self.status is not None else f"OCPP {self.status_of_ocpp}"


class ExpectPush(Expectation):
    """The CPO must push (PUT/PATCH to the harness's eMSP receiver) ``status`` for every selected
    EVSE within the deadline; every push must carry a valid, non-decreasing ``last_updated``."""

    key: ClassVar[str] = "expect_push"
    evse: EvseSelection
    status: EvseStatus
    within: Duration | None = None


class Parallel(Action):
    """Run the ``steps`` at the same time; the block ends when all have."""

    key: ClassVar[str] = "parallel"
    steps: StepList


class Repeat(Action):
    """Run the ``steps`` ``times`` times in order; ``${iteration}`` is 1, 2, …"""

    key: ClassVar[str] = "repeat"
    times: Annotated[int, Field(ge=1, le=10_000)]
    steps: StepList


class Each(Action):
    """Run the ``steps`` once per selected EVSE (binding ``${evse}`` to its uid) or per selected
    charger (binding ``${charger}`` to its identity), one after the other."""

    key: ClassVar[str] = "each"
    evse: EvseSelection | None = None
    charger: ChargerSelection | None = None
    steps: StepList

    @property
    def binding(self) -> Literal["evse", "charger"]:
        return "evse" if self.evse is not None else "charger"


class Phase(Strict):
    """A named group of steps; reports show where each phase begins and ends."""

    name: Annotated[str, Field(min_length=1)]
    steps: StepList


class Scenario(Strict):
    """A whole scenario file.

    Exactly one of ``gateway`` / ``topology`` and one of ``steps`` / ``phases`` (the loader
    checks both, with positions). ``vars`` are already substituted into every other field.
    """

    name: Annotated[str, Field(min_length=1)]
    description: str | None = None
    vars: dict[str, str | int | float | bool] = Field(default_factory=dict)
    gateway: GatewaySpec | None = None
    topology: InlineTopology | None = None
    csms: CsmsSpec | None = None
    ocpi: OcpiSpec = OcpiSpec()
    settings: Settings = Settings()
    load: LoadSpec | None = None
    setup: tuple[StepItem, ...] = ()
    steps: tuple[StepItem, ...] = ()
    phases: tuple[Phase, ...] = ()
    teardown: tuple[StepItem, ...] = ()

    _source: str = PrivateAttr(default="<scenario>")

    @property
    def source(self) -> str:
        """The file this scenario was read from, for error messages."""
        return self._source

    @property
    def step_lines(self) -> tuple[int | None, ...]:
        """The 1-based line of each top-level step of ``steps`` (``None`` where unknown)."""
        return tuple(step.line for step in self.steps)

    @property
    def main_phases(self) -> tuple[Phase, ...]:
        """The phases to run between setup and teardown; a plain ``steps`` list is one phase."""
        if self.phases:
            return self.phases
        return (Phase(name="steps", steps=self.steps),) if self.steps else ()

    def located(self, source: str) -> Scenario:
        """This scenario, remembering where it was written."""
        self._source = source
        return self

    def all_steps(self) -> list[tuple[str, Step]]:
        """Every step with its dotted field path, blocks before their children, in file order."""
        out: list[tuple[str, Step]] = []

        def walk(prefix: str, steps: tuple[Step, ...]) -> None:
            for index, step in enumerate(steps):
                where = f"{prefix}[{index}]"
                out.append((where, step))
                if isinstance(step, Parallel | Repeat | Each):
                    walk(f"{where}.{step.key}.steps", step.steps)

        walk("setup", self.setup)
        walk("steps", self.steps)
        for number, phase in enumerate(self.phases):
            walk(f"phases[{number}].steps", phase.steps)
        walk("teardown", self.teardown)
        return out
