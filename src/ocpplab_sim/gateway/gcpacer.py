"""Young garbage collections on a clock (``gateway serve``).

CPython starts a young collection when the count of container objects (allocations minus
deallocations) passes a threshold, and a pass takes time in proportion to the objects in the
generations it walks (about 1 µs each on a big heap). With thousands of chargers held that
count says little about the generations' size: every frame a charger sends completes the
chain of objects waiting for its next frame (coroutines, a future, an event-loop handle) and
makes a new one that lives until the next frame, seconds later. The old chain dying takes as
much off the count as the new one adds, so the count crawls while the youngest generation
grows by thousands of objects a second: with 19,500 chargers heartbeating every 60 s, passes
came every few seconds over 40,000–100,000 objects (40–100 ms each) and the middle
generation's over 150,000 (200 ms), each stalling every charger's answer and OCPI push.

:class:`GcPacer` collects the youngest generation every ``interval`` seconds and the middle one
every ``middle_every``-th time, so each pass walks what a fraction of a second (or a few
seconds) added — a few milliseconds — whatever the count says. Run it with
:data:`AUTOMATIC_THRESHOLDS`: the automatic collector then acts on bursts only (a connect storm
allocates faster than any clock), and a full collection — one that walks every object,
seconds with 20,000 chargers held — comes only after 10,000 middle-generation passes (at least
5.5 hours of pacing) and, by CPython's own rule, only once the objects that reached the oldest
generation since the last one number a quarter of those it kept.
"""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Callable

__all__ = ["AUTOMATIC_THRESHOLDS", "GcPacer"]

#: ``gc.set_threshold`` beside a pacer: a young collection after 50,000 net allocations (a
#: burst), the middle generation every 20th, the oldest after 10,000 of those.
AUTOMATIC_THRESHOLDS = (50_000, 20, 10_000)


class GcPacer:
    """Call :meth:`tick` every ``interval`` seconds (:meth:`run` does, until cancelled)."""

    def __init__(
        self,
        interval: float = 0.5,
        middle_every: int = 4,
        *,
        collect: Callable[[int], int] = gc.collect,
    ) -> None:
        if interval <= 0 or middle_every < 1:
            raise ValueError("interval must be > 0 and middle_every >= 1")
        self.interval = interval
        self.middle_every = middle_every
        self._collect = collect
        self.ticks = 0

    def tick(self) -> int:
        """One young collection: generation 1 every ``middle_every``-th tick, else 0; the
        generation collected."""
        self.ticks += 1
        generation = 1 if self.ticks % self.middle_every == 0 else 0
        self._collect(generation)
        return generation

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            self.tick()
