"""How the engine names a step in reports, and how loop bindings (``${evse}``, ``${charger}``,
``${iteration}``) are substituted into a step before it runs."""

from __future__ import annotations

from collections.abc import Mapping
from enum import Enum
from typing import Any

from pydantic import BaseModel

from ocpplab_sim.scenario.language.model import (
    Action,
    Each,
    ExpectOcpi,
    ExpectPush,
    Parallel,
    Repeat,
    Step,
    Wait,
)
from ocpplab_sim.scenario.language.types import Selector
from ocpplab_sim.scenario.language.variables import bind_text

__all__ = ["bind_step", "step_label"]


def step_label(index: int, step: Step) -> str:
    """How reports name a step: its ``name`` if given, else the action and its target."""
    if step.name:
        return step.name
    chargers: Selector | None = getattr(step, "chargers", None)
    evse: Selector | None = getattr(step, "evse", None)
    action = getattr(step, "action", None)
    if isinstance(step, Wait):
        target = f" {step.duration:g}s"
    elif isinstance(step, ExpectOcpi):
        target = f" {step.wanted} on {step.evse.describe()}"
    elif isinstance(step, ExpectPush):
        target = f" {step.status.value} on {step.evse.describe()}"
    elif isinstance(step, Parallel):
        target = f" ({len(step.steps)} steps)"
    elif isinstance(step, Repeat):
        target = f" {step.times}×"
    elif isinstance(step, Each):
        selector = step.evse if step.evse is not None else step.charger
        target = f" {step.binding} in {selector.describe() if selector else '?'}"
    else:
        selected = evse or chargers
        target = f" {selected.describe()}" if selected is not None else ""
        target = f" {action}{target and ' to' + target}" if isinstance(action, str) else target
    return f"{step.key}{target}"


def bind_step(step: Step, bindings: Mapping[str, str]) -> Step:
    """``step`` with the loop bindings substituted into its strings and selectors (not into a
    block's children: they are bound when they run)."""
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
