"""Load a scenario file: YAML → :class:`~ocpplab_sim.scenario.model.Scenario`, or a ScenarioError.

Every problem is reported with the file, the line and column of the offending value, and the dotted
field path. All problems of a file are collected, not just the first, so one ``validate`` run shows
them all.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from ocpplab_sim.errors import ScenarioError, ScenarioIssue
from ocpplab_sim.scenario.model import ACTIONS, SHORTHAND_FIELD, Scenario

__all__ = ["load_scenario", "parse_scenario"]

PathKey = tuple[str | int, ...]
# Appended to a path, names the position of the mapping key rather than of its value.
KEY = "\x00key"
# (line, column), 1-based
Position = tuple[int, int]


def load_scenario(path: Path | str) -> Scenario:
    """Read and validate the scenario at ``path``.

    Raises ScenarioError (exit code 2) for a missing or unreadable file, YAML syntax errors and
    every schema problem, each located by line and column.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise ScenarioError.single("file not found", path=path) from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError.single(f"cannot read the file: {exc}", path=path) from exc
    return parse_scenario(text, str(path))


def parse_scenario(text: str, source: str = "<scenario>") -> Scenario:
    """Validate scenario ``text``; ``source`` names it in errors."""
    data, positions = _compose(text, source)
    issues = _Issues(source, positions)
    if not isinstance(data, dict):
        issues.add((), "a scenario is a mapping with name, gateway and steps")
        issues.raise_if_any()
    header = {key: value for key, value in data.items() if key != "steps"}
    raw_steps = data.get("steps")
    steps: list[BaseModel] = []
    if raw_steps is None:
        issues.add(("steps",), "Field required: a scenario needs a list of steps")
    elif not isinstance(raw_steps, list) or not raw_steps:
        issues.add(("steps",), "steps must be a list of at least one step")
    else:
        for index, raw in enumerate(raw_steps):
            step = _parse_step(raw, ("steps", index), issues)
            if step is not None:
                steps.append(step)
    try:
        Scenario.model_validate({**header, "steps": ()})
    except ValidationError as exc:
        for error in exc.errors():
            loc = _loc(error)
            if loc and loc[0] == "steps":  # steps are checked one by one above
                continue
            issues.add(loc, _message(error, Scenario))
    issues.raise_if_any()
    scenario = Scenario.model_validate({**header, "steps": tuple(steps)})
    lines = tuple(positions.get(("steps", i), (None, None))[0] for i in range(len(steps)))
    return scenario.located(source, lines)


def _parse_step(raw: Any, where: PathKey, issues: _Issues) -> BaseModel | None:
    allowed = ", ".join(ACTIONS)
    if not isinstance(raw, dict) or not raw:
        issues.add(where, f"a step is a mapping with one action: {allowed}")
        return None
    actions = [key for key in raw if key in ACTIONS]
    others = [key for key in raw if key not in ACTIONS and key != "name"]
    for key in others:
        close = difflib.get_close_matches(str(key), ACTIONS, n=1)
        hint = f" (did you mean {close[0]}?)" if close else ""
        issues.add((*where, key, KEY), f"unknown action {key!r}{hint}; allowed: {allowed}")
    if len(actions) != 1:
        if not others:
            issues.add(where, f"a step has exactly one action, found {len(actions)}: {allowed}")
        return None
    (action,) = actions
    params = raw[action]
    if params is None:
        params = {}
    elif not isinstance(params, dict):
        params = {SHORTHAND_FIELD.get(action, "_"): params}
    if "name" in raw:
        params = {**params, "name": raw["name"]}
    model = ACTIONS[action]
    try:
        return model.model_validate(params)
    except ValidationError as exc:
        for error in exc.errors():
            loc = tuple(error["loc"])
            if loc == ("name",):
                issues.add((*where, "name"), _message(error, model))
            elif not isinstance(raw[action], dict):
                issues.add((*where, action), _message(error, model))
            else:
                issues.add(_loc(error, (*where, action)), _message(error, model))
        return None


