"""The value grammar (`ocpplab_sim.units`) and the pieces of `load` that judge inputs and runs,
in process: durations, URLs, the Kubernetes shard variables, the verdict of a report, the stop
flag that signals raise."""

from __future__ import annotations

import math
from typing import Any

import pytest

from ocpplab_sim.load.metrics import LoadMetrics
from ocpplab_sim.load.shard import Shard, shard_from_env
from ocpplab_sim.load.stop import ABORT, RUNNING, STOP, Either, Interrupts, new_flag
from ocpplab_sim.load.verdict import summary_lines, verdict
from ocpplab_sim.scenario.types import parse_duration as scenario_duration
from ocpplab_sim.units import parse_duration, parse_url


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("500ms", 0.5),
        ("10s", 10.0),
        ("2m", 120.0),
        ("1h", 3600.0),
        ("30", 30.0),
        ("2.5", 2.5),
        ("0", 0.0),
        (" 10 s ", 10.0),
        ("1.5h", 5400.0),
        (7, 7.0),
        (0.25, 0.25),
    ],
)
def test_durations_in_every_written_form(text: str | float, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("-5s", "cannot be negative"),
        ("-1", "cannot be negative"),
        (-3, "cannot be negative"),
        ("nan", "finite"),
        ("inf", "finite"),
        ("-inf", "cannot be negative"),
        (math.nan, "finite"),
        (math.inf, "finite"),
        ("", "empty duration"),
        ("   ", "empty duration"),
        ("10x", "unknown unit 'x'"),
        ("5 minutes", "unknown unit 'minutes'"),
        ("soon", "not a duration"),
        ("1e3", "not a duration"),
        ("+5s", "not a duration"),
        ("1:30", "not a duration"),
        (True, "not a duration"),
        (None, "not a duration"),
    ],
)
def test_bad_durations_say_why(value: Any, message: str) -> None:
    with pytest.raises(ValueError, match=r"500ms|negative|finite|unit") as caught:
        parse_duration(value)
    assert message in str(caught.value)


@pytest.mark.parametrize("text", ["500ms", "10s", "2m", "1h", "30", "2.5", " 7 m ", "0"])
def test_the_grammar_agrees_with_the_scenario_language(text: str) -> None:
    assert parse_duration(text) == scenario_duration(text)


