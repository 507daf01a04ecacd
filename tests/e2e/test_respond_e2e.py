"""End to end: ``expect_csms … respond`` answers a remote start the gateway's command API sends,
on both OCPP versions, with every frame checked against the official schemas (``--strict``)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.e2e.conftest import run_cli, write_scenario

SCENARIO = """\
name: refused remote start
gateway:
  template: mixed-depot                 # EVSE 0 on a 1.6 charger, EVSE 4 on a 2.0.1 one
  party: {country_code: NL, party_id: RSP}
settings: {within: 10s, meter_interval: 1s}
setup:
  - connect: all
  - expect_ocpi: {evse: [0, 4], status: AVAILABLE}
steps:
  - parallel:
      - remote_start: {evse: [0, 4], expect: Rejected}
        name: remote start
      - expect_csms: {evse: 0, action: RemoteStartTransaction, within: 5s, respond: RESPOND16}
      - expect_csms:
          evse: 4
          action: RequestStartTransaction
          within: 5s
          respond: {payload: {status: Rejected, statusInfo: {reasonCode: Blocked}}}
  - expect_ocpi: {evse: [0, 4], status: AVAILABLE, stays: 2s}
    name: still AVAILABLE
  - expect_report: {evse: [0, 4], sessions: 0, within: 1s}
teardown: [{disconnect: all}]
"""


@pytest.mark.parametrize("respond", ["{status: Rejected}", "{status: Accepted}"])
async def test_an_armed_answer_refuses_a_remote_start(tmp_path: Path, respond: str) -> None:
    scenario = write_scenario(tmp_path, SCENARIO.replace("RESPOND16", respond))
    report = tmp_path / "report.json"
    trace = tmp_path / "trace.jsonl"
    result = await run_cli(
        "run", scenario, "--no-color", "--strict", "--json", report, "--trace", trace
    )
    checks = {c["name"]: c for c in json.loads(report.read_text())["checks"]}
    answers = checks["remote start"]["observed"]
    uid4 = next(uid for uid in answers if uid != next(iter(answers)))
    assert answers[uid4] == "RequestStartTransaction: Rejected"
    frames = [json.loads(line)["message"] for line in trace.read_text().splitlines()]
    answered = [m[2] for m in frames if m[0] == 3 and m[2].get("statusInfo")]
    assert answered == [{"status": "Rejected", "statusInfo": {"reasonCode": "Blocked"}}]
    assert not [m for m in frames if m[0] == 4]  # no CALLERROR: every frame was valid
    if respond == "{status: Rejected}":
        assert result.code == 0, result.stdout + result.stderr
        assert list(answers.values()) == [
            "RemoteStartTransaction: Rejected",
            "RequestStartTransaction: Rejected",
        ]
        assert checks["still AVAILABLE"]["outcome"] == "passed"
        assert all(c["outcome"] == "passed" for c in checks.values())
    else:
        # Accepted: the 1.6 charger starts a session, and the scenario says what went wrong.
        assert result.code == 1, result.stdout + result.stderr
        assert "RemoteStartTransaction → Accepted (expected Rejected)" in result.stdout
        assert checks["remote start"]["outcome"] == "failed"
        assert checks["still AVAILABLE"]["outcome"] == "failed"
        assert "StartTransaction" in {m[2] for m in frames if m[0] == 2}
