"""Cyclic garbage collection while long-lived objects pour in (a boot storm).

Every charger a load worker boots, and every connection the sink accepts, is a few hundred
Python objects that live for the whole run. Each pass of the cyclic collector walks the objects
of its generations, so during a storm the older generations' passes walk the whole fleet built
so far again and again: on the 2-core benchmark machine that was ~20 % of a 20,000-charger
boot storm's CPU, harness and sink together. ``gc.freeze()`` (O(1)) moves every object alive
into the permanent generation, which no pass walks. :class:`StormFreezer` freezes while the
heap grows and thaws once growth has stopped for ``quiet_s``, so that cycles which died
meanwhile (a closed connection, a failed task) are collected by the ordinary passes again.
Growth that never stops (a long ramp) is thawed and fully collected every ``max_frozen_s``,
which bounds what a freeze can keep alive.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable

__all__ = ["StormFreezer"]


class StormFreezer:
    """Call :meth:`tick` regularly (e.g. ten times a second) saying whether long-lived objects
    were added since the last tick (count successes, not attempts); :meth:`close` thaws."""

    def __init__(
        self,
        quiet_s: float = 2.0,
        max_frozen_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._quiet_s = quiet_s
        self._max_frozen_s = max_frozen_s
        self._clock = clock
        self._frozen = False
        self._frozen_since = 0.0
        self._last_growth = 0.0

    @property
    def frozen(self) -> bool:
        return self._frozen

    def tick(self, growing: bool) -> None:
        now = self._clock()
        if growing:
            if self._frozen and now - self._frozen_since >= self._max_frozen_s:
                self.close()
                gc.collect()  # what died while frozen; the survivors are frozen again below
            if not self._frozen:
                self._frozen_since = now
            gc.freeze()
            self._frozen = True
            self._last_growth = now
        elif self._frozen and now - self._last_growth >= self._quiet_s:
            self.close()

    def close(self) -> None:
        if self._frozen:
            gc.unfreeze()
            self._frozen = False
