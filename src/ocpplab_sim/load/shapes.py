"""Load shapes: pure functions of elapsed time.

A shape answers ``tick(elapsed_s)`` with the :class:`Target` the run should be at now — how many
chargers connected, how fast to connect more, how many sessions to start per second — or ``None``
when the run is over. Shapes hold no state and read no clock, so they are tested exactly and a run
stops by itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

__all__ = [
    "SHAPES",
    "LoadShape",
    "Ramp",
    "Soak",
    "Spike",
    "Steady",
    "Target",
    "parse_shape",
]


@dataclass(frozen=True)
class Target:
    """Where the run should be at one instant.

    ``chargers``: chargers that should be connected; ``connect_rate``: at most this many new
    connections per second; ``session_rate``: charging sessions to start per second across the
    connected fleet.
    """

    chargers: int
    connect_rate: float
    session_rate: float = 0.0


class LoadShape(Protocol):
    @property
    def duration_s(self) -> float: ...

    def tick(self, elapsed_s: float) -> Target | None:
        """The target at ``elapsed_s`` seconds into the run; ``None`` once the run is over."""
        ...


@dataclass(frozen=True)
class Steady:
    """All ``chargers`` as fast as ``connect_rate`` allows, then hold until ``duration_s``."""

    chargers: int
    duration_s: float
    connect_rate: float = 1000.0
    session_rate: float = 0.0

    def tick(self, elapsed_s: float) -> Target | None:
        if elapsed_s >= self.duration_s:
            return None
        return Target(self.chargers, self.connect_rate, self.session_rate)


@dataclass(frozen=True)
class Ramp:
    """From 0 to ``chargers`` linearly over ``ramp_s``, then hold until ``duration_s``."""

    chargers: int
    duration_s: float
    ramp_s: float
    session_rate: float = 0.0

    def tick(self, elapsed_s: float) -> Target | None:
        if elapsed_s >= self.duration_s:
            return None
        if self.ramp_s <= 0 or elapsed_s >= self.ramp_s:
            wanted = self.chargers
        else:
            wanted = int(self.chargers * elapsed_s / self.ramp_s)
        rate = self.chargers / self.ramp_s if self.ramp_s > 0 else float(self.chargers)
        return Target(wanted, max(rate, 1.0), self.session_rate)


@dataclass(frozen=True)
class Spike:
    """``base`` chargers, and between ``at_s`` and ``at_s + width_s`` all ``chargers`` at once
    (a reconnect storm after an outage); after the spike back to ``base``."""

    chargers: int
    duration_s: float
    base: int
    at_s: float
    width_s: float
    session_rate: float = 0.0
    connect_rate: float = 100_000.0

    def tick(self, elapsed_s: float) -> Target | None:
        if elapsed_s >= self.duration_s:
            return None
        in_spike = self.at_s <= elapsed_s < self.at_s + self.width_s
        return Target(
            self.chargers if in_spike else self.base, self.connect_rate, self.session_rate
        )


@dataclass(frozen=True)
class Soak:
    """A long steady run with sessions: ``chargers`` connected, ``session_rate`` sessions/s."""

    chargers: int
    duration_s: float
    session_rate: float
    connect_rate: float = 200.0

    def tick(self, elapsed_s: float) -> Target | None:
        if elapsed_s >= self.duration_s:
            return None
        return Target(self.chargers, self.connect_rate, self.session_rate)


SHAPES = ("steady", "ramp", "spike", "soak")


def parse_shape(
    name: str,
    *,
    chargers: int,
    duration_s: float,
    ramp_s: float | None = None,
    session_rate: float = 0.0,
    connect_rate: float | None = None,
) -> LoadShape:
    """Build a shape from command-line words; ``ValueError`` names what is wrong."""
    if chargers < 1:
        raise ValueError("--chargers must be at least 1")
    if duration_s <= 0:
        raise ValueError("--duration must be positive")
    if name == "steady":
        return Steady(chargers, duration_s, connect_rate or 1000.0, session_rate)
    if name == "ramp":
        return Ramp(
            chargers, duration_s, ramp_s if ramp_s is not None else duration_s / 2, session_rate
        )
    if name == "spike":
        return Spike(
            chargers,
            duration_s,
            base=chargers // 10,
            at_s=duration_s / 3,
            width_s=duration_s / 3,
            session_rate=session_rate,
        )
    if name == "soak":
        return Soak(chargers, duration_s, session_rate or chargers / 600, connect_rate or 200.0)
    raise ValueError(f"unknown shape {name!r}; choose one of {', '.join(SHAPES)}")
