"""Colour and live progress follow NO_COLOR, FORCE_COLOR and --no-color in every command."""

from __future__ import annotations

import io
from typing import Any

import pytest

from ocpplab_sim.load import cli as load_cli
from ocpplab_sim.load.metrics import LoadMetrics
from ocpplab_sim.reports import ConsoleReporter
from ocpplab_sim.scenario.events import Outcome, StepFinished
from ocpplab_sim.terminal import progress_wanted, use_color

ESC = "\033["


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(
    ("environ", "tty", "no_color", "expected"),
    [
        ({}, False, False, False),
        ({}, True, False, True),
        ({}, True, True, False),
        ({"NO_COLOR": "1"}, True, False, False),
        ({"NO_COLOR": "anything"}, True, False, False),
        ({"NO_COLOR": ""}, True, False, True),  # empty: not set
        ({"FORCE_COLOR": "1"}, False, False, True),
        ({"FORCE_COLOR": "0"}, False, False, False),
        ({"FORCE_COLOR": "1"}, False, True, False),  # --no-color wins
        ({"FORCE_COLOR": "1", "NO_COLOR": "1"}, False, False, False),
    ],
)
def test_use_color_follows_flag_env_and_terminal(
    environ: dict[str, str], tty: bool, no_color: bool, expected: bool
) -> None:
    stream = _Tty() if tty else io.StringIO()
    assert use_color(stream, no_color=no_color, environ=environ) is expected


def test_progress_wanted_on_terminal_force_color_or_flag() -> None:
    assert not progress_wanted(io.StringIO(), environ={})
    assert progress_wanted(_Tty(), environ={})
    assert progress_wanted(io.StringIO(), environ={"FORCE_COLOR": "1"})
    assert progress_wanted(io.StringIO(), flag=True, environ={})


def _step() -> StepFinished:
    return StepFinished(index=0, phase="steps", label="wait 1s", outcome=Outcome.PASSED)


@pytest.mark.parametrize(
    ("environ", "tty", "colored"),
    [
        ({}, True, True),
        ({"NO_COLOR": "1"}, True, False),
        ({"FORCE_COLOR": "1"}, False, True),
        ({}, False, False),
    ],
)
def test_console_reporter_colour(
    monkeypatch: pytest.MonkeyPatch, environ: dict[str, str], tty: bool, colored: bool
) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.delenv("FORCE_COLOR", raising=False)
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    out = _Tty() if tty else io.StringIO()
    ConsoleReporter(out)(_step())
    assert (ESC in out.getvalue()) is colored
    assert "✓ step 1: wait 1s" in out.getvalue().replace(f"{ESC}32m", "").replace(f"{ESC}0m", "")


def _report() -> dict[str, Any]:
    metrics = LoadMetrics()
    metrics.record("Heartbeat", 0.01)
    metrics.count("connected")
    return {"metrics": metrics.to_dict()}


@pytest.mark.parametrize(
    ("environ", "no_color", "colored"),
    [
        ({}, False, False),  # captured standard output is no terminal
        ({"FORCE_COLOR": "1"}, False, True),
        ({"FORCE_COLOR": "1"}, True, False),
        ({"FORCE_COLOR": "1", "NO_COLOR": "1"}, False, False),
    ],
)
def test_load_summary_colour(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    environ: dict[str, str],
    no_color: bool,
    colored: bool,
) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.delenv("FORCE_COLOR", raising=False)
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    assert load_cli._summary(_report(), no_color=no_color) == 0
    out = capsys.readouterr().out
    assert "✓ PASSED" in out
    assert (ESC in out) is colored
