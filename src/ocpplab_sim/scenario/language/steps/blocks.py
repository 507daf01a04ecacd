"""The blocks: steps holding steps. ``parallel`` starts its steps together; ``repeat`` runs them
``times`` times, binding ``${iteration}``; ``each`` runs them once per selected EVSE or charger,
binding ``${evse}`` or ``${charger}``. Each block's model, label, rounds and handler."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Annotated, ClassVar, Literal

from pydantic import Field, model_validator

from ocpplab_sim.scenario.language.base import Block, Round, StepList, StepSpec
from ocpplab_sim.scenario.language.selectors import select_chargers, select_evses
from ocpplab_sim.scenario.language.types import ChargerSelection, EvseSelection

if TYPE_CHECKING:
    from ocpplab_sim.scenario.execution.engine import StepRun
    from ocpplab_sim.scenario.execution.events import Outcome
    from ocpplab_sim.topology import Topology

__all__ = ["STEPS", "Each", "Parallel", "Repeat"]


class Parallel(Block):
    """Run the ``steps`` at the same time; the block ends when all have."""

    key: ClassVar[str] = "parallel"
    concurrent: ClassVar[bool] = True
    steps: StepList

    def target(self) -> str:
        return f" ({len(self.steps)} steps)"


class Repeat(Block):
    """Run the ``steps`` ``times`` times in order; ``${iteration}`` is 1, 2, …"""

    key: ClassVar[str] = "repeat"
    # A charger has four states (new, online, offline, closed): every cycle shows within four.
    checked_rounds: ClassVar[int | None] = 4
    times: Annotated[int, Field(ge=1, le=10_000)]
    steps: StepList

    def target(self) -> str:
        return f" {self.times}×"

    def rounds(self, topology: Topology | None, *, seed: int = 0) -> Iterator[Round]:
        for i in range(1, self.times + 1):
            yield {"iteration": str(i)}, f" [{i}/{self.times}]"


class Each(Block):
    """Run the ``steps`` once per selected EVSE (binding ``${evse}`` to its uid) or per selected
    charger (binding ``${charger}`` to its identity), one after the other."""

    key: ClassVar[str] = "each"
    evse: EvseSelection | None = None
    charger: ChargerSelection | None = None
    steps: StepList

    @model_validator(mode="after")
    def _one_selector(self) -> Each:
        if (self.evse is None) == (self.charger is None):
            raise ValueError("each takes exactly one of evse or charger (and steps)")
        return self

    @property
    def binding(self) -> Literal["evse", "charger"]:
        return "evse" if self.evse is not None else "charger"

    def target(self) -> str:
        selector = self.evse if self.evse is not None else self.charger
        return f" {self.binding} in {selector.describe() if selector else '?'}"

    def rounds(self, topology: Topology | None, *, seed: int = 0) -> Iterator[Round]:
        """One round per selected EVSE or charger (a SelectionError is the step's error)."""
        selector = self.evse if self.evse is not None else self.charger
        if topology is None or selector is None:
            yield {}, ""  # the count is not known: one round, its references unresolved
        elif self.evse is not None:
            for evse in select_evses(selector, topology, seed=seed):
                yield {"evse": evse.uid}, f" [evse {evse.uid}]"
        else:
            for charger in select_chargers(selector, topology, seed=seed):
                yield {"charger": charger.identity}, f" [charger {charger.identity}]"


async def _block(run: StepRun, step: Block) -> tuple[Outcome, str]:
    return await run.engine.block(run, step)


STEPS = (
    StepSpec(Parallel, _block, "steps"),
    StepSpec(Repeat, _block),
    StepSpec(Each, _block),
)
