"""What a step is, and which steps there are: the :class:`Action` base of every step (with its
label and its loop bindings), :class:`Block` (a step holding steps), and the step registry.

A step is declared once, in the module of its family (:mod:`ocpplab_sim.scenario.language.steps`
for the built-in ones): its model, an :class:`Action` whose ``key`` is the action name written in
YAML and whose :meth:`Action.target` says what its label shows; and a :class:`StepSpec` naming
that model, its handler (how the engine runs it), the field its short form fills
(``plug_in: 0`` means ``plug_in: {evse: 0}``) and what it does to a charger's connection for the
static checks (``lifecycle``). The loader's action names and short forms, the JSON Schema's step
list, the engine's dispatch, the static checks, the labels in reports and ``docs/steps.md`` all
read it, so adding a step is one :func:`register_step` call next to its model::

    class Beep(Action):
        \"\"\"Beep each selected EVSE ``times`` times.\"\"\"

        key: ClassVar[str] = "beep"
        evse: EvseSelection
        times: int = 1

    async def beep(run: StepRun, step: Beep) -> tuple[Outcome, str]:
        return await run.on_evses(step.evse, lambda port, n: port.beep(n, step.times))

    register_step(StepSpec(Beep, beep, shorthand="evse", lifecycle="connected"))

A handler gets the engine's :class:`~ocpplab_sim.scenario.engine.StepRun` (the step's index,
label, the charge points, the topology, the settings, the clock, helpers to act on every
selected EVSE or charger) and the step; it returns ``(outcome, message)`` for an action, or a
:class:`~ocpplab_sim.scenario.events.CheckResult` for a check (recorded and reported as one).
The module of a step imports nothing of the execution at module level: the handler reaches the
engine through ``run`` only.

The built-in steps are registered by :mod:`ocpplab_sim.scenario.language.steps`, loaded on
first use.
"""

from __future__ import annotations

import importlib
from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, Field, PlainValidator, PrivateAttr, SerializeAsAny

from ocpplab_sim.scenario.language.types import PositiveDuration, Selector, Strict
from ocpplab_sim.scenario.language.variables import bind_text

if TYPE_CHECKING:
    from ocpplab_sim.scenario.execution.events import CheckResult, Outcome
    from ocpplab_sim.topology import Topology

__all__ = [
    "STEP_KEYS",
    "Action",
    "Block",
    "Expectation",
    "Handler",
    "Lifecycle",
    "StepItem",
    "StepList",
    "StepSpec",
    "bind_step",
    "first_paragraph",
    "register_step",
    "registered",
    "shorthand_fields",
    "spec_for",
    "step_label",
    "step_models",
    "step_specs",
    "unregister_step",
]

# Keys a step may carry next to its one action key.
STEP_KEYS = ("name", "timeout")


class Action(Strict):
    """Base of every step's parameters. ``name`` labels the step in reports; ``timeout`` bounds
    how long the step may take (an overrun is an error of that step)."""

    name: str | None = None
    timeout: PositiveDuration | None = None
    key: ClassVar[str]
    _line: int | None = PrivateAttr(default=None)
    _column: int | None = PrivateAttr(default=None)

    @property
    def line(self) -> int | None:
        """The 1-based line of this step in its file (``None`` when built in code)."""
        return self._line

    @property
    def column(self) -> int | None:
        """The 1-based column where this step starts (``None`` when built in code)."""
        return self._column

    def at_line(self, line: int | None, column: int | None = None) -> Action:
        self._line = line
        self._column = column
        return self

    def label(self) -> str:
        """How reports name the step: its ``name`` if given, else its action and its target."""
        return self.name or f"{self.key}{self.target()}"

    def target(self) -> str:
        """What the label shows after the action name (`` index 0``): by default the step's
        selector (``evse``, else ``chargers``), after its ``action`` if it has one
        (`` Heartbeat to all``). A step that says it better overrides this."""
        evse: Selector | None = getattr(self, "evse", None)
        chargers: Selector | None = getattr(self, "chargers", None)
        action = getattr(self, "action", None)
        selected = evse or chargers
        target = f" {selected.describe()}" if selected is not None else ""
        return f" {action}{target and ' to' + target}" if isinstance(action, str) else target


class Expectation(Action):
    """An action whose outcome is a verdict on the platform under test (a check in reports)."""


def _a_step(value: Any) -> Action:
    if not isinstance(value, Action):
        raise ValueError("a step is built by the loader (an Action of a registered step)")
    return value


#: A step as a field of a model: a built step, kept as it is (with its position).
StepItem = Annotated[Action, PlainValidator(_a_step), SerializeAsAny()]
StepList = Annotated[tuple[StepItem, ...], Field(min_length=1)]

#: ``(bindings, suffix)``: one round of a block, the loop variables it binds and what its
#: children's labels end with (`` [2/3]``).
Round = tuple[dict[str, str], str]


