"""Merge load reports of several shards into one, exactly.

Counters are summed and HDR histograms added — totals and every percentile equal those of one run
of the whole fleet. The timeline is merged second by second the same way.

A merge takes one complete set of shard reports of one run and nothing else. Each report is
checked first (kind, version, shard, plan, metrics, timeline); every problem is an
:class:`~ocpplab_sim.errors.InputError` naming the file and the field. Shard reports carry no run
id, so "one run" means: the same plan (fleet size, shape, seed, central system, identities, …),
the same shard count, each shard once — and, when reports carry a ``run_id``, the same one. With
``allow_partial`` missing shards are merged over and recorded in the merged report
(``shard.complete``, ``shard.missing``, ``shard.missing_chargers``).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeGuard

from ocpplab_sim.errors import InputError
from ocpplab_sim.load.metrics import REPORT_KIND as METRICS_KIND
from ocpplab_sim.load.metrics import REPORT_VERSION as METRICS_VERSION
from ocpplab_sim.load.metrics import LatencyHistogram, LoadMetrics
from ocpplab_sim.load.shard import Shard

__all__ = ["MergedReport", "merge_load_reports", "read_report"]

_KIND = "ocpplab-sim/load-run"
_VERSION = 1
_MAX_LINES = 6
_MAX_SHARDS = 100_000  # what a Kubernetes Indexed Job can have (completions ≤ 10^5)
_TIMELINE_REQUIRED = ("connected", "charging", "messages")
_TIMELINE_OPTIONAL = ("faulted", "booted", "sessions", "errors")
_NOTES = ("ocpi_misses", "worker_failures")  # lists of lines, carried into the merged report


@dataclass(frozen=True)
class MergedReport:
    """The merged ``report`` and ``warnings`` for the user (missing shards, doubtful timing)."""

    report: dict[str, Any]
    warnings: tuple[str, ...] = ()


def read_report(path: Path) -> Any:
    """The JSON in ``path``; :class:`InputError` naming the file when it cannot be read."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"{path}: cannot read the report: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not a JSON report: not UTF-8 text ({exc.reason})") from exc
    if not text.strip():
        raise InputError(f"{path}: not a JSON report: the file is empty")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(
            f"{path}: not a JSON report: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from exc
    except RecursionError as exc:
        raise InputError(f"{path}: not a JSON report: nested too deeply") from exc


def merge_load_reports(
    reports: Sequence[Any], *, sources: Sequence[str] | None = None, allow_partial: bool = False
) -> MergedReport:
    """One report from the shard reports of one run; :class:`InputError` otherwise.

    ``sources`` names each report in messages (its file); ``allow_partial`` merges an incomplete
    set of shards and records which are missing.
    """
    names = [f"report {i + 1}" for i in range(len(reports))] if sources is None else list(sources)
    if len(names) != len(reports):
        raise ValueError("one source name per report")
    if not reports:
        raise InputError("nothing to merge: give the shard reports of one run")
    _fail([problem for r, name in zip(reports, names, strict=True) for problem in _check(r, name)])
    checked: Sequence[Mapping[str, Any]] = reports  # _check found each well formed
    shards = _check_one_run(checked, names)
    count = shards[0].count
    missing = [Shard(i, count) for i in range(count) if i not in {s.index for s in shards}]
    total = int(checked[0]["plan"]["total"])
    missing_chargers = sum(len(s.slice(total)) for s in missing)
    warnings: list[str] = []
    if missing:
        listed = ", ".join(f"{s.index}/{s.count}" for s in missing[:8])
        listed += f", … ({len(missing)} in all)" if len(missing) > 8 else ""
        if not allow_partial:
            given = sorted(zip(shards, names, strict=True), key=lambda pair: pair[0].index)
            have = ", ".join(f"{s.index}/{s.count} {name}" for s, name in given[:4])
            have += ", …" if len(given) > 4 else ""
            raise InputError(
                f"incomplete set of shards: missing {listed} (given {have}); give every "
                "shard's report, or --allow-partial to merge what is there"
            )
        warnings.append(
            f"partial merge: {len(missing)} of {count} shards missing ({listed}): the totals "
            f"leave out {missing_chargers} of {total} chargers; the merged report records it "
            "under shard.missing"
        )
    warnings.extend(_timing_warnings(checked, names, shards))
    report = _merge(checked, names, shards)
    report["shard"].update(
        complete=not missing,
        missing=[f"{s.index}/{s.count}" for s in missing],
        missing_chargers=missing_chargers,
    )
    return MergedReport(report, tuple(warnings))


def _fail(problems: Sequence[str]) -> None:
    if not problems:
        return
    shown = list(problems[:_MAX_LINES])
    if len(problems) > _MAX_LINES:
        shown.append(f"… and {len(problems) - _MAX_LINES} more problem(s)")
    raise InputError("\n".join(shown))


# -- one report on its own ------------------------------------------------------------------------


def _is_int(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_count(value: object) -> bool:
    return _is_int(value) and value >= 0


def _is_seconds(value: object) -> bool:
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(value)
        and value >= 0
    )


def _type(value: object) -> str:
    names = {dict: "an object", list: "a list", str: "a string", bool: "a boolean"}
    if value is None:
        return "null"
    return names.get(type(value), "a number" if isinstance(value, int | float) else "?")


def _unlike(value: object, expected: str) -> str:
    return "missing" if value is None else f"{_type(value)}, not {expected}"


def _check(report: Any, source: str) -> list[str]:
    """Every problem of one report, as ``source: field: problem`` lines (none: well formed)."""
    if not isinstance(report, dict):
        return [f"{source}: not a load report: the JSON is {_type(report)}, not an object"]
    kind = report.get("kind")
    if kind != _KIND:
        if kind is None and "report_version" in report:
            return [f"{source}: a scenario run report (run --json), not a load report"]
        what = "missing" if kind is None else f"{kind!r}"
        return [f"{source}: kind: {what}, not {_KIND!r}: not an ocpplab-sim load report"]
    version = report.get("version")
    if version != _VERSION:
        what = "missing" if version is None else f"{version!r}"
        return [f"{source}: version: {what}; this ocpplab-sim merges load reports of version 1"]
    problems: list[str] = []

    def problem(field: str, text: str) -> None:
        problems.append(f"{source}: {field}: {text}")

    for field in ("started_at", "duration_s"):
        if field not in report:
            problem(field, "missing")
        elif not _is_seconds(report[field]):
            problem(field, f"{report[field]!r} is not a number of seconds ≥ 0")
    if not _is_count(report.get("workers")):
        problem("workers", "missing" if "workers" not in report else "not a whole number ≥ 0")
    problems.extend(f"{source}: {text}" for text in _check_shard(report.get("shard")))
    plan = report.get("plan")
    if not isinstance(plan, dict):
        problem("plan", _unlike(plan, "an object"))
    elif not _is_count(plan.get("total")):
        problem("plan.total", "missing" if "total" not in plan else "not a whole number ≥ 0")
    if "settings" in report and not isinstance(report["settings"], dict):
        problem("settings", f"{_type(report['settings'])}, not an object")
    if "run_id" in report and not (isinstance(report["run_id"], str) and report["run_id"]):
        problem("run_id", "not a non-empty string")
    for field in _NOTES:
        notes = report.get(field, [])
        if not (isinstance(notes, list) and all(isinstance(note, str) for note in notes)):
            problem(field, "not a list of strings")
    problems.extend(f"{source}: {text}" for text in _check_metrics(report.get("metrics")))
    problems.extend(f"{source}: {text}" for text in _check_timeline(report.get("timeline")))
    return problems


def _check_shard(shard: object) -> list[str]:
    if not isinstance(shard, dict):
        return [f"shard: {_unlike(shard, 'an object')}"]
    index, count = shard.get("index"), shard.get("count")
    if not _is_int(index) or not _is_int(count):
        return [f"shard: index and count must be whole numbers, got {index!r}/{count!r}"]
    if count > _MAX_SHARDS:
        return [f"shard: count {count} is more than the {_MAX_SHARDS} shards a merge takes"]
    if not 0 <= index < count:
        return [f"shard: {index}/{count} is not a shard (need 0 ≤ index < count)"]
    return []


def _check_metrics(metrics: object) -> list[str]:
    if not isinstance(metrics, dict):
        return [f"metrics: {_unlike(metrics, 'an object')}"]
    if metrics.get("kind") != METRICS_KIND or metrics.get("version") != METRICS_VERSION:
        return [
            f"metrics: kind/version {metrics.get('kind')!r}/{metrics.get('version')!r}, "
            f"not {METRICS_KIND!r}/{METRICS_VERSION}"
        ]
    problems: list[str] = []
    counters = metrics.get("counters", {})
    if not isinstance(counters, dict):
        problems.append(f"metrics.counters: {_type(counters)}, not an object")
    else:
        bad = [name for name, value in counters.items() if not _is_count(value)]
        if bad:
            problems.append(f"metrics.counters.{bad[0]}: {counters[bad[0]]!r} is not a count ≥ 0")
    histograms = metrics.get("histograms", {})
    if not isinstance(histograms, dict):
        problems.append(f"metrics.histograms: {_type(histograms)}, not an object")
    else:
        bad = [name for name, value in histograms.items() if not isinstance(value, str)]
        if bad:
            problems.append(f"metrics.histograms.{bad[0]}: not an encoded histogram (a string)")
    return problems


def _check_timeline(timeline: object) -> list[str]:
    if not isinstance(timeline, list):
        return [f"timeline: {_unlike(timeline, 'a list')}"]
    for n, point in enumerate(timeline):
        where = f"timeline[{n}]"
        if not isinstance(point, dict):
            return [f"{where}: {_type(point)}, not an object"]
        for field in ("t", *_TIMELINE_REQUIRED):
            if field not in point:
                return [f"{where}.{field}: missing"]
            if not _is_count(point[field]):
                return [f"{where}.{field}: {point[field]!r} is not a count ≥ 0"]
        for field in _TIMELINE_OPTIONAL:
            if field in point and not _is_count(point[field]):
                return [f"{where}.{field}: {point[field]!r} is not a count ≥ 0"]
        if not isinstance(point.get("latency", ""), str):
            return [f"{where}.latency: not an encoded histogram (a string)"]
    return []


# -- the reports together -------------------------------------------------------------------------


def _check_one_run(reports: Sequence[Mapping[str, Any]], names: Sequence[str]) -> list[Shard]:
    """The shard of each report, once they are known to be shards of one run."""
    for report, name in zip(reports, names, strict=True):
        if "merged_from" in report["shard"]:
            merged = ", ".join(map(str, report["shard"]["merged_from"])) or "?"
            raise InputError(
                f"{name}: already a merged report (of shards {merged}); merge the shard reports"
            )
    shards = [Shard(int(r["shard"]["index"]), int(r["shard"]["count"])) for r in reports]
    first, first_name = reports[0], names[0]
    problems: list[str] = []
    for report, name, shard in zip(reports[1:], names[1:], shards[1:], strict=True):
        differences = []
        if shard.count != shards[0].count:
            differences.append(f"shard count {shard.count} ≠ {shards[0].count}")
        if report.get("run_id") != first.get("run_id"):
            differences.append(f"run_id {report.get('run_id')!r} ≠ {first.get('run_id')!r}")
        differences.extend(_differences(report["plan"], first["plan"], "plan"))
        if differences:
            shown = ", ".join(differences[:3]) + (", …" if len(differences) > 3 else "")
            problems.append(f"{name}: not the same run as {first_name}: {shown}")
    _fail(problems)
    where: dict[int, str] = {}
    for name, shard in zip(names, shards, strict=True):
        if shard.index in where:
            if where[shard.index] == name:
                problems.append(f"{name}: given twice")
            else:
                label = f"{shard.index}/{shard.count}"
                problems.append(f"{name}: shard {label} again (it is also {where[shard.index]})")
        where.setdefault(shard.index, name)
    _fail(problems)
    return shards


def _differences(mine: Any, theirs: Any, field: str) -> list[str]:
    if isinstance(mine, dict) and isinstance(theirs, dict):
        out: list[str] = []
        for key in sorted(set(mine) | set(theirs), key=str):
            out.extend(_differences(mine.get(key), theirs.get(key), f"{field}.{key}"))
        return out
    return [] if mine == theirs else [f"{field} {_short(mine)} ≠ {_short(theirs)}"]


def _short(value: Any) -> str:
    text = json.dumps(value)
    return text if len(text) <= 40 else text[:37] + "…"


def _timing_warnings(
    reports: Sequence[Mapping[str, Any]], names: Sequence[str], shards: Sequence[Shard]
) -> list[str]:
    """A shard that started after another had finished may come from another run of the plan
    (a stale file): shard reports carry no run id, so this is a warning, not a refusal."""
    if any("run_id" in report for report in reports) or len(reports) < 2:
        return []
    ends = [float(r["started_at"]) + float(r["duration_s"]) for r in reports]
    starts = [float(r["started_at"]) for r in reports]
    late = max(range(len(reports)), key=lambda i: starts[i])
    early = min(range(len(reports)), key=lambda i: ends[i])
    gap = starts[late] - ends[early]
    if gap <= 0:
        return []
    return [
        f"{names[late]} (shard {shards[late].index}/{shards[late].count}) started "
        f"{_duration(gap)} after {names[early]} (shard {shards[early].index}/"
        f"{shards[early].count}) had finished: are they from one run? (the reports have no run "
        "id; only their plans were compared)"
    ]


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


# -- the merge itself -----------------------------------------------------------------------------


def _add(histogram: LatencyHistogram, encoded: str, where: str) -> None:
    try:
        histogram.add_encoded(encoded)
    except Exception as exc:  # hdrh/base64 raise their own kinds for bytes that are no histogram
        reason = str(exc) or type(exc).__name__
        raise InputError(f"{where}: not a mergeable HDR histogram ({reason})") from exc


def _merge(
    reports: Sequence[Mapping[str, Any]], names: Sequence[str], shards: Sequence[Shard]
) -> dict[str, Any]:
    metrics = LoadMetrics()
    for report, name in zip(reports, names, strict=True):
        block = report["metrics"]
        metrics.counters.update({str(k): int(v) for k, v in block.get("counters", {}).items()})
        for key, encoded in block.get("histograms", {}).items():
            histogram = metrics.histograms.setdefault(str(key), LatencyHistogram())
            _add(histogram, encoded, f"{name}: metrics.histograms.{key}")
    by_second: dict[int, list[tuple[str, Mapping[str, Any]]]] = {}
    for report, name in zip(reports, names, strict=True):
        for n, point in enumerate(report["timeline"]):
            by_second.setdefault(int(point["t"]), []).append((f"{name}: timeline[{n}]", point))
    timeline = []
    for second in sorted(by_second):
        points = by_second[second]
        latency = LatencyHistogram()
        for where, point in points:
            _add(latency, point.get("latency", ""), f"{where}.latency")
        merged_point: dict[str, Any] = {"t": second}
        for field in (*_TIMELINE_REQUIRED, *_TIMELINE_OPTIONAL):
            merged_point[field] = sum(int(point.get(field, 0)) for _, point in points)
        merged_point.update(
            p50_s=latency.percentile(50), p99_s=latency.percentile(99), latency=latency.encode()
        )
        timeline.append(merged_point)
    first = reports[0]
    merged: dict[str, Any] = {
        "kind": _KIND,
        "version": first["version"],
        "started_at": min(r["started_at"] for r in reports),
        "duration_s": max(r["duration_s"] for r in reports),
        "shard": {
            "index": 0,
            "count": 1,
            "merged_from": [f"{s.index}/{s.count}" for s in sorted(shards, key=lambda s: s.index)],
        },
        "workers": sum(int(r["workers"]) for r in reports),
        "plan": first["plan"],
        "settings": first.get("settings", {}),
        "metrics": metrics.to_dict(),
        "timeline": timeline,
    }
    if "run_id" in first:
        merged["run_id"] = first["run_id"]
    if any("ocpi_misses" in r for r in reports):  # EVSE identities: unique across shards
        merged["ocpi_misses"] = [miss for r in reports for miss in r.get("ocpi_misses", [])]
    if any("worker_failures" in r for r in reports):  # worker numbers: per shard
        merged["worker_failures"] = [
            f"shard {s.index}/{s.count}: {failure}"
            for r, s in zip(reports, shards, strict=True)
            for failure in r.get("worker_failures", [])
        ]
    return merged
