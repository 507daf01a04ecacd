"""How many CPUs this process may use: ``--workers auto``.

``os.cpu_count()`` counts the machine's cores; a container or a pod gets fewer: a CPU quota from
its cgroup (``cpu.max`` in cgroup v2, ``cpu.cfs_quota_us`` / ``cpu.cfs_period_us`` in v1; what a
Kubernetes ``limits.cpu`` becomes) and a CPU affinity (``taskset``, a static CPU manager). One
worker per usable CPU: the smaller of the two, a fractional quota rounded down (a worker per
half-CPU would only be throttled), at least one.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from pathlib import Path

__all__ = ["available_cpus", "cgroup_cpu_limit"]

CGROUP_ROOT = Path("/sys/fs/cgroup")
SELF_CGROUP = Path("/proc/self/cgroup")


def available_cpus(root: Path = CGROUP_ROOT, self_cgroup: Path = SELF_CGROUP) -> int:
    """Worker processes for ``--workers auto``: usable CPUs (affinity and cgroup quota)."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not on Linux
        cpus = os.cpu_count() or 1
    limit = cgroup_cpu_limit(root, self_cgroup)
    if limit is not None:
        cpus = min(cpus, math.floor(limit))
    return max(1, cpus)


def cgroup_cpu_limit(root: Path = CGROUP_ROOT, self_cgroup: Path = SELF_CGROUP) -> float | None:
    """The CPU quota of this process's cgroup in CPUs (``None``: no quota, or no cgroup).

    The tightest limit on the way from the process's own cgroup up to the mount's root counts
    (a container usually sees its own cgroup at the root; a host sees the whole path).
    """
    try:
        lines = self_cgroup.read_text().splitlines()
    except OSError:
        lines = []
    paths_v1: list[str] = []
    path_v2: str | None = None
    for line in lines:
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        if parts[0] == "0" and parts[1] == "":
            path_v2 = parts[2]
        elif "cpu" in parts[1].split(","):
            paths_v1.append(parts[2])
    limits: list[float] = []
    if (root / "cpu.max").exists() or (path_v2 is not None and not paths_v1):
        limits += _walk(root, path_v2 or "/", _v2_limit)
    for path in paths_v1 or (["/"] if not limits else []):
        for mount in ("cpu,cpuacct", "cpu", "cpuacct,cpu"):
            if (root / mount).is_dir():
                limits += _walk(root / mount, path, _v1_limit)
                break
    return min(limits) if limits else None


def _walk(mount: Path, path: str, read: Callable[[Path], float | None]) -> list[float]:
    """The limits found from ``mount/path`` up to ``mount`` (directories that exist)."""
    found: list[float] = []
    parts = [p for p in path.strip("/").split("/") if p and p != ".."]
    for depth in range(len(parts), -1, -1):
        folder = mount.joinpath(*parts[:depth])
        if folder.is_dir():
            limit = read(folder)
            if limit is not None:
                found.append(limit)
    return found


def _v2_limit(folder: Path) -> float | None:
    """``cpu.max``: ``QUOTA PERIOD`` or ``max PERIOD`` (no quota)."""
    try:
        fields = (folder / "cpu.max").read_text().split()
    except OSError:
        return None
    if len(fields) != 2 or fields[0] == "max":
        return None
    return _ratio(fields[0], fields[1])


def _v1_limit(folder: Path) -> float | None:
    """``cpu.cfs_quota_us`` (-1: no quota) over ``cpu.cfs_period_us``."""
    try:
        quota = (folder / "cpu.cfs_quota_us").read_text().strip()
        period = (folder / "cpu.cfs_period_us").read_text().strip()
    except OSError:
        return None
    return _ratio(quota, period)


def _ratio(quota: str, period: str) -> float | None:
    try:
        q, p = int(quota), int(period)
    except ValueError:
        return None
    if q <= 0 or p <= 0:
        return None
    return q / p