@pytest.mark.parametrize(
    "url", ["ws://127.0.0.1:9000", "wss://csms.example.test/ocpp", "ws://[::1]:80/x"]
)
def test_good_central_system_urls(url: str) -> None:
    assert parse_url(url, ("ws", "wss")) == url


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ws://127.0.0.1:99999", "Port out of range"),
        ("ws://127.0.0.1:x", "not a valid URL"),
        ("ws://[::1", "not a valid URL"),
        ("http://127.0.0.1", "must start with ws:// or wss://"),
        ("WS://127.0.0.1", "must start with ws://"),
        ("ws://", "has no host"),
        ("ws://127.0.0.1:0", "port 0"),
        ("ws://h/ocpp?x=1", "no ?query"),
        ("ws://h/oc pp", "blanks"),
        ("", "is empty"),
    ],
)
def test_bad_central_system_urls_say_why(url: str, message: str) -> None:
    with pytest.raises(ValueError, match="--csms-url") as caught:
        parse_url(url, ("ws", "wss"), what="--csms-url")
    assert message in str(caught.value)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"JOB_COMPLETION_INDEX": "abc", "OCPPLAB_SHARD_COUNT": "4"}, "JOB_COMPLETION_INDEX"),
        ({"JOB_COMPLETION_INDEX": "-1", "OCPPLAB_SHARD_COUNT": "4"}, "JOB_COMPLETION_INDEX"),
        ({"JOB_COMPLETION_INDEX": "4", "OCPPLAB_SHARD_COUNT": "4"}, "below OCPPLAB_SHARD_COUNT=4"),
        ({"JOB_COMPLETION_INDEX": "0", "OCPPLAB_SHARD_COUNT": "0"}, "OCPPLAB_SHARD_COUNT"),
        ({"JOB_COMPLETION_INDEX": "0", "JOB_COMPLETIONS": "two"}, "JOB_COMPLETIONS"),
        ({"JOB_COMPLETION_INDEX": "0"}, "OCPPLAB_SHARD_COUNT"),
    ],
)
def test_shard_variables_are_named_when_wrong(env: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        shard_from_env(env)


def test_shard_variables_and_flag() -> None:
    assert shard_from_env({"JOB_COMPLETION_INDEX": "2", "JOB_COMPLETIONS": "3"}) == Shard(2, 3)
    assert Shard.parse("1/4") == Shard(1, 4)
    for bad in ("1/2/3", "1/", "/2", "½/2"):
        with pytest.raises(ValueError, match="--shard"):
            Shard.parse(bad)


def _report(counters: dict[str, int], **extra: Any) -> dict[str, Any]:
    metrics = LoadMetrics()
    for _ in range(counters.pop("answered", 0)):
        metrics.record("Heartbeat", 0.001)
    for name, value in counters.items():
        metrics.count(name, value)
    return {"metrics": metrics.to_dict(), "plan": {"shape": {"duration_s": 60.0}}, **extra}


def test_a_run_where_everything_was_answered_passes() -> None:
    report = _report({"connected": 5, "answered": 20, "in_flight_at_stop": 2, "unanswered": 0})
    result = verdict(report)
    assert result.passed and result.reasons == ()
    lines = summary_lines(report)
    assert "calls sent: 22, answered: 20, unanswered: 0, in flight at the stop: 2" in lines[1]
    assert lines[-1].startswith("✓ PASSED: 20 call(s) answered")


def test_nothing_connected_fails_even_without_errors() -> None:
    result = verdict(_report({"connecting_at_stop": 5}))
    assert not result.passed
    assert result.reasons == ("nothing connected (5 still connecting at the stop)",)


def test_unanswered_calls_fail_and_cut_off_ones_are_counted_apart() -> None:
    report = _report({"connected": 2, "answered": 8, "unanswered": 3, "in_flight_at_stop": 1})
    result = verdict(report)
    assert result.reasons == (
        "3 of 12 call(s) never answered (not counting 1 cut off by the stop)",
    )
    assert summary_lines(report)[-1].startswith("✗ ERRORS: 3 of 12")


def test_an_interrupted_run_never_passes_and_says_when() -> None:
    report = _report(
        {"connected": 2, "answered": 4, "interrupted": 1},
        interrupted={"reason": "SIGTERM", "exit_code": 130, "after_s": 2.5},
    )
    result = verdict(report)
    assert not result.passed
    assert result.interrupted == "interrupted by SIGTERM after 2.5 s of 60 s"
    assert summary_lines(report)[-1] == (
        "✗ INTERRUPTED: interrupted by SIGTERM after 2.5 s of 60 s; until then: no errors"
    )


def test_a_merged_report_with_an_interrupted_shard_does_not_pass() -> None:
    result = verdict(_report({"connected": 4, "answered": 8, "interrupted": 1}))
    assert not result.passed and result.interrupted == "1 shard(s) interrupted"


def test_errors_and_reconnects_fail_the_run() -> None:
    result = verdict(_report({"connected": 4, "answered": 8, "errors.callerror.Heartbeat": 1}))
    assert result.reasons == ("1 error kind(s)",)
    assert verdict(_report({"connected": 4, "answered": 8, "reconnects": 2})).reasons == (
        "1 error kind(s)",
    )


def test_the_first_interrupt_stops_and_the_second_aborts() -> None:
    interrupts = Interrupts()
    stops: list[int] = []
    interrupts.on_stop = lambda: stops.append(interrupts.flag.value)
    assert interrupts.flag.value == RUNNING
    assert interrupts.request("SIGINT", 130) is True
    assert interrupts.flag.value == STOP and stops == [STOP]
    assert interrupts.request("SIGTERM", 130) is False
    assert interrupts.flag.value == ABORT and interrupts.reason == "SIGINT"
    assert stops == [STOP]  # told once


def test_a_worker_stops_on_its_own_signal_or_its_parents_word() -> None:
    own, parent = new_flag(), new_flag()
    either = Either(own, parent)
    assert either.value == RUNNING
    parent.value = STOP
    assert either.value == STOP
    own.value = ABORT
    assert either.value == ABORT