class Block(Action):
    """A step holding ``steps`` of its own (a subclass declares the field): the loader parses
    them, the schema refers to the step list, the engine runs them in rounds and reports the
    children's outcomes, the static checks walk them."""

    #: The children start together, once (``parallel``), rather than in order, round by round.
    concurrent: ClassVar[bool] = False
    #: How many rounds the static checks walk at most (``None``: every round).
    checked_rounds: ClassVar[int | None] = None

    if TYPE_CHECKING:
        steps: tuple[Action, ...]

    def rounds(self, topology: Topology | None, *, seed: int = 0) -> Iterator[Round]:
        """The rounds the children run in. Without a topology (the loader's checks before
        anything is provisioned) a round that depends on it is one round, unbound."""
        yield {}, ""


# -- the registry -------------------------------------------------------------------------------

#: ``(run, step) -> (outcome, message) | CheckResult``; ``run`` is the engine's StepRun.
Handler = Callable[[Any, Any], Awaitable["tuple[Outcome, str] | CheckResult"]]

#: What a step does to, or needs of, each charger its ``chargers`` selector (else its ``evse``
#: selector) picks, for the static checks (:mod:`ocpplab_sim.scenario.preflight`):
#: ``connect`` opens it once (not after ``offline``: ``online`` brings it back), ``disconnect``
#: closes it for good, ``offline`` / ``online`` take it off the network and back; ``use`` acts
#: on it, so it must not be closed (offline or not yet connected will do: a cable is plugged
#: into a charger that is offline); ``connected`` needs it connected: not before ``connect``,
#: nor while offline, nor after ``disconnect``.
Lifecycle = Literal["connect", "disconnect", "offline", "online", "use", "connected"]


def first_paragraph(cls: type) -> str:
    """The first paragraph of a class's docstring, on one line."""
    return (cls.__doc__ or "").strip().split("\n\n")[0].replace("\n", " ")


@dataclass(frozen=True)
class StepSpec:
    """One step of the language.

    ``lifecycle``: what the step does to, or needs of, the chargers it selects (see
    :data:`Lifecycle`); ``None``: nothing the static checks follow. ``needs_gateway``: the step
    talks to the gateway's command or report API (refused by the loader without a gateway).
    ``block`` (not given): the model is a :class:`Block`.
    """

    model: type[Action]
    handler: Handler
    shorthand: str | None = None
    doc: str = ""
    lifecycle: Lifecycle | None = None
    needs_gateway: bool = False
    name: str = field(init=False)
    block: bool = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "name", self.model.key)
        object.__setattr__(self, "block", issubclass(self.model, Block))
        if not self.doc:
            object.__setattr__(self, "doc", first_paragraph(self.model))
        if self.shorthand is not None and self.shorthand not in self.model.model_fields:
            raise ValueError(f"{self.name}: shorthand {self.shorthand!r} is not a field")


_SPECS: dict[str, StepSpec] = {}
_BUILTINS_LOADED = False


def _builtins() -> dict[str, StepSpec]:
    global _BUILTINS_LOADED
    if not _BUILTINS_LOADED:
        _BUILTINS_LOADED = True
        importlib.import_module("ocpplab_sim.scenario.language.steps")
    return _SPECS


def register_step(spec: StepSpec) -> StepSpec:
    """Add ``spec`` to the language; its name must be new."""
    specs = _builtins()
    if spec.name in specs:
        raise ValueError(f"a step named {spec.name!r} is already registered")
    specs[spec.name] = spec
    return spec


def unregister_step(name: str) -> None:
    """Remove the step ``name`` (for tests)."""
    del _builtins()[name]


@contextmanager
def registered(spec: StepSpec) -> Iterator[StepSpec]:
    """``spec`` is part of the language inside the ``with`` block only."""
    register_step(spec)
    try:
        yield spec
    finally:
        unregister_step(spec.name)


def step_specs() -> tuple[StepSpec, ...]:
    """Every registered step, in registration order (the order of docs and messages)."""
    return tuple(_builtins().values())


def spec_for(name: str) -> StepSpec | None:
    return _builtins().get(name)


def step_models() -> dict[str, type[Action]]:
    """Action name → model."""
    return {name: spec.model for name, spec in _builtins().items()}


def shorthand_fields() -> dict[str, str]:
    """Action name → the field its short form fills."""
    return {n: s.shorthand for n, s in _builtins().items() if s.shorthand is not None}


# -- labels and loop bindings -------------------------------------------------------------------


def step_label(index: int, step: Action) -> str:
    """How reports name a step (see :meth:`Action.label`)."""
    return step.label()


def bind_step(step: Action, bindings: Mapping[str, str]) -> Action:
    """``step`` with the loop bindings (``${evse}``, ``${charger}``, ``${iteration}``)
    substituted into its strings and selectors (not into a block's children: they are bound when
    they run)."""
    if not bindings:
        return step
    bound = _bind_value(step, bindings)
    assert isinstance(bound, Action)
    bound.at_line(step.line, step.column)
    return bound


def _bind_value(value: Any, bindings: Mapping[str, str]) -> Any:
    if isinstance(value, Enum):
        return value  # a str enum (an OCPI status, …) is a value, not a text to substitute in
    if isinstance(value, str):
        return bind_text(value, bindings)
    if isinstance(value, tuple):
        if value and isinstance(value[0], Action):
            return value  # a block's children
        return tuple(_bind_value(v, bindings) for v in value)
    if isinstance(value, BaseModel):
        update = {
            name: _bind_value(getattr(value, name), bindings) for name in type(value).model_fields
        }
        return value.model_copy(update=update)
    return value
