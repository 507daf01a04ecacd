"""``${...}`` references in a scenario file: ``vars`` and ``${env:NAME}`` at load time, loop
bindings (``${evse}``, ``${charger}``, ``${iteration}``) while the run executes.

Load-time substitution works on the parsed YAML before validation, so a substituted value is
validated (and its errors located) exactly like a written one. A value that is a single reference
takes the variable's type (``within: ${deadline}`` with ``deadline: 5`` is the number 5); a
reference inside a longer string is replaced by its text. ``$${`` writes a literal ``${``.

A variable may refer to other variables, written before or after it (``b: "${a}"``); a cycle
(``a: ${b}``, ``b: ${a}``) is an error naming it, and so is a chain deeper than
:data:`MAX_VARIABLE_DEPTH`. Text made by substitution inside strings counts against
:data:`MAX_SUBSTITUTED_CHARS` for the whole file, so references cannot multiply a file's size
(``b: ${a}${a}``, ``c: ${b}${b}``, … doubles at every step).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any

__all__ = [
    "MAX_SUBSTITUTED_CHARS",
    "MAX_VARIABLE_DEPTH",
    "RUNTIME_NAMES",
    "Reporter",
    "TextBudget",
    "bind_text",
    "resolve_variables",
    "substitute",
]

_REFERENCE = re.compile(r"\$\$\{|\$\{([^}]*)\}")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# Names bound by blocks while the run executes, and the block key that binds each.
RUNTIME_NAMES = {"evse": "each", "charger": "each", "iteration": "repeat"}

#: How many characters substitution inside strings may produce in one file, in all.
MAX_SUBSTITUTED_CHARS = 1_000_000
#: How deep variables may refer to variables that refer to variables (a → b → c …).
MAX_VARIABLE_DEPTH = 32

Scalar = str | int | float | bool
#: ``report(path, message)`` records a problem at ``path``. An empty message marks a value left
#: unresolved because of a problem already reported elsewhere (a broken variable it uses), so
#: the caller can skip follow-on errors about that value without showing a second message.
Reporter = Callable[[tuple[str | int, ...], str], None]


class TextBudget:
    """The characters substitution inside strings may still produce (see
    :data:`MAX_SUBSTITUTED_CHARS`); one budget serves a whole file."""

    def __init__(self, limit: int = MAX_SUBSTITUTED_CHARS) -> None:
        self.limit = limit
        self.left = limit

    def take(self, count: int) -> bool:
        """Spend ``count`` characters; False (nothing spent) when fewer are left."""
        if count > self.left:
            return False
        self.left -= count
        return True


def resolve_variables(
    raw: Mapping[str, Scalar],
    report: Reporter,
    *,
    env: Mapping[str, str] | None = None,
    path: tuple[str | int, ...] = ("vars",),
    budget: TextBudget | None = None,
) -> Mapping[str, Scalar]:
    """The values of ``raw`` (the ``vars`` mapping) with their references substituted.

    A variable may use any other, in any order, and ``${env:...}``. Problems are reported at
    ``(*path, name)`` of the variable whose value holds the reference; a variable that could not
    be resolved keeps its text as written. Pass the result to :func:`substitute`: a reference to
    a broken variable is then left as written and marked (an empty message), not reported again.
    """
    environ = os.environ if env is None else env
    resolver = _Resolver(raw, report, environ, path, budget or TextBudget())
    for name in raw:
        resolver.value(name, report, (*path, name))
    return resolver


class _Resolver(Mapping[str, Scalar]):
    """``vars`` resolved on first use, so order does not matter and cycles are found."""

    def __init__(
        self,
        raw: Mapping[str, Scalar],
        report: Reporter,
        env: Mapping[str, str],
        path: tuple[str | int, ...],
        budget: TextBudget,
    ) -> None:
        self._raw = raw
        self._report = report
        self._env = env
        self._path = path
        self._budget = budget
        self._done: dict[str, Scalar] = {}
        self._failed: set[str] = set()
        self._active: list[str] = []

    def __getitem__(self, name: str) -> Scalar:
        return self.value(name, self._report, ())

    def __iter__(self) -> Iterator[str]:
        return iter(self._raw)

    def __len__(self) -> int:
        return len(self._raw)

    def __contains__(self, name: object) -> bool:
        return name in self._raw

    def failed(self, name: str) -> bool:
        return name in self._failed

    def value(self, name: str, report: Reporter, where: tuple[str | int, ...]) -> Scalar:
        """The value of ``name``; a cycle or a too-deep chain is reported (via ``report`` at
        ``where``, the place that refers to ``name``) and the text is left as written."""
        if name in self._done:
            return self._done[name]
        if name in self._active:
            cycle = [*self._active[self._active.index(name) :], name]
            report(
                where,
                "variables refer to each other in a cycle: "
                + " → ".join(cycle)
                + " (a variable cannot depend on itself)",
            )
            self._failed.update(cycle)
            return self._raw[name]
        if len(self._active) >= MAX_VARIABLE_DEPTH:
            chain = " → ".join([*self._active[:3], "…", name])
            report(
                where,
                f"variables refer to variables more than {MAX_VARIABLE_DEPTH} deep ({chain})",
            )
            self._failed.add(name)
            return self._raw[name]
        self._active.append(name)
        before = len(self._failed)
        problems: list[str] = []
        own_path = (*self._path, name)

        def own_report(at: tuple[str | int, ...], message: str) -> None:
            problems.append(message)
            self._report(at, message)

        try:
            value = substitute(
                self._raw[name],
                self,
                own_report,
                env=self._env,
                path=own_path,
                budget=self._budget,
            )
        finally:
            self._active.pop()
        if problems or len(self._failed) > before:
            self._failed.add(name)
        self._done[name] = value
        return value  # type: ignore[no-any-return]


def substitute(
    data: Any,
    variables: Mapping[str, Scalar],
    report: Reporter,
    *,
    env: Mapping[str, str] | None = None,
    path: tuple[str | int, ...] = (),
    bound: frozenset[str] = frozenset(),
    budget: TextBudget | None = None,
) -> Any:
    """``data`` with every load-time reference replaced; ``report(path, message)`` each problem.

    References to names bound by an enclosing block (``each`` → ``evse``/``charger``,
    ``repeat`` → ``iteration``) are left for the engine. ``variables`` may be the result of
    :func:`resolve_variables`; ``budget`` bounds the text substitution makes (one per file).
    """
    environ = os.environ if env is None else env
    budget = budget if budget is not None else TextBudget()
    if isinstance(data, str):
        return _text(data, variables, environ, bound, report, path, budget)
    if isinstance(data, list):
        return [
            substitute(
                v, variables, report, env=environ, path=(*path, i), bound=bound, budget=budget
            )
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
                value,
                variables,
                report,
                env=environ,
                path=(*path, key),
                bound=inner,
                budget=budget,
            )
        return out
    return data


def _text(
    text: str,
    variables: Mapping[str, Scalar],
    env: Mapping[str, str],
    bound: frozenset[str],
    report: Reporter,
    path: tuple[str | int, ...],
    budget: TextBudget,
) -> Any:
    if "${" not in text:
        return text
    matches = list(_REFERENCE.finditer(text))
    if not matches:
        return text
    whole = len(matches) == 1 and matches[0].group(0) == text and matches[0].group(1) is not None
    if whole:
        value = _value(matches[0].group(1), variables, env, bound, report, path)
        return text if value is None else value
    parts: list[str] = []
    size = 0
    end = 0
    for match in matches:
        if match.group(1) is None:  # an escaped $${
            piece = "${"
        else:
            value = _value(match.group(1), variables, env, bound, report, path)
            piece = match.group(0) if value is None else _as_text(value)
        parts += (text[end : match.start()], piece)
        size += match.start() - end + len(piece)
        end = match.end()
        if size > budget.left:
            break
    parts.append(text[end:])
    size += len(text) - end
    if not budget.take(size):
        report(
            path,
            f"substitution makes more than {budget.limit:,} characters of text in this file "
            "(references that repeat references multiply; write the value out instead)",
        )
        return text
    return "".join(parts)


def _value(
    name: str,
    variables: Mapping[str, Scalar],
    env: Mapping[str, str],
    bound: frozenset[str],
    report: Reporter,
    path: tuple[str | int, ...],
) -> Scalar | None:
    """The value of one reference, or ``None`` (left as written) when bound later or invalid."""
    if name.startswith("env:"):
        key, has_default, default = name[4:].partition(":-")
        if not _NAME.match(key):
            report(path, f"${{{name}}}: an environment variable name is letters, digits and _")
            return None
        if key in env:
            return env[key]
        if has_default:
            return default
        report(
            path,
            f"environment variable {key} is not set (write ${{env:{key}:-default}} for one)",
        )
        return None
    if name in variables:
        if isinstance(variables, _Resolver):
            value = variables.value(name, report, path)
            if variables.failed(name):
                report(path, "")  # reported where the variable is defined
                return None
            return value
        return variables[name]
    if name in bound:
        return None
    defined = ", ".join(sorted(variables)) or "none"
    hint = ""
    if name in RUNTIME_NAMES:
        hint = f" (${{{name}}} is bound only inside a {RUNTIME_NAMES[name]} block)"
    report(
        path,
        f"unknown variable ${{{name}}}{hint}; defined in vars: {defined}; also ${{env:NAME}}",
    )
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
