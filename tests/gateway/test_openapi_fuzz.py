"""Schemathesis against the live gateway's published OpenAPI: no 5xx, no undocumented status
codes, every response matching its documented schema. Bounded: a few examples per operation."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

TOKEN = "fuzz-token"
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest.fixture
def live_url(tmp_path: Path) -> Iterator[str]:
    code = (
        "from ocpplab_sim.gateway import GatewaySettings, serve\n"
        f"serve(GatewaySettings(token={TOKEN!r}, db_url='sqlite+aiosqlite:///{tmp_path}/gw.db'),"
        " '127.0.0.1', 0)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    try:
        line = ""
        while "listening on" not in line:
            line = proc.stderr.readline()
            assert line, "the gateway exited before listening"
        yield line.rsplit(" ", 1)[1].strip()
    finally:
        proc.terminate()
        proc.wait(20)
        proc.stderr.close()


def test_no_server_errors_or_schema_violations(live_url: str):
    schema = schemathesis.openapi.from_url(f"{live_url}/openapi.json")
    headers = {"Authorization": f"Bearer {TOKEN}"}
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 15
    failures: list[str] = []
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=8,
            deadline=None,
            database=None,
            derandomize=True,  # the same examples on every run: a failure is reproducible
            suppress_health_check=list(HealthCheck),
        )
        def run(case: schemathesis.Case) -> None:
            case.call_and_validate(headers=headers, checks=CHECKS, timeout=10)

        try:
            run()
        except (
            Exception,
            BaseExceptionGroup,
        ) as exc:  # collect all operations' failures, report them together
            failures.append(f"{operation.label}: {exc}"[:2000])
    assert not failures, "\n\n".join(failures)
