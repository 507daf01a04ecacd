"""The scenario file's typed model: what a user writes, validated.

A scenario is a header (``name``, ``vars``, ``gateway`` or an inline ``topology``, optional
``csms``, ``ocpi`` and ``settings``) and its steps: either one ``steps`` list or named
``phases``, plus optional ``setup`` and ``teardown`` lists. Each step is a mapping with exactly
one action key (``plug_in: {evse: 0}``) and the optional step keys ``name`` and ``timeout``.
Blocks (``parallel``, ``repeat``, ``each``) hold steps of their own. The loader
(:mod:`ocpplab_sim.scenario.loader`) turns YAML into these objects and points every error at its
file, line and field.

New actions slot in by subclassing :class:`Action` (or :class:`Expectation`), adding the class to
``_ACTION_TYPES`` and a handler to the engine.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

from pydantic import Field, PrivateAttr

from ocpplab_sim.scenario.types import (
    ChargerSelection,
    ConnectorSpec,
    Duration,
    EvseSelection,
    EvseStatus,
    Selector,
    Strict,
    parse_duration,
)

__all__ = [
    "ACTIONS",
    "BLOCKS",
    "SHORTHAND_FIELD",
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

# Keys a step may carry next to its one action key.
STEP_KEYS = ("name", "timeout")


class PartySpec(Strict):
    country_code: Annotated[str, Field(pattern=r"^[A-Z]{2}$")]
    party_id: Annotated[str, Field(pattern=r"^[A-Z0-9]{3}$")]


class GatewaySpec(Strict):
    """Which CPO network to provision through the Gateway API (``POST /ocpi/cpos``).

    ``mapping_profile`` names the OCPP → OCPI table of the gateway the expectations assume.
    """

    template: Annotated[str, Field(min_length=1)]
    party: PartySpec
    name_prefix: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$")] | None = None
    mapping_profile: str | None = None
    ready_timeout: Duration = 60.0


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
    poll_interval: Duration = 0.2
    id_token: Annotated[str, Field(min_length=1, max_length=20)] = "OCPPLAB0001"
    meter_interval: Duration = 5.0
    heartbeat_timeout: Duration = 30.0
    stop_on_failure: bool = False
    step_timeout: Duration | None = None


class Action(Strict):
    """Base of every step's parameters. ``name`` labels the step in reports; ``timeout`` bounds
    how long the step may take (an overrun is an error of that step)."""

    name: str | None = None
    timeout: Duration | None = None
    key: ClassVar[str]
    _line: int | None = PrivateAttr(default=None)

    @property
    def line(self) -> int | None:
        """The 1-based line of this step in its file (``None`` when built in code)."""
        return self._line

    def at_line(self, line: int | None) -> Action:
        self._line = line
        return self


class Expectation(Action):
    """An action whose outcome is a verdict on the platform under test (a check in reports)."""


class Connect(Action):
    """Open the websocket of each selected charger, boot and report status."""

    key: ClassVar[str] = "connect"
    chargers: ChargerSelection = Selector(kind="all")


class Disconnect(Action):
    """Close the websocket of each selected charger cleanly."""

    key: ClassVar[str] = "disconnect"
    chargers: ChargerSelection = Selector(kind="all")


class PlugIn(Action):
    """Plug a cable into each selected EVSE (the EV connects)."""

    key: ClassVar[str] = "plug_in"
    evse: EvseSelection


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

    With ``stays`` the status must then hold for that long (every poll); without an explicit
    ``within`` it must hold from the first poll. ``connector`` fields are checked against each
    EVSE's OCPI connectors (one of them must match every field written).
    """

    key: ClassVar[str] = "expect_ocpi"
    evse: EvseSelection
    status: EvseStatus
    within: Duration | None = None
    stays: Duration | None = None
    connector: ConnectorSpec | None = None


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
    steps: Annotated[tuple[Step, ...], Field(min_length=1)]


class Repeat(Action):
    """Run the ``steps`` ``times`` times in order; ``${iteration}`` is 1, 2, …"""

    key: ClassVar[str] = "repeat"
    times: Annotated[int, Field(ge=1, le=10_000)]
    steps: Annotated[tuple[Step, ...], Field(min_length=1)]


class Each(Action):
    """Run the ``steps`` once per selected EVSE (binding ``${evse}`` to its uid) or per selected
    charger (binding ``${charger}`` to its identity), one after the other."""

    key: ClassVar[str] = "each"
    evse: EvseSelection | None = None
    charger: ChargerSelection | None = None
    steps: Annotated[tuple[Step, ...], Field(min_length=1)]

    @property
    def binding(self) -> Literal["evse", "charger"]:
        return "evse" if self.evse is not None else "charger"


Step = (
    Connect
    | Disconnect
    | PlugIn
    | Unplug
    | Authorize
    | StartCharging
    | StopCharging
    | Wait
    | ExpectOcpi
    | ExpectPush
    | Parallel
    | Repeat
    | Each
)

_ACTION_TYPES: tuple[type[Action], ...] = (
    *(Connect, Disconnect, PlugIn, Unplug, Authorize),
    *(StartCharging, StopCharging, Wait, ExpectOcpi, ExpectPush),
    *(Parallel, Repeat, Each),
)
ACTIONS: dict[str, type[Action]] = {cls.key: cls for cls in _ACTION_TYPES}
BLOCKS: tuple[type[Action], ...] = (Parallel, Repeat, Each)

# The short forms: `wait: 2s` means `wait: {duration: 2s}`, `plug_in: 0` means `plug_in: {evse: 0}`,
# `parallel: [...]` means `parallel: {steps: [...]}`.
SHORTHAND_FIELD: dict[str, str] = {
    "connect": "chargers",
    "disconnect": "chargers",
    "plug_in": "evse",
    "unplug": "evse",
    "authorize": "evse",
    "start_charging": "evse",
    "stop_charging": "evse",
    "wait": "duration",
    "parallel": "steps",
}


class Phase(Strict):
    """A named group of steps; reports show where each phase begins and ends."""

    name: Annotated[str, Field(min_length=1)]
    steps: Annotated[tuple[Step, ...], Field(min_length=1)]


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
    setup: tuple[Step, ...] = ()
    steps: tuple[Step, ...] = ()
    phases: tuple[Phase, ...] = ()
    teardown: tuple[Step, ...] = ()

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


def _rebuild() -> None:
    namespace: dict[str, Any] = {"Step": Step}
    for model in (Parallel, Repeat, Each, Phase, Scenario):
        model.model_rebuild(_types_namespace=namespace)


_rebuild()
