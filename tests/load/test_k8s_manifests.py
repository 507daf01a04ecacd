"""The Kubernetes manifests in docker/k8s/, run as Kubernetes would run them, on loopback.

The Indexed Job's container args are expanded the way the kubelet expands them (``$(VAR)`` from
the container's env and the ``JOB_COMPLETION_INDEX`` an Indexed Job sets), one process per
completion index; the merge Job's shell command then runs through ``sh`` with its glob. Only
what a test must change is changed: the central system (a sink on loopback), the fleet size and
the duration, and the report volume (a temporary folder). The merged totals equal one run of
the whole fleet. The manifests are also checked against the Kubernetes API schemas
(kubernetes-validate, offline) and for what a pod needs: the image's non-root user, a
read-only root with an emptyDir for /tmp, a pull policy that uses a local image, a CPU limit.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.load.test_load_command import ROOT, load, sink

K8S = ROOT / "docker" / "k8s"
CHARGERS = 48
# what the test changes in the shard args, by flag; every other flag is the manifest's own
OVERRIDES = {
    "--chargers": str(CHARGERS),
    "--duration": "3s",
    "--ramp": "1s",
    "--session-rate": "0",  # random session starts would differ between layouts
    "--workers": "1",
}


def container(path: Path) -> dict[str, Any]:
    manifest = yaml.safe_load(path.read_text())
    containers: list[dict[str, Any]] = manifest["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    return containers[0]


def expand(arg: str, env: dict[str, str]) -> str:
    """The kubelet's ``$(VAR)`` expansion (a name it does not know stays as written)."""
    return re.sub(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)", lambda m: env.get(m[1], m[0]), arg)


def test_the_indexed_job_is_indexed_and_its_shard_count_matches_its_completions() -> None:
    job = yaml.safe_load((K8S / "load-indexed-job.yaml").read_text())
    env = {e["name"]: e["value"] for e in container(K8S / "load-indexed-job.yaml")["env"]}
    assert job["spec"]["completionMode"] == "Indexed"
    assert job["spec"]["completions"] == job["spec"]["parallelism"]
    assert int(env["OCPPLAB_SHARD_COUNT"]) == job["spec"]["completions"]


def test_the_manifests_shards_and_merge_give_the_totals_of_one_run(tmp_path: Path) -> None:
    job = yaml.safe_load((K8S / "load-indexed-job.yaml").read_text())
    shard = container(K8S / "load-indexed-job.yaml")
    completions = int(job["spec"]["completions"])
    reports = tmp_path / "reports"
    reports.mkdir()
    mount = shard["volumeMounts"][0]["mountPath"]
    assert shard["args"][0] == "load"

    def shard_args(env: dict[str, str], url: str) -> list[str]:
        out: list[str] = []
        for raw in shard["args"][1:]:
            flag, _, value = expand(raw, env).partition("=")
            value = OVERRIDES.get(flag, value)
            if flag == "--csms-url":
                value = url
            if flag == "--report":
                value = value.replace(mount, str(reports))
            out.append(f"{flag}={value}" if value else flag)
        return out

    with sink() as url:
        processes = []
        for index in range(completions):
            env = {e["name"]: e["value"] for e in shard["env"]}
            env["JOB_COMPLETION_INDEX"] = str(index)  # what an Indexed Job sets in each pod
            processes.append(
                subprocess.Popen(
                    [sys.executable, "-m", "ocpplab_sim", "load", *shard_args(env, url)],
                    cwd=ROOT,
                    env={**os.environ, **env},
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                )
            )
        for process in processes:
            out, err = process.communicate(timeout=90)
            assert process.returncode == 0, out + err
        whole_report = tmp_path / "whole.json"
        whole_args = [
            a
            for a in shard_args({"JOB_COMPLETION_INDEX": "0"}, url)
            if not a.startswith("--report")
        ]
        whole = load(*whole_args, "--report", whole_report, timeout=90)
        assert whole.returncode == 0, whole.stdout + whole.stderr

    merge = container(K8S / "load-merge-job.yaml")
    assert merge["command"] == ["sh", "-c"]
    script = " ".join(merge["args"]).replace(merge["volumeMounts"][0]["mountPath"], str(reports))
    words = shlex.split(script)
    assert words[:3] == ["ocpplab-sim", "report", "merge"]
    script = script.replace("ocpplab-sim", f"{shlex.quote(sys.executable)} -m ocpplab_sim", 1)
    merged = subprocess.run(
        ["sh", "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert merged.returncode == 0, merged.stdout + merged.stderr
    assert len(list(reports.glob("shard-*.json"))) == completions
    one = json.loads(whole_report.read_text())["metrics"]
    many = json.loads((reports / "merged.json").read_text())["metrics"]
    assert one["counters"]["connected"] == CHARGERS
    assert many["counters"] == one["counters"]
    counts = {name: lat["count"] for name, lat in one["latency_s"].items()}
    assert counts["BootNotification"] == CHARGERS
    assert {name: lat["count"] for name, lat in many["latency_s"].items()} == counts
    assert (reports / "merged.html").read_text().count("<polyline") >= 1
    sizes = [
        json.loads((reports / f"shard-{i}.json").read_text())["metrics"]["counters"]["connected"]
        for i in range(completions)
    ]
    assert sizes == [CHARGERS // completions] * completions


def test_the_manifests_are_valid_kubernetes_objects() -> None:
    """Against the Kubernetes API schemas that kubernetes-validate bundles (offline), strict:
    a misspelt or misplaced field fails."""
    checker = Path(sys.executable).parent / "kubernetes-validate"
    found = str(checker) if checker.exists() else shutil.which("kubernetes-validate")
    if found is None:
        pytest.skip("kubernetes-validate is not installed (pip install -e '.[test]')")
    result = subprocess.run(
        [found, "--strict", *map(str, sorted(K8S.glob("*.yaml")))],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("passed") == len(list(K8S.glob("*.yaml")))


def test_every_pod_runs_as_the_image_s_non_root_user_on_a_read_only_root() -> None:
    dockerfile = (ROOT / "docker" / "Dockerfile").read_text()
    uid = int(re.findall(r"^USER (\d+)", dockerfile, re.MULTILINE)[-1])
    for path in sorted(K8S.glob("*.yaml")):
        pod = yaml.safe_load(path.read_text())["spec"]["template"]["spec"]
        security = pod["securityContext"]
        assert security["runAsNonRoot"] is True, path.name
        assert security["runAsUser"] == uid and security["fsGroup"] == uid, path.name
        one = container(path)
        # ":latest" without a policy is pulled Always: a locally built image would never run
        assert one["imagePullPolicy"] == "IfNotPresent", path.name
        assert one["securityContext"]["readOnlyRootFilesystem"] is True, path.name
        assert one["securityContext"]["allowPrivilegeEscalation"] is False, path.name
        mounts = {m["mountPath"]: m["name"] for m in one["volumeMounts"]}
        volumes = {v["name"]: v for v in pod["volumes"]}
        assert "emptyDir" in volumes[mounts["/tmp"]], path.name  # the one scratch place


def test_workers_auto_has_a_cpu_limit_to_count() -> None:
    shard = container(K8S / "load-indexed-job.yaml")
    assert "--workers=auto" in shard["args"]
    limits = shard["resources"]["limits"]
    assert limits["cpu"] == shard["resources"]["requests"]["cpu"]
