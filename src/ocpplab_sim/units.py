"""The grammar of the values people type: durations, and the endpoint URLs commands connect to.

One duration grammar for every command and the scenario language: ``500ms``, ``10s``, ``2m``,
``1h`` or plain seconds (``30``, ``2.5``); blanks around the number and the unit are allowed.
Negative, not-a-number, infinite, empty or unknown values are refused with a :class:`ValueError`
that says why; a command's argument parser turns it into its own error (exit code 2).

Pure functions: no I/O, nothing else of ``ocpplab_sim`` imported.
"""

from __future__ import annotations

import math
import re
from urllib.parse import urlsplit

__all__ = ["DURATION_EXAMPLES", "parse_duration", "parse_url"]

DURATION_EXAMPLES = "500ms, 10s, 2m, 1h or seconds (30, 2.5)"

# The same written forms as the scenario language's Duration (scenario/types.py).
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}
_NUMBER_AND_WORD = re.compile(r"^\s*\d+(?:\.\d+)?\s*([A-Za-z]+)\s*$")


def parse_duration(value: str | float) -> float:
    """``"10s"``, ``"500ms"``, ``"2m"``, ``"1h"``, ``"30"``, ``2.5`` → seconds (a finite float ≥ 0).

    ``ValueError`` names what is wrong: empty, negative, not finite, an unknown unit or no
    duration at all. Numbers (from YAML, say) are taken as seconds; ``bool`` is refused.
    """
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a duration; use {DURATION_EXAMPLES}")
    if isinstance(value, int | float):
        return _checked(float(value), repr(value))
    if not isinstance(value, str):
        raise ValueError(f"{value!r} is not a duration; use {DURATION_EXAMPLES}")
    text = value.strip()
    if not text:
        raise ValueError(f"empty duration; use {DURATION_EXAMPLES}")
    match = _DURATION.match(text)
    if match is not None:
        return _checked(float(match.group(1)) * _UNIT_SECONDS[match.group(2)], repr(value))
    if text.startswith("-"):
        raise ValueError(f"{value!r}: a duration cannot be negative")
    if text.lower().lstrip("+") in {"nan", "inf", "infinity"}:
        raise ValueError(f"{value!r}: a duration must be a finite number")
    unit = _NUMBER_AND_WORD.match(text)
    if unit is not None:
        raise ValueError(f"{value!r}: unknown unit {unit.group(1)!r}; use ms, s, m or h")
    raise ValueError(f"{value!r} is not a duration; use {DURATION_EXAMPLES}")


def _checked(seconds: float, shown: str) -> float:
    if math.isnan(seconds) or math.isinf(seconds):
        raise ValueError(f"{shown}: a duration must be a finite number")
    if seconds < 0:
        raise ValueError(f"{shown}: a duration cannot be negative")
    return seconds


def parse_url(text: str, schemes: tuple[str, ...], *, what: str = "URL") -> str:
    """``text`` when it is an absolute URL of one of ``schemes`` with a host and a valid port, and
    without query or fragment (commands append paths to it); ``ValueError`` naming the problem
    otherwise. ``what`` names the value in the message (``--csms-url``)."""
    wanted = " or ".join(f"{scheme}://" for scheme in schemes)
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"{what} is empty; give a {wanted} URL")
    try:
        parts = urlsplit(text)
        port = parts.port  # ValueError for a port out of 0-65535 or not a number
        host = parts.hostname
    except ValueError as exc:
        raise ValueError(f"{what} {text!r} is not a valid URL: {exc}") from None
    if not text.startswith(tuple(f"{scheme}://" for scheme in schemes)):
        raise ValueError(f"{what} must start with {wanted}, got {text!r}")
    if not host:
        raise ValueError(f"{what} {text!r} has no host")
    if port == 0:
        raise ValueError(f"{what} {text!r}: port 0 cannot be connected to")
    if parts.query or parts.fragment or text.rstrip().endswith(("?", "#")):
        raise ValueError(f"{what} {text!r}: no ?query or #fragment (paths are appended to it)")
    if any(ch.isspace() for ch in text):
        raise ValueError(f"{what} {text!r} contains blanks")
    return text
