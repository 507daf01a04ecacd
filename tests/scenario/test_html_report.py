"""The `run --html` report, read back with the standard library's HTML parser: time ticks on
each EVSE's timeline, EVSEs in topology order, a legend entry for every colour drawn, counts on
the histogram bars."""

from __future__ import annotations

from html.parser import HTMLParser

from ocpplab_sim.reports import RunRecord, to_html
from ocpplab_sim.scenario.events import (
    CheckFinished,
    CheckResult,
    Event,
    OcpiStatusSeen,
    OcppStatusSeen,
    Outcome,
    RunFinished,
    RunStarted,
    TopologyKnown,
)

T0 = 1_700_000_000.0
TOPOLOGY = ("FR*ABC*E01_C1", "FR*ABC*E02_C1", "FR*ABC*E05_C1", "FR*ABC*E06_C1")


class Page(HTMLParser):
    """The parts of the report the tests read."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.evses: list[str] = []
        self.ticks: list[list[tuple[float, str]]] = []  # per EVSE lane
        self.fills: set[str] = set()
        self.legend: dict[str, str] = {}  # colour -> label
        self.bars: list[int] = []
        self.counts: list[str] = []
        self._text: str | None = None
        self._attrs: dict[str, str] = {}
        self._in_svg_evse = False
        self.feed(text)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        classes = a.get("class", "").split()
        if tag == "svg" and "evse" in classes:
            self.evses.append(a["data-evse"])
            self.ticks.append([])
        elif tag == "rect" and "segment" in classes:
            self.fills.add(a["fill"])
        elif tag == "rect" and "bar" in classes:
            self.bars.append(int(a["data-count"]))
        elif tag == "span" and "entry" in classes:
            self._text, self._attrs = "", {"legend": a["data-colour"]}
        elif tag == "text" and "tick" in classes:
            self._text, self._attrs = "", {"tick": a["data-t"]}
        elif tag == "text" and "count" in classes:
            self._text, self._attrs = "", {"count": ""}

    def handle_data(self, data: str) -> None:
        if self._text is not None:
            self._text += data

    def handle_endtag(self, tag: str) -> None:
        if self._text is None or tag not in ("span", "text"):
            return
        if "legend" in self._attrs:
            self.legend[self._attrs["legend"]] = self._text
        elif "tick" in self._attrs:
            self.ticks[-1].append((float(self._attrs["tick"]), self._text))
        else:
            self.counts.append(self._text)
        self._text = None


def _check(latencies: dict[str, float]) -> CheckFinished:
    return CheckFinished(
        result=CheckResult(
            name="all AVAILABLE",
            step_index=1,
            outcome=Outcome.PASSED,
            message="ok",
            expected="AVAILABLE",
            observed={},
            duration_s=0.4,
            latencies_s=latencies,
            kind="expect_ocpi",
        )
    )


def _events(*, topology: bool = True) -> list[Event]:
    # statuses first seen in the order E06, E05, E01, E02 (as the mixed-fleet run showed them)
    seen = ["FR*ABC*E06_C1", "FR*ABC*E05_C1", "FR*ABC*E01_C1", "FR*ABC*E02_C1"]
    out: list[Event] = [
        RunStarted(scenario="Mixed", source="m.yaml", seed=0, gateway_url=None, at=T0)
    ]
    if topology:
        out.append(TopologyKnown(evse_uids=TOPOLOGY, at=T0 + 0.2))
    statuses = ["Available", "Preparing", "Charging", "Occupied", "SuspendedEV", "Faulted"]
    for i, uid in enumerate(seen):
        for k, status in enumerate(statuses[i:] + statuses[:i]):
            out.append(
                OcppStatusSeen(
                    evse_uid=uid, charger="CP", status=status, at=T0 + 1 + i * 0.1 + k * 3
                )
            )
        out.append(OcpiStatusSeen(evse_uid=uid, status="AVAILABLE", at=T0 + 1.5 + i * 0.1))
        out.append(OcpiStatusSeen(evse_uid=uid, status="CHARGING", at=T0 + 7 + i * 0.1))
        out.append(OcpiStatusSeen(evse_uid=uid, status="MYSTERY", at=T0 + 12 + i * 0.1))
    out.append(_check({"a": 0.010, "b": 0.012, "c": 0.011, "d": 0.090, "e": 0.120}))
    out.append(RunFinished(exit_code=0, message="ok", duration_s=21.0, at=T0 + 21))
    return out


def page(*, topology: bool = True) -> Page:
    record = RunRecord()
    for event in _events(topology=topology):
        record(event)
    return Page(to_html(record))


def test_evses_are_in_topology_order() -> None:
    assert page().evses == list(TOPOLOGY)


def test_without_a_topology_evses_are_in_order_of_first_status() -> None:
    assert page(topology=False).evses == [
        "FR*ABC*E06_C1",
        "FR*ABC*E05_C1",
        "FR*ABC*E01_C1",
        "FR*ABC*E02_C1",
    ]


def test_each_timeline_has_time_ticks_over_the_run() -> None:
    parsed = page()
    assert len(parsed.ticks) == 4
    for ticks in parsed.ticks:
        times = [t for t, _ in ticks]
        assert times[0] == 0
        assert times == sorted(times)
        assert 4 <= len(times) <= 12
        assert times[-1] <= 21 < times[-1] + (times[1] - times[0])  # up to the run's end
        assert [label for _, label in ticks][:2] == ["0s", f"{times[1]:g}s"]


def test_every_colour_drawn_is_in_the_legend() -> None:
    parsed = page()
    assert parsed.fills <= set(parsed.legend), parsed.fills - set(parsed.legend)
    labels = " / ".join(parsed.legend.values())
    for status in ("Preparing", "Occupied", "SuspendedEV", "Faulted", "AVAILABLE", "CHARGING"):
        assert status in labels
    assert "other" in labels  # MYSTERY has no colour of its own


def test_histogram_bars_carry_their_counts() -> None:
    parsed = page()
    assert sum(parsed.bars) == 5
    assert parsed.counts == [str(n) for n in parsed.bars if n]
    assert parsed.bars[1] == 3  # 10, 11 and 12 ms in the 10–20 ms bin of 12 over 0–120 ms
    assert parsed.bars[-1] == 1
