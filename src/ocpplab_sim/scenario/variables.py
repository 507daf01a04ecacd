"""``${...}`` references in a scenario file: ``vars`` and ``${env:NAME}`` at load time, loop
bindings (``${evse}``, ``${charger}``, ``${iteration}``) while the run executes.

Load-time substitution works on the parsed YAML before validation, so a substituted value is
validated (and its errors located) exactly like a written one. A value that is a single reference
takes the variable's type (``within: ${deadline}`` with ``deadline: 5`` is the number 5); a
reference inside a longer string is replaced by its text. ``$${`` writes a literal ``${``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["RUNTIME_NAMES", "Reporter", "bind_text", "substitute"]

_REFERENCE = re.compile(r"\$\$\{|\$\{([^}]*)\}")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# Names bound by blocks while the run executes, and the block key that binds each.
RUNTIME_NAMES = {"evse": "each", "charger": "each", "iteration": "repeat"}

Scalar = str | int | float | bool
Reporter = Callable[[tuple[str | int, ...], str], None]


def substitute(
    data: Any,
    variables: Mapping[str, Scalar],
    report: Reporter,
    *,
    env: Mapping[str, str] | None = None,
    path: tuple[str | int, ...] = (),
    bound: frozenset[str] = frozenset(),
) -> Any:
    """``data`` with every load-time reference replaced; ``report(path, message)`` each problem.

    References to names bound by an enclosing block (``each`` → ``evse``/``charger``,
    ``repeat`` → ``iteration``) are left for the engine.
    """
    environ = os.environ if env is None else env
    if isinstance(data, str):
        return _text(data, variables, environ, bound, lambda m: report(path, m))
    if isinstance(data, list):
        return [
            substitute(v, variables, report, env=environ, path=(*path, i), bound=bound)
            for i, v in enumerate(data)
        ]
    if isinstance(data, dict):
        out = {}
        for key, value in data.items():
            inner = bound
            if key == "each" and isinstance(value, dict):
                inner = bound | {name for name in ("evse", "charger") if name in value}
            elif key == "repeat":
                inner = bound | {"iteration"}
            out[key] = substitute(
                value, variables, report, env=environ, path=(*path, key), bound=inner
            )
        return out
    return data


def _text(
    text: str,
    variables: Mapping[str, Scalar],
    env: Mapping[str, str],
    bound: frozenset[str],
    report: Callable[[str], None],
) -> Any:
    matches = list(_REFERENCE.finditer(text))
    if not matches:
        return text
    whole = len(matches) == 1 and matches[0].group(0) == text and matches[0].group(1) is not None
    if whole:
        value = _value(matches[0].group(1), variables, env, bound, report)
        return text if value is None else value

    def replace(match: re.Match[str]) -> str:
        if match.group(1) is None:  # an escaped $${
            return "${"
        value = _value(match.group(1), variables, env, bound, report)
        return match.group(0) if value is None else _as_text(value)

    return _REFERENCE.sub(replace, text)


def _value(
    name: str,
    variables: Mapping[str, Scalar],
    env: Mapping[str, str],
    bound: frozenset[str],
    report: Callable[[str], None],
) -> Scalar | None:
    """The value of one reference, or ``None`` (left as written) when bound later or invalid."""
    if name.startswith("env:"):
        key, has_default, default = name[4:].partition(":-")
        if not _NAME.match(key):
            report(f"${{{name}}}: an environment variable name is letters, digits and _")
            return None
        if key in env:
            return env[key]
        if has_default:
            return default
        report(f"environment variable {key} is not set (write ${{env:{key}:-default}} for one)")
        return None
    if name in variables:
        return variables[name]
    if name in bound:
        return None
    defined = ", ".join(sorted(variables)) or "none"
    hint = ""
    if name in RUNTIME_NAMES:
        hint = f" (${{{name}}} is bound only inside a {RUNTIME_NAMES[name]} block)"
    report(f"unknown variable ${{{name}}}{hint}; defined in vars: {defined}; also ${{env:NAME}}")
    return None


def _as_text(value: Scalar) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def bind_text(text: str, bindings: Mapping[str, str]) -> str:
    """Replace the runtime references in ``text`` (unknown ones stay as written)."""

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name is None:
            return match.group(0)
        return bindings.get(name, match.group(0))

    return _REFERENCE.sub(replace, text)
