"""The scenario file's typed model: what a user writes, validated.

A scenario is a header (``name``, ``vars``, ``gateway`` or an inline ``topology``, optional
``csms``, ``ocpi`` and ``settings``) and its steps: either one ``steps`` list or named
``phases``, plus optional ``setup`` and ``teardown`` lists. Each step is a mapping with exactly
one action key (``plug_in: {evse: 0}``) and the optional step keys ``name`` and ``timeout``.
Blocks (``parallel``, ``repeat``, ``each``) hold steps of their own. The loader
(:mod:`ocpplab_sim.scenario.loader`) turns YAML into these objects and points every error at its
file, line and field.

The steps themselves are declared by family in :mod:`ocpplab_sim.scenario.language.steps` (each
one's model, label, short form, handler and documentation, registered in the step registry of
:mod:`ocpplab_sim.scenario.language.base`): a new step is one ``register_step`` call. The
built-in ones are importable from here too, as they were.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, PrivateAttr

from ocpplab_sim.scenario.language.base import (
    STEP_KEYS,
    Action,
    Block,
    Expectation,
    StepItem,
    StepList,
)
from ocpplab_sim.scenario.language.steps.blocks import Each, Parallel, Repeat
from ocpplab_sim.scenario.language.steps.cycle import (
    Authorize,
    Connect,
    Disconnect,
    PlugIn,
    StartCharging,
    StopCharging,
    Unplug,
    Wait,
)
from ocpplab_sim.scenario.language.steps.expect import ExpectOcpi, ExpectPush
from ocpplab_sim.scenario.language.types import (
    ChargerSelection,
    ConnectorSpec,
    Duration,
    EvseSelection,
    EvseStatus,
    IdToken,
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

#: Any step of the language (the registry says which): in code, an :class:`Action`.
Step = Action


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
    id_token: IdToken = "OCPPLAB0001"
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
                if isinstance(step, Block):
                    walk(f"{where}.{step.key}.steps", step.steps)

        walk("setup", self.setup)
        walk("steps", self.steps)
        for number, phase in enumerate(self.phases):
            walk(f"phases[{number}].steps", phase.steps)
        walk("teardown", self.teardown)
        return out
