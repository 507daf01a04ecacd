"""The step registry: every step of the scenario language, declared once.

A step is a :class:`StepSpec`: its model (a pydantic :class:`~ocpplab_sim.scenario.base.Action`
whose ``key`` is the action name written in YAML), the field its short form fills
(``plug_in: 0`` means ``plug_in: {evse: 0}``), its handler (how the engine runs it) and its
one-line documentation. The loader's action names and short forms, the JSON Schema's step list,
the engine's dispatch and ``docs/steps.md`` are all read from here, so adding a step is one
:func:`register_step` call::

    class Beep(Action):
        \"\"\"Beep each selected EVSE ``times`` times.\"\"\"

        key: ClassVar[str] = "beep"
        evse: EvseSelection
        times: int = 1

    async def beep(run: StepRun, step: Beep) -> tuple[Outcome, str]:
        ...

    register_step(StepSpec(Beep, beep, shorthand="evse"))

A handler gets the engine's :class:`~ocpplab_sim.scenario.engine.StepRun` (the step's index,
label, the charge points, the topology, the settings, the clock) and the step; it returns
``(outcome, message)`` for an action, or a
:class:`~ocpplab_sim.scenario.events.CheckResult` for a check (recorded and reported as one).

The built-in steps are registered by :mod:`ocpplab_sim.scenario.builtin`, loaded on first use.
"""

from __future__ import annotations

import importlib
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ocpplab_sim.scenario.language.base import Action

if TYPE_CHECKING:
    from ocpplab_sim.scenario.execution.events import CheckResult, Outcome

__all__ = [
    "Handler",
    "StepSpec",
    "register_step",
    "registered",
    "shorthand_fields",
    "spec_for",
    "step_models",
    "step_specs",
    "unregister_step",
]

#: ``(run, step) -> (outcome, message) | CheckResult``; ``run`` is the engine's StepRun.
Handler = Callable[[Any, Any], Awaitable["tuple[Outcome, str] | CheckResult"]]


def first_paragraph(cls: type) -> str:
    """The first paragraph of a class's docstring, on one line."""
    return (cls.__doc__ or "").strip().split("\n\n")[0].replace("\n", " ")


@dataclass(frozen=True)
class StepSpec:
    """One step of the language.

    ``block``: the step holds ``steps`` of its own (the loader parses them, the schema refers to
    the step list, the engine reports the children's outcomes). ``needs_gateway``: the step
    talks to the gateway's command or report API (refused by the loader without a gateway).
    """

    model: type[Action]
    handler: Handler
    shorthand: str | None = None
    doc: str = ""
    block: bool = False
    needs_gateway: bool = False
    name: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "name", self.model.key)
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
        importlib.import_module("ocpplab_sim.scenario.execution.builtin")
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
