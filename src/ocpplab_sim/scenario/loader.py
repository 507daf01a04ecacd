"""Load a scenario file: YAML → :class:`~ocpplab_sim.scenario.model.Scenario`, or a ScenarioError.

Every problem is reported with the file, the line and column of the offending value, and the dotted
field path. All problems of a file are collected, not just the first, so one ``validate`` run shows
them all.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from ocpplab_sim.errors import ScenarioError, ScenarioIssue
from ocpplab_sim.scenario.actions import CSMS_OPERATIONS
from ocpplab_sim.scenario.mapping import MappingError, ocpi_status_for
from ocpplab_sim.scenario.model import (
    ACTIONS,
    BLOCKS,
    SHORTHAND_FIELD,
    STEP_KEYS,
    Action,
    Each,
    Phase,
    Scenario,
    Wait,
)
from ocpplab_sim.scenario.variables import RUNTIME_NAMES, substitute

__all__ = ["load_scenario", "parse_scenario"]

PathKey = tuple[str | int, ...]
# Appended to a path, names the position of the mapping key rather than of its value.
KEY = "\x00key"
# (line, column), 1-based
Position = tuple[int, int]
Scalar = str | int | float | bool
_VAR_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def load_scenario(path: Path | str, *, env: Mapping[str, str] | None = None) -> Scenario:
    """Read and validate the scenario at ``path``.

    Raises ScenarioError (exit code 2) for a missing or unreadable file, YAML syntax errors and
    every schema problem, each located by line and column. ``env`` replaces ``os.environ`` for
    ``${env:NAME}`` references.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise ScenarioError.single("file not found", path=path) from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError.single(f"cannot read the file: {exc}", path=path) from exc
    return parse_scenario(text, str(path), env=env)


_STEP_LISTS = ("setup", "steps", "teardown")
_NEEDS_GATEWAY = (*(cls.key for cls in CSMS_OPERATIONS), "expect_report")


def parse_scenario(
    text: str, source: str = "<scenario>", *, env: Mapping[str, str] | None = None
) -> Scenario:
    """Validate scenario ``text``; ``source`` names it in errors."""
    data, positions = _compose(text, source)
    issues = _Issues(source, positions)
    if not isinstance(data, dict):
        issues.add((), "a scenario is a mapping with name, gateway (or topology) and steps")
        issues.raise_if_any()
    variables = _variables(data.get("vars"), issues, env)
    data = {
        key: value
        if key == "vars"
        else substitute(value, variables, issues.add, env=env, path=(key,))
        for key, value in data.items()
    }
    header = {k: v for k, v in data.items() if k not in (*_STEP_LISTS, "phases", "vars")}
    lists: dict[str, Any] = {}
    for key in _STEP_LISTS:
        if key in data:
            lists[key] = _parse_steps(data[key], (key,), issues, allow_empty=key != "steps")
    if "phases" in data:
        lists["phases"] = _parse_phases(data["phases"], issues)
    if "steps" in data and "phases" in data:
        issues.add(("phases", KEY), "give either steps or phases, not both")
    elif "steps" not in data and "phases" not in data:
        issues.add(("steps",), "Field required: a scenario needs a list of steps (or phases)")
    try:
        Scenario.model_validate(header)
    except ValidationError as exc:
        for error in exc.errors():
            issues.add(_loc(error), _message(error, Scenario))
    issues.raise_if_any()
    scenario = Scenario.model_validate({**header, "vars": variables, **lists})
    _check_consistency(scenario, data, issues)
    issues.raise_if_any()
    return scenario.located(source)


def _variables(raw: Any, issues: _Issues, env: Mapping[str, str] | None) -> dict[str, Scalar]:
    """The ``vars`` mapping, its own values substituted (they may use ``${env:...}``)."""
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        issues.add(("vars",), "vars is a mapping of names to values")
        return {}
    out: dict[str, Scalar] = {}
    for name, value in raw.items():
        if not isinstance(name, str) or not _VAR_NAME.match(name):
            issues.add(("vars", name, KEY), "a variable name is letters, digits and _")
        elif name in RUNTIME_NAMES:
            issues.add(("vars", name, KEY), f"{name} is bound by {RUNTIME_NAMES[name]} blocks")
        elif isinstance(value, bool | int | float | str):
            out[name] = substitute(value, {}, issues.add, env=env, path=("vars", name))
        else:
            issues.add(("vars", name), "a variable is a string, number or boolean")
    return out


def _parse_phases(raw: Any, issues: _Issues) -> list[Phase]:
    if not isinstance(raw, list) or not raw:
        issues.add(("phases",), "phases is a list of {name, steps}")
        return []
    phases = []
    names: set[str] = set()
    for index, item in enumerate(raw):
        where: PathKey = ("phases", index)
        if not isinstance(item, dict):
            issues.add(where, "a phase is a mapping with name and steps")
            continue
        for key in set(item) - {"name", "steps"}:
            issues.add((*where, key, KEY), "unknown field; allowed: name, steps")
        name = item.get("name")
        if not isinstance(name, str) or not name:
            issues.add((*where, "name"), "Field required: every phase has a name")
            continue
        if name in names:
            issues.add((*where, "name"), f"phase name {name!r} is used twice")
        names.add(name)
        steps = _parse_steps(item.get("steps"), (*where, "steps"), issues, allow_empty=False)
        if steps:
            phases.append(Phase(name=name, steps=tuple(steps)))
    return phases


def _parse_steps(raw: Any, where: PathKey, issues: _Issues, *, allow_empty: bool) -> list[Any]:
    if raw is None or (allow_empty and raw == []):
        if not allow_empty:
            issues.add(where, "Field required: a list of steps")
        return []
    if not isinstance(raw, list) or not raw:
        issues.add(where, f"{where[-1]} must be a list of at least one step")
        return []
    steps = [_parse_step(item, (*where, index), issues) for index, item in enumerate(raw)]
    return [step for step in steps if step is not None]


