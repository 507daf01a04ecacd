"""The OCPI probe's bookkeeping: propagated, superseded, given up, pending at the end."""

from __future__ import annotations

import asyncio
import time
from types import SimpleNamespace
from typing import Any

from ocpplab_sim.load.ocpi_probe import EvseRef, OcpiProbe


class Locations:
    """What the OCPI Locations endpoint shows per EVSE uid (set by the test)."""

    def __init__(self) -> None:
        self.status: dict[str, str] = {}
        self.gets = 0

    async def evse(self, _location_id: str, evse_uid: str) -> Any:
        self.gets += 1
        return SimpleNamespace(status=self.status.get(evse_uid, "UNKNOWN"))

    async def aclose(self) -> None:
        pass


EVSES = {("CP1", 1): EvseRef("LOC1", "E1"), ("CP2", 1): EvseRef("LOC1", "E2")}


async def test_a_status_counts_once_ocpi_shows_its_mapped_value() -> None:
    ocpi = Locations()
    probe = OcpiProbe(ocpi, EVSES, poll_s=0.01, give_up_s=5)  # type: ignore[arg-type]
    assert probe.watched == {"CP1", "CP2"}
    stop = asyncio.Event()
    task = asyncio.create_task(probe.run(stop))
    probe.feed([("CP1", 1, "Preparing", time.time()), ("CP9", 1, "Charging", time.time())])
    probe.feed([("CP1", 1, "Charging", time.time())])  # replaces Preparing
    await asyncio.sleep(0.1)
    assert probe.pending == 1  # OCPI still shows UNKNOWN
    ocpi.status["E1"] = "CHARGING"
    stop.set()
    await asyncio.wait_for(task, 5)
    counters = probe.metrics.counters
    assert counters["ocpi.checked"] == 1 and counters["ocpi.superseded"] == 1
    histogram = probe.metrics.histograms["ocpi_propagation"]
    assert histogram.count == 1 and 0.05 < histogram.max < 2


async def test_a_status_never_shown_is_given_up_and_named() -> None:
    probe = OcpiProbe(Locations(), EVSES, poll_s=0.01, give_up_s=0.1)  # type: ignore[arg-type]
    stop = asyncio.Event()
    task = asyncio.create_task(probe.run(stop))
    probe.feed([("CP2", 1, "Available", time.time())])
    stop.set()  # the run ends; the probe still polls until the status gives up (0.1 s)
    await asyncio.wait_for(task, 5)
    assert probe.metrics.counters["ocpi.not_propagated"] == 1
    assert probe.misses == [
        "CP2 #1 (EVSE E2): expected AVAILABLE within 0.1 s, OCPI still showed UNKNOWN"
    ]


async def test_what_is_pending_when_the_run_ends_gets_a_grace_then_counts_apart() -> None:
    probe = OcpiProbe(Locations(), EVSES, poll_s=0.01, give_up_s=60)  # type: ignore[arg-type]
    stop = asyncio.Event()
    probe.feed([("CP1", 1, "Faulted", time.time()), ("CP2", 1, "Bogus", time.time())])
    stop.set()
    await asyncio.wait_for(probe.run(stop, end_grace_s=0.05), 5)
    counters = probe.metrics.counters
    assert counters["ocpi.pending_at_end"] == 1 and counters["ocpi.unmapped"] == 1
    assert "ocpi.not_propagated" not in counters
