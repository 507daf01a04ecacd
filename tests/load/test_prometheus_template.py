"""The source-address pool and chargers from a provisioned template (Prometheus: test_prometheus.py)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from ocpplab_sim.load.worker import source_address

ROOT = Path(__file__).resolve().parents[2]


def test_source_addresses_go_round_robin_over_loopback() -> None:
    assert [source_address(n, 3) for n in range(4)] == [
        "127.0.0.2",
        "127.0.0.3",
        "127.0.0.4",
        "127.0.0.2",
    ]
    assert source_address(300, 1000) == "127.0.1.46"
    import ipaddress

    first = int(ipaddress.IPv4Address("127.0.0.2"))
    for pool in (1, 255, 70_000):
        for number in range(0, 140_000, 997):
            expected = str(ipaddress.IPv4Address(first + number % pool))
            assert source_address(number, pool) == expected


def test_a_load_run_from_a_provisioned_template(tmp_path: Path) -> None:
    report = tmp_path / "template.json"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "ocpplab_sim",
            "load",
            "--template",
            "large-network",
            "--template-param",
            "locations=2",
            "--template-param",
            "chargers_per_location=4",
            "--security-profile",
            "1",
            "--shape",
            "steady",
            "--duration",
            "5s",
            "--session-rate",
            "2",
            "--session-length",
            "1s",
            "--workers",
            "1",
            "--source-addresses",
            "2",
            "--report",
            str(report),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "8 chargers" in result.stdout
    data = json.loads(report.read_text())
    counters = data["metrics"]["counters"]
    assert counters["connected"] == 8  # every charger authenticated with its own password
    assert not [k for k in counters if k.startswith("errors.")]
    # OCPI propagation: the sampled EVSEs' statuses were seen on the OCPI Locations endpoint
    assert "OCPI 2.2.1: probing 8 EVSEs of 8 chargers" in result.stdout
    propagation = data["metrics"]["latency_s"]["ocpi_propagation"]
    assert propagation["count"] >= 8 and 0 < propagation["p50"] < 10
    assert counters["ocpi.checked"] == propagation["count"]
    assert "ocpi.not_propagated" not in counters and data["ocpi_misses"] == []
    assert "password" not in report.read_text()  # the report names no charger secrets
