"""`--workers auto`: one worker per usable CPU, from the cgroup quota (v2 ``cpu.max``, v1
``cpu.cfs_quota_us``/``cpu.cfs_period_us``) and the CPU affinity, on fixture cgroup trees."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from ocpplab_sim.load.cpus import available_cpus, cgroup_cpu_limit

FIXTURES = Path(__file__).parent / "fixtures" / "cgroup"


def tree(tmp_path: Path, name: str) -> tuple[Path, Path]:
    """A copy of a fixture: (the cgroup mount, the /proc/self/cgroup file)."""
    shutil.copytree(FIXTURES / name, tmp_path / name)
    return tmp_path / name / "sys-fs-cgroup", tmp_path / name / "proc-self-cgroup"


@pytest.mark.parametrize(
    ("name", "cpus_limit"),
    [
        ("v2-container", 1.5),  # cpu.max "150000 100000" at the container's own root
        ("v2-unlimited", None),  # "max 100000"
        ("v2-host-nested", 2.0),  # the parent's 2 CPUs bind a child with 3
        ("v1-container", 2.5),  # cfs 250000 / 100000, mounted as cpu,cpuacct
        ("v1-unlimited", None),  # cfs quota -1
        ("v1-host-path", 3.0),  # /proc/self/cgroup names a host path the mount does not have
        ("none", None),  # no cgroup files at all
    ],
)
def test_the_cgroup_cpu_quota(tmp_path: Path, name: str, cpus_limit: float | None) -> None:
    assert cgroup_cpu_limit(*tree(tmp_path, name)) == cpus_limit


def test_workers_auto_is_the_smaller_of_quota_and_affinity(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2, 3})
    assert available_cpus(*tree(tmp_path, "v2-container")) == 1  # 1.5 CPUs: rounded down
    assert available_cpus(*tree(tmp_path, "v1-container")) == 2
    assert available_cpus(*tree(tmp_path, "v2-unlimited")) == 4  # the affinity
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {3})
    assert available_cpus(*tree(tmp_path, "v1-host-path")) == 1  # taskset -c 3


def test_a_quota_under_one_cpu_still_gets_one_worker(tmp_path: Path) -> None:
    mount = tmp_path / "fs"
    mount.mkdir()
    (mount / "cpu.max").write_text("20000 100000\n")
    own = tmp_path / "cgroup"
    own.write_text("0::/\n")
    assert cgroup_cpu_limit(mount, own) == 0.2
    assert available_cpus(mount, own) == 1


def test_this_machine_gets_at_least_one_and_at_most_its_affinity() -> None:
    assert 1 <= available_cpus() <= len(os.sched_getaffinity(0))
