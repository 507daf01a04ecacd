"""Every command's `--help` has a description, examples and its exit codes."""

from __future__ import annotations

import argparse
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from ocpplab_sim.cli import _parser

ROOT = Path(__file__).resolve().parents[1]


def _commands(
    parser: argparse.ArgumentParser, path: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], argparse.ArgumentParser]]:
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _commands(sub, (*path, name))


COMMANDS = dict(_commands(_parser()))


def test_the_walk_finds_every_command() -> None:
    names = {" ".join(path) for path in COMMANDS}
    expected = {"", "run", "validate", "schema", "gateway", "gateway serve", "chargers"}
    expected |= {"load", "report", "report merge", "completion"}
    assert expected <= names


@pytest.mark.parametrize("path", list(COMMANDS), ids=lambda p: " ".join(p) or "ocpplab-sim")
def test_help_has_description_examples_and_exit_codes(path: tuple[str, ...]) -> None:
    parser = COMMANDS[path]
    assert parser.formatter_class is argparse.RawDescriptionHelpFormatter
    assert parser.description and len(parser.description) > 20
    text = parser.format_help()
    assert parser.description.splitlines()[0] in text
    assert "examples:\n  ocpplab-sim " in text
    head = " ".join(("ocpplab-sim", *path))
    examples = text.split("examples:\n", 1)[1].split("\n\n", 1)[0]
    assert head in examples, f"the examples of {head!r} do not show it"
    codes = text.split("exit codes:\n", 1)[1]
    assert "  0 " in codes
    assert "  2 " in codes


def test_help_is_printed_by_the_real_command() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "ocpplab_sim", "report", "merge", "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "exit codes:" in result.stdout
    assert "examples:" in result.stdout
