"""OCPI propagation latency during a load run against a gateway.

Workers report the StatusNotifications that a sample of chargers sent (identity, OCPP number,
status, wall-clock time). The probe translates each one through the gateway's mapping profile
(the harness's own copy, :mod:`ocpplab_sim.scenario.mapping`) and polls that EVSE on the OCPI
Locations endpoint until it shows the expected status: the time from the frame to the first
poll that saw it goes into the ``ocpi_propagation`` histogram. A newer status of the same EVSE
replaces a pending one (``ocpi.superseded``); one still not shown after ``give_up_s`` counts as
``ocpi.not_propagated`` (with the first few in ``misses``). When the run ends, what is still
pending gets a short grace and then counts as ``ocpi.pending_at_end``. The figures are upper
bounds by up to one worker tick (0.1 s, until the status reaches the probe), one poll interval
and the GET.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from ocpplab_sim.errors import OcpplabError
from ocpplab_sim.load.metrics import LoadMetrics
from ocpplab_sim.ocpi_client import OcpiClient
from ocpplab_sim.scenario.language.mapping import MappingError, ocpi_status_for

__all__ = ["EvseRef", "OcpiProbe", "StatusSent"]

_MAX_MISSES = 10

#: one StatusNotification a worker saw go out: identity, OCPP number, status, time.time()
StatusSent = tuple[str, int, str, float]


@dataclass(frozen=True)
class EvseRef:
    location_id: str
    evse_uid: str


@dataclass
class _Pending:
    ref: EvseRef
    expected: str
    sent_at: float


class OcpiProbe:
    """Polls the sampled EVSEs whose status changed until OCPI shows it (see the module doc)."""

    def __init__(
        self,
        ocpi: OcpiClient,
        evses: Mapping[tuple[str, int], EvseRef],
        *,
        profile: str | None = None,
        poll_s: float = 0.2,
        give_up_s: float = 60.0,
        concurrency: int = 16,
    ) -> None:
        self._ocpi = ocpi
        self._evses = dict(evses)
        self._profile = profile
        self._poll_s = poll_s
        self._give_up_s = give_up_s
        self._limit = asyncio.Semaphore(concurrency)
        self._pending: dict[tuple[str, int], _Pending] = {}
        self.metrics = LoadMetrics()
        #: the first statuses that never showed (what was expected, what OCPI showed instead)
        self.misses: list[str] = []

    @property
    def watched(self) -> frozenset[str]:
        """The charger identities whose statuses the workers should report."""
        return frozenset(identity for identity, _number in self._evses)

    def feed(self, statuses: Iterable[StatusSent]) -> None:
        """Take the statuses a worker snapshot carried (call on the probe's event loop)."""
        for identity, number, status, sent_at in statuses:
            ref = self._evses.get((identity, number))
            if ref is None:
                continue
            try:
                expected = ocpi_status_for(status, self._profile)
            except MappingError:
                self.metrics.count("ocpi.unmapped")
                continue
            if (identity, number) in self._pending:
                self.metrics.count("ocpi.superseded")
            self._pending[(identity, number)] = _Pending(ref, expected, sent_at)

    @property
    def pending(self) -> int:
        return len(self._pending)

    async def close(self) -> None:
        await self._ocpi.aclose()

    async def run(self, stop: asyncio.Event, end_grace_s: float = 5.0) -> None:
        """Poll until ``stop`` is set and nothing is pending. After ``stop`` (the chargers are
        gone, so the gateway may already show them offline) what is still pending after
        ``end_grace_s`` counts as ``ocpi.pending_at_end``, not as a failure to propagate."""
        stopped_at: float | None = None
        while self._pending or not stop.is_set():
            started = time.monotonic()
            if stop.is_set():
                stopped_at = stopped_at or started
                if started - stopped_at > end_grace_s:
                    self.metrics.count("ocpi.pending_at_end", len(self._pending))
                    self._pending.clear()
                    return
            await asyncio.gather(*(self._check(key) for key in list(self._pending)))
            await asyncio.sleep(max(0.0, self._poll_s - (time.monotonic() - started)))

    async def _check(self, key: tuple[str, int]) -> None:
        entry = self._pending.get(key)
        if entry is None:
            return
        async with self._limit:
            try:
                evse = await self._ocpi.evse(entry.ref.location_id, entry.ref.evse_uid)
            except OcpplabError:
                self.metrics.count("ocpi.errors")
                return
        seen_at = time.time()
        if self._pending.get(key) is not entry:
            return  # superseded while the GET was in flight
        if evse.status == entry.expected:
            del self._pending[key]
            self.metrics.record("ocpi_propagation", max(0.0, seen_at - entry.sent_at))
            self.metrics.count("ocpi.checked")
        elif seen_at - entry.sent_at > self._give_up_s:
            del self._pending[key]
            self.metrics.count("ocpi.not_propagated")
            if len(self.misses) < _MAX_MISSES:
                self.misses.append(
                    f"{key[0]} #{key[1]} (EVSE {entry.ref.evse_uid}): expected {entry.expected} "
                    f"within {self._give_up_s:g} s, OCPI still showed {evse.status}"
                )
