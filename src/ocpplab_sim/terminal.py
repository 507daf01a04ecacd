"""What a person at a terminal gets: colour and live progress, decided in one place.

Colour follows the conventions tools share (https://no-color.org, ``FORCE_COLOR``): a command's
``--no-color`` wins, then ``NO_COLOR`` (any non-empty value: no colour), then ``FORCE_COLOR``
(any non-empty value but ``0``/``false``: colour even when the stream is not a terminal), then
whether the stream is a terminal. Live progress is shown on a terminal, when ``FORCE_COLOR``
asks for terminal output, or when a command's ``--progress`` does.

Pure functions over a stream and the environment; nothing else of ``ocpplab_sim`` imported.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TextIO

__all__ = ["colored", "epilog", "forced", "is_terminal", "progress_wanted", "use_color"]

_GREEN, _RED, _YELLOW = "32", "31", "33"
_CODES = {"✓": _GREEN, "✗": _RED, "!": _RED, "-": _YELLOW}


def is_terminal(stream: TextIO | None) -> bool:
    """``stream`` is an interactive terminal (False for a closed or detached one)."""
    try:
        return stream is not None and stream.isatty()
    except (ValueError, OSError, AttributeError):
        return False


def forced(environ: Mapping[str, str] | None = None) -> bool:
    """``FORCE_COLOR`` is set to something other than empty, ``0`` or ``false``."""
    env = os.environ if environ is None else environ
    return env.get("FORCE_COLOR", "").strip().lower() not in ("", "0", "false", "no")


def use_color(
    stream: TextIO | None, *, no_color: bool = False, environ: Mapping[str, str] | None = None
) -> bool:
    """Whether to colour what goes to ``stream``: ``--no-color`` > ``NO_COLOR`` >
    ``FORCE_COLOR`` > a terminal."""
    env = os.environ if environ is None else environ
    if no_color or env.get("NO_COLOR", ""):
        return False
    return forced(env) or is_terminal(stream)


def progress_wanted(
    stream: TextIO | None, *, flag: bool = False, environ: Mapping[str, str] | None = None
) -> bool:
    """Whether to show live progress on ``stream``: ``--progress``, ``FORCE_COLOR`` or a
    terminal."""
    return flag or forced(environ) or is_terminal(stream)


def colored(text: str, mark: str, enabled: bool) -> str:
    """``text`` in the colour of ``mark`` (✓ green, ✗ and ! red, - yellow) when ``enabled``."""
    code = _CODES.get(mark)
    return f"\033[{code}m{text}\033[0m" if enabled and code else text


def epilog(examples: list[str], exit_codes: list[tuple[int, str]]) -> str:
    """The end of a command's ``--help`` (for ``argparse.RawDescriptionHelpFormatter``): its
    examples, then what each exit code means."""
    lines = ["examples:", *(f"  {example}" for example in examples), "", "exit codes:"]
    lines += [f"  {code:<4}{meaning}" for code, meaning in exit_codes]
    return "\n".join(lines)
