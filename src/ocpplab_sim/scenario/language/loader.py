"""Load a scenario file: YAML → :class:`~ocpplab_sim.scenario.model.Scenario`, or a ScenarioError.

Every problem is reported with the file, the line and column of the offending value, and the dotted
field path. All problems of a file are collected, not just the first, so one ``validate`` run shows
them all.

A scenario file is input from anyone, so what it can make the loader do is bounded; going past a
limit is a located error (exit code 2) found while reading, before anything is built from it:
an alias bomb or deep nesting in milliseconds, a file at the size limit in a second or two.

- :data:`MAX_FILE_BYTES`: the file's size (1 MiB; the shipped scenarios are 1–2 KB).
- :data:`MAX_DEPTH`: how deep mappings and lists nest (64; each block a step sits in adds two or
  three), also once aliases (``*name``) are expanded. It bounds every recursive walk after it.
- :data:`MAX_NODES`: how many values (keys included) the document holds once every alias is
  expanded (100,000: some 9,000 steps written out in full). Anchors that refer to anchors
  ("billion laughs") stop here, counted without being expanded. An alias inside the anchor it
  refers to is refused.
- ``${...}`` substitution inside strings makes at most
  :data:`~ocpplab_sim.scenario.variables.MAX_SUBSTITUTED_CHARS` characters per file, and
  variables refer to variables at most
  :data:`~ocpplab_sim.scenario.variables.MAX_VARIABLE_DEPTH` deep.
- A duration is at most :data:`~ocpplab_sim.scenario.types.MAX_DURATION_S` (365 days); an
  interval or a timeout must be longer than 0.
- A value YAML cannot build (``2001-02-30``, ``!!int x``, a number of 5,000 digits) is an
  error at its position, not a crash.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml
from pydantic import BaseModel, ValidationError
from yaml.composer import Composer
from yaml.constructor import SafeConstructor
from yaml.resolver import Resolver

from ocpplab_sim.errors import ScenarioError, ScenarioIssue
from ocpplab_sim.scenario.language.base import spec_for, step_models, step_specs
from ocpplab_sim.scenario.language.mapping import MappingError, ocpi_status_for
from ocpplab_sim.scenario.language.model import (
    STEP_KEYS,
    Action,
    Phase,
    Scenario,
    Wait,
)
from ocpplab_sim.scenario.language.preflight import lifecycle_problems, selector_problems
from ocpplab_sim.scenario.language.variables import (
    RUNTIME_NAMES,
    TextBudget,
    resolve_variables,
    substitute,
)
from ocpplab_sim.topology import Charger, Evse, OcppVersion, Topology

__all__ = ["MAX_DEPTH", "MAX_FILE_BYTES", "MAX_NODES", "load_scenario", "parse_scenario"]

#: The largest scenario file read, in bytes (a text given to parse_scenario: in characters).
MAX_FILE_BYTES = 1024 * 1024
#: How deep mappings and lists may nest, aliases expanded.
MAX_DEPTH = 64
#: How many values (mapping keys included) a document may hold, aliases expanded.
MAX_NODES = 100_000

# Checking every step against an inline topology costs steps × EVSEs; past this, validate
# checks what it can without it (a huge fleet and thousands of steps), and the run the rest.
_EXACT_WORK = 2_000_000

try:  # LibYAML parses several times faster; PyYAML's own parser is the fallback
    from yaml._yaml import CParser

    _HAS_LIBYAML = True
except ImportError:  # pragma: no cover - PyYAML built without LibYAML
    _HAS_LIBYAML = False
_USE_LIBYAML = True  # tests switch it off to check the fallback

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
        with path.open("rb") as handle:
            data = handle.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError as exc:
        raise ScenarioError.single("file not found", path=path) from exc
    except OSError as exc:
        raise ScenarioError.single(f"cannot read the file: {exc}", path=path) from exc
    if len(data) > MAX_FILE_BYTES:
        raise ScenarioError.single(_too_big("bytes"), path=path)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - data.rfind(b"\n", 0, exc.start)
        raise ScenarioError.single(
            f"the file is not UTF-8 text (byte 0x{data[exc.start]:02x} cannot be decoded)",
            path=path,
            line=line,
            column=column,
        ) from exc
    return parse_scenario(text, str(path), env=env)


def _too_big(unit: str) -> str:
    return (
        f"the file is larger than {MAX_FILE_BYTES:,} {unit} (1 MiB), the most a scenario may be; "
        "use repeat and each blocks rather than writing steps out"
    )


_STEP_LISTS = ("setup", "steps", "teardown")


def parse_scenario(
    text: str, source: str = "<scenario>", *, env: Mapping[str, str] | None = None
) -> Scenario:
    """Validate scenario ``text``; ``source`` names it in errors."""
    if len(text) > MAX_FILE_BYTES:
        raise ScenarioError.single(_too_big("characters"), path=source)
    data, positions = _compose(text, source)
    issues = _Issues(source, positions)
    if not isinstance(data, dict):
        issues.add((), "a scenario is a mapping with name, gateway (or topology) and steps")
        issues.raise_if_any()
    budget = TextBudget()
    variables = _variables(data.get("vars"), issues, env, budget)
    data = {
        key: value
        if key == "vars"
        else substitute(value, variables, issues.reference, env=env, path=(key,), budget=budget)
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
            issues.add_invalid(_loc(error), _message(error, Scenario))
    issues.raise_if_any()
    scenario = Scenario.model_validate({**header, "vars": dict(variables), **lists})
    _check_consistency(scenario, data, issues)
    issues.raise_if_any()
    topology = _inline_topology(scenario, issues)
    issues.raise_if_any()
    if topology is not None and len(scenario.all_steps()) * len(topology.evses) > _EXACT_WORK:
        topology = None  # checked against it when the run starts, not by validate
    problems = selector_problems(scenario, topology) if topology is not None else []
    problems = problems or lifecycle_problems(scenario, topology)
    for problem in problems:
        issues.add_at(problem.step.line, problem.step.column, problem.field, problem.message)
    issues.raise_if_any()
    return scenario.located(source)


def _variables(
    raw: Any, issues: _Issues, env: Mapping[str, str] | None, budget: TextBudget
) -> Mapping[str, Scalar]:
    """The ``vars`` mapping, its own values substituted: they may use ``${env:...}`` and each
    other, in any order (a cycle is an error)."""
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        issues.add(("vars",), "vars is a mapping of names to values")
        return {}
    written: dict[str, Scalar] = {}
    for name, value in raw.items():
        if not isinstance(name, str) or not _VAR_NAME.match(name):
            issues.add(("vars", name, KEY), "a variable name is letters, digits and _")
        elif name in RUNTIME_NAMES:
            issues.add(("vars", name, KEY), f"{name} is bound by {RUNTIME_NAMES[name]} blocks")
        elif isinstance(value, bool | int | float | str):
            written[name] = value
        else:
            issues.add(("vars", name), "a variable is a string, number or boolean")
    return resolve_variables(written, issues.reference, env=env, budget=budget)


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
    models = step_models()
    allowed = ", ".join(models)
    if not isinstance(raw, dict) or not raw:
        issues.add(where, f"a step is a mapping with one action: {allowed}")
        return None
    actions = [key for key in raw if key in models]
    others = [key for key in raw if key not in models and key not in STEP_KEYS]
    for key in others:
        close = difflib.get_close_matches(str(key), [*models, *STEP_KEYS], n=1)
        hint = f" (did you mean {close[0]}?)" if close else ""
        issues.add((*where, key, KEY), f"unknown action {key!r}{hint}; allowed: {allowed}")
    if len(actions) != 1:
        if not others:
            issues.add(where, f"a step has exactly one action, found {len(actions)}: {allowed}")
        return None
    (action,) = actions
    spec = spec_for(action)
    assert spec is not None
    model = spec.model
    params = raw[action]
    written_as_mapping = isinstance(params, dict)
    if params is None:
        params = {}
    elif not written_as_mapping:
        params = {spec.shorthand or "_": params}
    params = {**params, **{key: raw[key] for key in STEP_KEYS if key in raw}}
    children_ok = True
    if spec.block and "steps" in params:
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
                issues.add_invalid((*where, *loc), _message(error, model))
            elif not written_as_mapping:
                issues.add_invalid((*where, action), _message(error, model))
            else:
                issues.add_invalid(_loc(error, (*where, action)), _message(error, model))
        return None
    return step.at_line(*issues.position_of(where)) if children_ok else None


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
    needs_gateway = [spec.name for spec in step_specs() if spec.needs_gateway]
    for where, step in _walk_steps(data):
        if not isinstance(step, dict):
            continue
        for key in needs_gateway:
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


def _inline_topology(scenario: Scenario, issues: _Issues) -> Topology | None:
    """The network an inline ``topology`` describes (EVSE uids ``{identity}-{n}`` unless given),
    as the runner builds it; a repeated identity or EVSE uid is located."""
    if scenario.topology is None:
        return None
    chargers = []
    identities: dict[str, int] = {}
    uids: dict[str, int] = {}
    for index, charger in enumerate(scenario.topology.chargers):
        where: PathKey = ("topology", "chargers", index)
        repeated = charger.identity in identities
        if repeated:
            issues.add(
                (*where, "identity"),
                f"charger identity {charger.identity!r} is used twice "
                f"(first by topology.chargers[{identities[charger.identity]}])",
            )
        identities.setdefault(charger.identity, index)
        written = [None] * charger.evses if isinstance(charger.evses, int) else list(charger.evses)
        evses = []
        for number, spec in enumerate(written, start=1):
            uid = (spec.uid if spec is not None else None) or f"{charger.identity}-{number}"
            given = spec is not None and bool(spec.uid)
            if uid in uids and (given or not repeated):
                at: PathKey = (
                    (*where, "evses", number - 1, "uid") if given else (*where, "identity")
                )
                issues.add(
                    at,
                    f"EVSE uid {uid!r} is used twice (first by topology.chargers[{uids[uid]}]); "
                    "give each EVSE its own uid",
                )
            uids.setdefault(uid, index)
            topology_id = spec.topology_id if spec is not None else None
            evses.append(Evse(uid, charger.identity, number, charger.location, None, topology_id))
        version: OcppVersion = charger.ocpp_version
        chargers.append(Charger(charger.identity, version, charger.location, tuple(evses)))
    if issues.count:
        return None
    return Topology(tuple(chargers))


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
        # Where a ${...} reference was left unresolved (already reported): the value's own
        # validation error there would only repeat it.
        self._unresolved: set[PathKey] = set()

    def add(self, loc: tuple[str | int, ...], message: str) -> None:
        """Record an issue at ``loc`` (end it with KEY to point at a mapping key)."""
        line, column = self._locate(loc)
        field = _dotted(tuple(part for part in loc if part != KEY)) or None
        self._issues.append(ScenarioIssue(message, self._source, line, column, field))

    def add_at(self, line: int | None, column: int | None, field: str, message: str) -> None:
        """Record an issue where a step was written (steps remember their position)."""
        self._issues.append(ScenarioIssue(message, self._source, line, column, field))

    def reference(self, loc: tuple[str | int, ...], message: str) -> None:
        """The reporter of substitution: an issue, and the value marked unresolved (an
        empty message only marks it)."""
        self._unresolved.add(loc)
        if message:
            self.add(loc, message)

    def add_invalid(self, loc: tuple[str | int, ...], message: str) -> None:
        """A validation error at ``loc``, unless it is about a value left unresolved."""
        path = tuple(part for part in loc if part != KEY)
        for unresolved in self._unresolved:
            shorter = min(len(path), len(unresolved))
            if path[:shorter] == unresolved[:shorter] and len(path) >= len(unresolved) - 1:
                return
        self.add(loc, message)

    @property
    def count(self) -> int:
        return len(self._issues)

    def position_of(self, loc: PathKey) -> tuple[int | None, int | None]:
        return self._locate(loc)

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
    loader: _Bounded | None = None
    try:
        loader = _loader(text, source)  # PyYAML's reader checks every character here
        node = loader.get_single_node()
        if node is None:
            raise ScenarioError.single("the file is empty", path=source, line=1, column=1)
        paths: dict[int, PathKey] = {}
        positions = dict(_walk(node, (), source, paths))
        try:
            data = loader.construct_document(node)
        except _BadValue as exc:
            mark = exc.node.start_mark
            raise ScenarioError.single(
                exc.message,
                path=source,
                line=mark.line + 1,
                column=mark.column + 1,
                field=_dotted(paths.get(id(exc.node), ())) or None,
            ) from exc
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or "invalid YAML"
        if "maximum nesting depth" in problem:  # LibYAML's own limit, reached first by [[[…
            problem = f"nested deeper than {MAX_DEPTH} levels of [ and {{ brackets"
        raise ScenarioError.single(
            problem if problem.startswith("nested") else f"YAML syntax error: {problem}",
            path=source,
            line=mark.line + 1 if mark else None,
            column=mark.column + 1 if mark else None,
        ) from exc
    except yaml.reader.ReaderError as exc:
        where = text.encode("utf-8")[: exc.position].decode("utf-8", "replace")
        if not getattr(loader, "positions_in_bytes", False):
            where = text[: exc.position]
        line = where.count("\n") + 1
        column = len(where) - where.rfind("\n")
        character = exc.character
        code = ord(character) if isinstance(character, str) else int(character)
        raise ScenarioError.single(
            f"the file contains the character U+{code:04X}, which YAML does not "
            "allow (control characters other than tab and newline)",
            path=source,
            line=line,
            column=column,
        ) from exc
    except yaml.YAMLError as exc:
        raise ScenarioError.single(f"YAML error: {exc}", path=source) from exc
    finally:
        if loader is not None:
            loader.dispose()
    return data, positions


class _BadValue(Exception):
    """A scalar YAML resolved to a type it cannot build (``2001-02-30``, ``!!int x``)."""

    def __init__(self, node: yaml.Node, message: str) -> None:
        super().__init__(message)
        self.node = node
        self.message = message


class _Bounded(Composer, SafeConstructor):
    """PyYAML's composer within the limits of this module: nesting depth and node count, both
    with aliases expanded (counted, not expanded, so a "billion laughs" costs nothing), no alias
    inside its own anchor, and a value that cannot be built is a located error, not a crash.

    PyYAML composes recursively, so the depth is checked on the way down, before Python's own
    recursion limit could be reached. Mixed into a loader below (safe constructor only).
    """

    if TYPE_CHECKING:  # given by the parser each loader below is built on

        def peek_event(self) -> yaml.Event: ...
        def dispose(self) -> None: ...

    def _start(self, source: str) -> None:
        self._source = source
        self._nodes = 0
        # The collections being composed, outermost first, and the path to the current node.
        self._open: list[yaml.Node] = []
        self._path: list[str | int] = []
        self._sizes: dict[int, tuple[int, int]] = {}  # id(node) → (values, depth), expanded

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node:
        if parent is not None:
            self._open.append(parent)
            if isinstance(index, int):
                self._path.append(index)
            elif isinstance(index, yaml.ScalarNode):
                self._path.append(str(index.value))
            else:  # a mapping key
                self._path.append(KEY)
        try:
            return self._compose_bounded(parent, index)
        finally:
            if parent is not None:
                self._open.pop()
                self._path.pop()

    def _compose_bounded(self, parent: yaml.Node | None, index: Any) -> yaml.Node:
        event = self.peek_event()
        depth = len(self._open) + 1
        if isinstance(event, yaml.AliasEvent) and event.anchor in self.anchors:
            target = self.anchors[event.anchor]
            if any(target is node for node in self._open):
                self._refuse(
                    event,
                    f"the alias *{event.anchor} is inside the anchor &{event.anchor} it refers "
                    "to: a structure cannot contain itself",
                )
            count, height = self._size(target)
            if self._nodes + count > MAX_NODES:
                self._refuse(
                    event,
                    f"the alias *{event.anchor} makes the document hold more than "
                    f"{MAX_NODES:,} values once aliases are expanded (anchors that refer to "
                    "anchors multiply)",
                )
            if depth + height - 1 > MAX_DEPTH:
                self._refuse(
                    event,
                    f"the alias *{event.anchor} makes the document nest deeper than "
                    f"{MAX_DEPTH} levels once expanded",
                )
            self._nodes += count
        elif not isinstance(event, yaml.AliasEvent):
            if depth > MAX_DEPTH:
                self._refuse(
                    event,
                    f"nested deeper than {MAX_DEPTH} levels of mappings and lists "
                    "(blocks in blocks in blocks…); flatten the scenario",
                )
            self._nodes += 1
            if self._nodes > MAX_NODES:
                self._refuse(
                    event,
                    f"the document holds more than {MAX_NODES:,} values; use repeat and each "
                    "blocks rather than writing steps out",
                )
        node = super().compose_node(parent, index)
        assert node is not None
        return node

    def _size(self, node: yaml.Node) -> tuple[int, int]:
        """How many values ``node`` holds and how deep it nests, aliases expanded. Every alias
        target inside was measured when its alias was composed, so this stays linear."""
        known = self._sizes.get(id(node))
        if known is not None:
            return known
        if isinstance(node, yaml.SequenceNode):
            children = list(node.value)
        elif isinstance(node, yaml.MappingNode):
            children = [item for pair in node.value for item in pair]
        else:
            children = []
        sizes = [self._size(child) for child in children]
        size = (1 + sum(count for count, _ in sizes), 1 + max((h for _, h in sizes), default=0))
        self._sizes[id(node)] = size
        return size

    def _refuse(self, event: yaml.Event, message: str) -> None:
        mark = event.start_mark
        parts = tuple(part for part in self._path if part != KEY)
        # Deep down, the path is as long as the problem: show where it starts.
        field = _dotted(parts[:8]) + ("…" if len(parts) > 8 else "")
        raise ScenarioError.single(
            message,
            path=self._source,
            line=mark.line + 1 if mark is not None else None,
            column=mark.column + 1 if mark is not None else None,
            field=field or None,
        )

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep)
        except (yaml.YAMLError, _BadValue):
            raise
        except Exception as exc:
            shown = str(node.value) if isinstance(node, yaml.ScalarNode) else node.tag
            shown = shown if len(shown) <= 40 else shown[:37] + "..."
            if isinstance(exc, KeyError):
                reason = f"not a valid {node.tag.rsplit(':', 1)[-1]}"
            else:
                reason = str(exc).split(";")[0]
                reason = reason if len(reason) <= 100 else type(exc).__name__
            raise _BadValue(node, f"cannot read the value {shown!r}: {reason}") from exc


class _PyLoader(_Bounded, yaml.SafeLoader):
    """The bounded loader on PyYAML's pure-Python parser (when LibYAML is not installed)."""

    positions_in_bytes = False

    def __init__(self, text: str, source: str) -> None:
        yaml.SafeLoader.__init__(self, text)
        self._start(source)

    def fetch_flow_collection_start(self, TokenClass: Any) -> None:
        # PyYAML's scanner looks ahead over every open [ or { for a key: bound it here, before
        # the composer sees the nesting (5,000 brackets would otherwise take seconds).
        if self.flow_level >= MAX_DEPTH:
            mark = self.get_mark()
            raise ScenarioError.single(
                f"nested deeper than {MAX_DEPTH} levels of [ and {{ brackets",
                path=self._source,
                line=mark.line + 1,
                column=mark.column + 1,
            )
        super().fetch_flow_collection_start(TokenClass)


