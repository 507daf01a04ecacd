"""The base of every step: :class:`Action` (and :class:`Expectation`, a step with a verdict)."""

from __future__ import annotations

from typing import ClassVar

from pydantic import PrivateAttr

from ocpplab_sim.scenario.language.types import PositiveDuration, Strict

__all__ = ["STEP_KEYS", "Action", "Expectation"]

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


class Expectation(Action):
    """An action whose outcome is a verdict on the platform under test (a check in reports)."""