def _parse_step(raw: Any, where: PathKey, issues: _Issues) -> Action | None:
    allowed = ", ".join(ACTIONS)
    if not isinstance(raw, dict) or not raw:
        issues.add(where, f"a step is a mapping with one action: {allowed}")
        return None
    actions = [key for key in raw if key in ACTIONS]
    others = [key for key in raw if key not in ACTIONS and key not in STEP_KEYS]
    for key in others:
        close = difflib.get_close_matches(str(key), [*ACTIONS, *STEP_KEYS], n=1)
        hint = f" (did you mean {close[0]}?)" if close else ""
        issues.add((*where, key, KEY), f"unknown action {key!r}{hint}; allowed: {allowed}")
    if len(actions) != 1:
        if not others:
            issues.add(where, f"a step has exactly one action, found {len(actions)}: {allowed}")
        return None
    (action,) = actions
    model = ACTIONS[action]
    params = raw[action]
    written_as_mapping = isinstance(params, dict)
    if params is None:
        params = {}
    elif not written_as_mapping:
        params = {SHORTHAND_FIELD.get(action, "_"): params}
    params = {**params, **{key: raw[key] for key in STEP_KEYS if key in raw}}
    children_ok = True
    if model in BLOCKS and "steps" in params:
        steps_at = (*where, action, "steps") if written_as_mapping else (*where, action)
        before = issues.count
        children = _parse_steps(params["steps"], steps_at, issues, allow_empty=False)
        children_ok = issues.count == before
        # Placeholder children keep the block's own fields checked when a child is invalid.
        params = {**params, "steps": children if children_ok else [Wait(duration=0)]}
    try:
        step = model.model_validate(params)
    except ValidationError as exc:
        for error in exc.errors():
            loc = tuple(error["loc"])
            if loc[:1] and loc[0] in STEP_KEYS and loc[0] in raw:
                issues.add((*where, *loc), _message(error, model))
            elif not written_as_mapping:
                issues.add((*where, action), _message(error, model))
            else:
                issues.add(_loc(error, (*where, action)), _message(error, model))
        return None
    if isinstance(step, Each) and (step.evse is None) == (step.charger is None):
        issues.add((*where, action), "each takes exactly one of evse or charger (and steps)")
        return None
    return step.at_line(issues.line_of(where)) if children_ok else None


def _check_consistency(scenario: Scenario, data: dict[str, Any], issues: _Issues) -> None:
    """Rules across fields: gateway or topology; OCPI expectations need an OCPI peer."""
    if scenario.gateway is not None and scenario.topology is not None:
        issues.add(("topology", KEY), "give either gateway or topology, not both")
        return
    if scenario.gateway is None and scenario.topology is None:
        issues.add(
            ("gateway",),
            "Field required: give gateway (a CPO to provision) or topology (inline chargers)",
        )
        return
    if scenario.topology is not None and "ocpi" in data:
        issues.add(("ocpi", KEY), "ocpi needs a gateway: an inline topology has no OCPI peer")
    profile = scenario.gateway.mapping_profile if scenario.gateway else None
    for where, step in _walk_steps(data):
        if not isinstance(step, dict):
            continue
        for key in _NEEDS_GATEWAY:
            if key in step and scenario.gateway is None:
                issues.add(
                    (*where, key, KEY),
                    f"{key} needs a gateway (its command API or report); an inline topology "
                    "has none",
                )
        expect = step.get("expect_ocpi")
        if isinstance(expect, dict) and isinstance(expect.get("status_of_ocpp"), str):
            try:
                ocpi_status_for(expect["status_of_ocpp"], profile)
            except MappingError as exc:
                issues.add((*where, "expect_ocpi", "status_of_ocpp"), str(exc))
        if "expect_ocpi" in step and scenario.gateway is None:
            issues.add(
                (*where, "expect_ocpi", KEY),
                "expect_ocpi needs a gateway: with an inline topology there is no OCPI peer",
            )
        if "expect_push" in step and not scenario.ocpi.push:
            issues.add(
                (*where, "expect_push", KEY),
                "expect_push needs ocpi: {push: true} (the harness then runs an eMSP receiver)",
            )


def _walk_steps(data: dict[str, Any]) -> Iterator[tuple[PathKey, Any]]:
    def walk(where: PathKey, raw: Any) -> Iterator[tuple[PathKey, Any]]:
        if not isinstance(raw, list):
            return
        for index, step in enumerate(raw):
            yield (*where, index), step
            if not isinstance(step, dict):
                continue
            for key in ("parallel", "repeat", "each"):
                block = step.get(key)
                if isinstance(block, dict):
                    yield from walk((*where, index, key, "steps"), block.get("steps"))
                elif isinstance(block, list):
                    yield from walk((*where, index, key), block)

    for key in _STEP_LISTS:
        yield from walk((key,), data.get(key))
    phases = data.get("phases")
    if isinstance(phases, list):
        for index, phase in enumerate(phases):
            if isinstance(phase, dict):
                yield from walk(("phases", index, "steps"), phase.get("steps"))


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

    def add(self, loc: tuple[str | int, ...], message: str) -> None:
        """Record an issue at ``loc`` (end it with KEY to point at a mapping key)."""
        line, column = self._locate(loc)
        field = _dotted(tuple(part for part in loc if part != KEY)) or None
        self._issues.append(ScenarioIssue(message, self._source, line, column, field))

    @property
    def count(self) -> int:
        return len(self._issues)

    def line_of(self, loc: PathKey) -> int | None:
        return self._locate(loc)[0]

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