def _loc(error: Any, prefix: PathKey = ()) -> PathKey:
    """Where a pydantic error points; an unknown field points at its key."""
    loc = (*prefix, *error["loc"])
    return (*loc, KEY) if error["type"] == "extra_forbidden" else loc


def _message(error: Any, model: type[BaseModel]) -> str:
    if error["type"] == "missing":
        return "Field required"
    if error["type"] == "extra_forbidden":
        fields = _fields_at(model, tuple(error["loc"])[:-1])
        return f"unknown field; allowed: {', '.join(fields)}" if fields else "unknown field"
    return str(error["msg"]).removeprefix("Value error, ")


def _fields_at(model: type[BaseModel], loc: PathKey) -> list[str]:
    """The field names of the (nested) model that ``loc`` points into."""
    current: Any = model
    for part in loc:
        field = current.model_fields.get(part) if isinstance(part, str) else None
        annotation = field.annotation if field is not None else None
        candidates = [annotation, *getattr(annotation, "__args__", ())]
        nested = [c for c in candidates if isinstance(c, type) and issubclass(c, BaseModel)]
        if not nested:
            return []
        current = nested[0]
    return [name for name in current.model_fields if name != "name" or current is model]


class _Issues:
    def __init__(self, source: str, positions: dict[PathKey, Position]) -> None:
        self._source = source
        self._positions = positions
        self._issues: list[ScenarioIssue] = []

    def add(self, loc: PathKey, message: str) -> None:
        """Record an issue at ``loc`` (end it with KEY to point at a mapping key)."""
        line, column = self._locate(loc)
        field = _dotted(tuple(part for part in loc if part != KEY)) or None
        self._issues.append(ScenarioIssue(message, self._source, line, column, field))

    def raise_if_any(self) -> None:
        if self._issues:
            self._issues.sort(key=lambda issue: (issue.line or 0, issue.column or 0))
            raise ScenarioError(self._issues)

    def _locate(self, loc: PathKey) -> tuple[int | None, int | None]:
        # A missing field has no position of its own: point at the mapping that lacks it.
        for end in range(len(loc), -1, -1):
            position = self._positions.get(loc[:end])
            if position is not None:
                return position
        return None, None


def _dotted(loc: PathKey) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _compose(text: str, source: str) -> tuple[Any, dict[PathKey, Position]]:
    """Parse YAML safely, returning the data and the position of every value by its path."""
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            raise ScenarioError.single("the file is empty", path=source, line=1, column=1)
        positions = dict(_walk(node, (), source))
        data = loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or "invalid YAML"
        raise ScenarioError.single(
            f"YAML syntax error: {problem}",
            path=source,
            line=mark.line + 1 if mark else None,
            column=mark.column + 1 if mark else None,
        ) from exc
    except yaml.YAMLError as exc:
        raise ScenarioError.single(f"YAML error: {exc}", path=source) from exc
    finally:
        loader.dispose()
    return data, positions


def _walk(node: yaml.Node, path: PathKey, source: str) -> Iterator[tuple[PathKey, Position]]:
    """Yield the position of every value by path, and of every mapping key by path + (KEY,)."""
    yield path, (node.start_mark.line + 1, node.start_mark.column + 1)
    if isinstance(node, yaml.MappingNode):
        seen: dict[str, yaml.Node] = {}
        for key_node, value_node in node.value:
            key = str(key_node.value)
            if key in seen:
                raise ScenarioError.single(
                    f"duplicate key {key!r} (first at line {seen[key].start_mark.line + 1})",
                    path=source,
                    line=key_node.start_mark.line + 1,
                    column=key_node.start_mark.column + 1,
                    field=_dotted((*path, key)),
                )
            seen[key] = key_node
            yield (*path, key, KEY), (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
            yield from _walk(value_node, (*path, key), source)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            yield from _walk(item, (*path, index), source)