if _HAS_LIBYAML:

    class _CLoader(_Bounded, CParser, Resolver):
        """The bounded loader on LibYAML's parser (several times faster); composed and
        constructed in Python like the pure-Python one, so the limits hold the same way."""

        positions_in_bytes = True  # LibYAML counts a reader error's position in UTF-8 bytes

        def __init__(self, text: str, source: str) -> None:
            CParser.__init__(self, text)
            Composer.__init__(self)
            SafeConstructor.__init__(self)
            Resolver.__init__(self)
            self._start(source)


def _loader(text: str, source: str) -> _Bounded:
    """The fastest bounded loader available."""
    if _HAS_LIBYAML and _USE_LIBYAML:
        return _CLoader(text, source)
    return _PyLoader(text, source)


def _walk(
    node: yaml.Node, path: PathKey, source: str, paths: dict[int, PathKey]
) -> Iterator[tuple[PathKey, Position]]:
    """Yield the position of every value by path, and of every mapping key by path + (KEY,);
    ``paths`` gets the first path of every node."""
    paths.setdefault(id(node), path)
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
            paths.setdefault(id(key_node), (*path, key))
            yield (*path, key, KEY), (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
            yield from _walk(value_node, (*path, key), source, paths)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            yield from _walk(item, (*path, index), source, paths)
