"""Checks of a scenario made before anything runs: every selector resolves against the
topology (:func:`selector_problems`), and the chargers connect, go offline and close in an order
that can run (:func:`lifecycle_problems`). The loader runs them when the file carries its
topology (an inline one; the lifecycle check also without), the engine against the network it
was given, so ``validate`` and ``run`` refuse the same files.

What a step does to, or needs of, each charger it selects is declared with the step (its
:class:`~ocpplab_sim.scenario.language.base.StepSpec`'s ``lifecycle``); for the built-in steps:

- ``connect`` opens it once. On a charger already connected it does nothing, so ``connect: all``
  twice is harmless and ``connect: 0`` then ``connect: all`` connects the others.
- ``disconnect`` is a clean, final close: after it the charger cannot connect again, nor act
  (``plug_in``, ``network_loss``, …). ``network_loss`` / ``reconnect`` take a charger offline and
  back.
- ``connect`` on a charger offline after ``network_loss`` is an error: ``reconnect`` brings it
  back.
- The other steps on a charger (``plug_in``, ``reboot``, …) need it not closed; offline or not
  yet connected will do. A step may need more: a ``connected`` one is refused before
  ``connect``, while offline and after ``disconnect``.

:func:`lifecycle_problems` walks the steps in the order they run: ``setup``, the phases,
``teardown``; a block's steps once per round it runs (its ``rounds``): a ``parallel`` block's in
written order (the order they start in), up to four rounds of a ``repeat`` (its
``checked_rounds``: enough for every state a charger can cycle through), an ``each`` once per
EVSE or charger when the topology is known. With a topology (an inline one, or the network the
engine was given) every selector resolves. Without one (the loader, before anything is
provisioned) ``all`` and ``{charger: …}`` resolve by name, any other selector might be any
charger, and only what is certain is reported. The walk gives up silently after
:data:`MAX_STEP_VISITS` steps (deeply nested blocks); the engine still refuses at run time.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from itertools import islice
from typing import Literal

from ocpplab_sim.scenario.language.base import Block, Lifecycle, bind_step, spec_for
from ocpplab_sim.scenario.language.model import Scenario, Step
from ocpplab_sim.scenario.language.selectors import SelectionError, select_chargers, select_evses
from ocpplab_sim.scenario.language.types import Selector
from ocpplab_sim.topology import Topology

__all__ = ["MAX_STEP_VISITS", "Problem", "lifecycle_problems", "selector_problems"]

#: How many steps the walk visits at most (blocks in blocks multiply); then it gives up.
MAX_STEP_VISITS = 20_000

State = Literal["new", "online", "offline", "closed"]
Kind = Lifecycle
# Stands for the chargers no selector names, when the topology is not known.
_OTHERS = "\x00others"


@dataclass(frozen=True)
class Problem:
    """A step that cannot run as written: ``field`` is its dotted path (``steps[3].connect``)."""

    step: Step
    field: str
    message: str


class _GiveUp(Exception):
    pass


def selector_problems(scenario: Scenario, topology: Topology, *, seed: int = 0) -> list[Problem]:
    """Every selector that matches nothing or points outside ``topology`` (those with
    ``${evse}``-style references are resolved when their step runs)."""
    problems = []
    seen: dict[Selector, str | None] = {}  # a file says `all` or `0` many times
    for where, step in scenario.all_steps():
        for name in ("chargers", "evse", "charger"):
            selector = getattr(step, name, None)
            if not isinstance(selector, Selector) or selector.deferred:
                continue
            if selector not in seen:
                try:
                    select_evses(selector, topology, seed=seed)
                    seen[selector] = None
                except SelectionError as exc:
                    seen[selector] = str(exc)
            problem = seen[selector]
            if problem is not None:
                problems.append(Problem(step, f"{where}.{step.key}", problem))
    return problems


def lifecycle_problems(
    scenario: Scenario, topology: Topology | None = None, *, seed: int = 0
) -> list[Problem]:
    """Every step that would connect, use or take offline a charger it cannot (see above)."""
    walk = _Walk(scenario, topology, seed)
    try:
        walk.steps("setup", scenario.setup, {})
        for number, phase in enumerate(scenario.phases):
            walk.steps(f"phases[{number}].steps", phase.steps, {})
        walk.steps("steps", scenario.steps, {})
        walk.steps("teardown", scenario.teardown, {})
    except _GiveUp:
        pass
    return walk.problems


class _Walk:
    def __init__(self, scenario: Scenario, topology: Topology | None, seed: int) -> None:
        self._topology = topology
        self._seed = seed
        if topology is not None:
            names = [charger.identity for charger in topology.chargers]
        else:
            names = [*sorted(_named_chargers(scenario)), _OTHERS]
        self._names = tuple(names)
        self._states: dict[str, frozenset[State]] = {name: frozenset({"new"}) for name in names}
        self._closed_at: dict[str, int | None] = {}
        # Groups (the unnamed chargers) of which at least one member is certainly closed.
        self._some_closed: dict[str, int | None] = {}
        self._offline_at: dict[str, int | None] = {}
        self._visits = 0
        self._resolved: dict[Selector, frozenset[str]] = {}
        self._reported: set[str] = set()
        self.problems: list[Problem] = []

    # -- walking ---------------------------------------------------------------------------

    def steps(self, prefix: str, steps: tuple[Step, ...], bindings: Mapping[str, str]) -> None:
        for index, step in enumerate(steps):
            self._visits += 1
            if self._visits > MAX_STEP_VISITS:
                raise _GiveUp
            where = f"{prefix}[{index}]"
            bound = bind_step(step, bindings) if bindings else step
            if isinstance(bound, Block):
                self._block(bound, f"{where}.{step.key}.steps", bindings)
            else:
                self._act(bound, where)

    def _block(self, block: Block, inner: str, bindings: Mapping[str, str]) -> None:
        """The block's children, once per round it runs (at most its ``checked_rounds``); a
        ``parallel`` block's in written order, the order they start in."""
        # Rounds that depend on a selector still holding a reference: one round, unbound.
        values = [getattr(block, name) for name in type(block).model_fields]
        deferred = any(isinstance(value, Selector) and value.deferred for value in values)
        topology = None if deferred else self._topology
        try:
            rounds = list(islice(block.rounds(topology, seed=self._seed), block.checked_rounds))
        except SelectionError:
            return  # reported by the selector check
        for extra, _ in rounds:
            self.steps(inner, block.steps, {**bindings, **extra})

    # -- one action --------------------------------------------------------------------------

    def _act(self, step: Step, where: str) -> None:
        spec = spec_for(step.key)
        kind = spec.lifecycle if spec is not None else None
        chargers = getattr(step, "chargers", None)
        selector = chargers if isinstance(chargers, Selector) else getattr(step, "evse", None)
        if kind is None or not isinstance(selector, Selector):
            return
        strong, weak = self._targets(selector)
        if not weak:
            return
        certain = [
            n
            for n in strong
            if self._real(n)
            and (self._bad(n, kind) or (kind != "disconnect" and n in self._some_closed))
        ]
        if certain or all(self._bad(n, kind) for n in weak):
            self._report(step, where, kind, certain or list(weak), named=bool(certain))
        if kind == "disconnect" and len(weak) == 1 and self._real(next(iter(weak))):
            # Some charger of the one group it can hit is certainly closed (disconnect: 0).
            self._some_closed.setdefault(next(iter(weak)), step.line)
        for name in weak:
            before = self._states[name]
            after = {_next(state, kind) for state in before}
            good = frozenset(state for state in after if state is not None)
            if name in strong:
                fallback: frozenset[State] = frozenset({"online"}) if kind == "connect" else before
                self._states[name] = good or fallback
            else:
                self._states[name] = before | good
            if kind == "disconnect":
                self._closed_at[name] = step.line
            elif kind == "offline":
                self._offline_at[name] = step.line

    def _targets(self, selector: Selector) -> tuple[frozenset[str], frozenset[str]]:
        """The chargers certainly selected (every member, for the stand-in of the unnamed
        ones) and those possibly selected."""
        everyone = frozenset(self._names)
        if self._topology is not None:
            if selector.deferred:
                return frozenset(), everyone
            names = self._resolved.get(selector)
            if names is None:
                try:
                    chosen = select_chargers(selector, self._topology, seed=self._seed)
                except SelectionError:
                    chosen = ()  # reported by the selector check
                names = frozenset(charger.identity for charger in chosen)
                self._resolved[selector] = names
            return names, names
        if selector.deferred:
            return frozenset(), everyone
        if selector.kind == "all":
            return everyone, everyone
        if selector.kind == "charger":
            names = frozenset(str(value) for value in selector.values)
            if names <= everyone:
                return names, names
        return frozenset(), everyone

    def _real(self, name: str) -> bool:
        """Whether ``name`` stands for at least one charger (the unnamed ones may be none)."""
        return name != _OTHERS or self._names == (_OTHERS,)

    def _bad(self, name: str, kind: Kind) -> bool:
        return all(_next(state, kind) is None for state in self._states[name])

    def _report(self, step: Step, where: str, kind: Kind, names: list[str], *, named: bool) -> None:
        field = f"{where}.{step.key}"
        if field in self._reported:
            return  # the same step again, in a later round of a block
        self._reported.add(field)
        real = [n for n in names if n != _OTHERS]
        # Only some of the chargers no step names (disconnect: 0, then connect: all).
        some = named and not real and not self._bad(_OTHERS, kind)
        if named and real:
            shown = ", ".join(real[:3]) + (f" (and {len(real) - 3} more)" if len(real) > 3 else "")
            plural = len(real) > 1
            who = f"chargers {shown}" if plural else f"charger {shown}"
        elif some:
            who, plural = "a charger it selects", False
        else:
            who, plural = "the chargers it selects", True
        was, is_ = ("were", "are") if plural else ("was", "is")
        closed = [n for n in names if "closed" in self._states[n] or n in self._some_closed]
        if closed:
            lines = {self._closed_at.get(n) for n in closed} | {
                self._some_closed.get(n) for n in closed
            }
            known = sorted(line for line in lines if line is not None)
            at = f"the disconnect at line {known[0]}" if known else "a disconnect"
            then = (
                "a charger cannot connect again"
                if kind == "connect"
                else f"a closed charger cannot run {step.key}"
            )
            message = (
                f"{who} {was} closed by {at}: disconnect is final, {then} (to take a charger "
                "offline and back, use network_loss and reconnect)"
            )
        elif kind == "connected" and any("new" in self._states[n] for n in names):
            message = (
                f"{who} {is_} not connected yet: {step.key} needs a connected charger (connect "
                "it first)"
            )
        else:
            lines = {self._offline_at.get(n) for n in names}
            known = sorted(line for line in lines if line is not None)
            at = f"the network_loss at line {known[0]}" if known else "a network_loss"
            message = (
                f"{who} {is_} offline after {at}: use reconnect to bring it back (connect opens "
                "a charger once)"
            )
        self.problems.append(Problem(step, field, message))


def _next(state: State, kind: Kind) -> State | None:
    """The state after ``kind``; ``None`` when the step cannot run on a charger in ``state``."""
    if kind == "disconnect":
        return "closed"
    if state == "closed":
        return None
    if kind == "connect":
        return None if state == "offline" else "online"
    if kind == "offline":
        return "offline" if state != "new" else "new"
    if kind == "online":
        return "online" if state != "new" else "new"
    if kind == "connected":
        return state if state == "online" else None
    return state


def _named_chargers(scenario: Scenario) -> set[str]:
    """Every charger identity a selector names (``{charger: CP-1}``), references excluded."""
    names: set[str] = set()

    def collect(selector: Selector | None) -> None:
        if selector is None or selector.deferred:
            return
        if selector.kind == "charger":
            names.update(str(value) for value in selector.values)
        collect(selector.of)

    for _, step in scenario.all_steps():
        for attribute in ("chargers", "evse", "charger"):
            value = getattr(step, attribute, None)
            if isinstance(value, Selector):
                collect(value)
    return names
