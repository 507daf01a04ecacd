"""The control API's own endpoints over real sockets: the fleet list, the live frame stream, going
offline and back, and the ``--control-port`` of ``chargers`` and ``run`` as a user starts them."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from ocpplab_sim.control import ChargerRegistry, ControlServer
from ocpplab_sim.fleet import ChargePointConfig, Fleet
from tests.chargepoint.csms import TestCsms

ROOT = Path(__file__).resolve().parents[2]
URL_LINE = re.compile(r"control API and console at (http://\S+)/ ")


@pytest.fixture
async def live() -> AsyncIterator[tuple[TestCsms, Fleet, str]]:
    async with TestCsms() as csms:
        csms.behaviour.heartbeat_interval = 300
        configs = [
            ChargePointConfig(
                identity=f"CP-{n}",
                ocpp_version="1.6" if n % 2 else "2.0.1",
                evse_count=n,
                csms_url=csms.url,
                strict=True,
            )
            for n in (1, 2, 3)
        ]
        registry = ChargerRegistry()
        fleet = Fleet(configs, on_frame=registry)
        registry.add(fleet)
        async with ControlServer(registry) as server:
            await fleet.start_all()
            try:
                yield csms, fleet, server.url
            finally:
                await fleet.stop_all()


async def test_the_fleet_list_pages_and_shows_every_evse(
    live: tuple[TestCsms, Fleet, str],
) -> None:
    _csms, _fleet, url = live
    async with httpx.AsyncClient(base_url=url) as http:
        whole = (await http.get("/chargers")).json()
        assert whole["total"] == 3
        assert [c["identity"] for c in whole["chargers"]] == ["CP-1", "CP-2", "CP-3"]
        assert [len(c["evses"]) for c in whole["chargers"]] == [1, 2, 3]
        assert all(c["registered"] for c in whole["chargers"])
        assert {e["status"] for c in whole["chargers"] for e in c["evses"]} == {"Available"}
        page = (await http.get("/chargers", params={"offset": 1, "limit": 1})).json()
        assert [c["identity"] for c in page["chargers"]] == ["CP-2"]
        one = (await http.get("/chargers/CP-2")).json()
        assert one["ocpp_version"] == "2.0.1" and one["evses"][1]["evse_id"] == 2
        assert (await http.get("/health")).json() == {
            "status": "ok",
            "chargers": 3,
            "connected": 3,
        }


async def _events(response: httpx.Response) -> AsyncIterator[tuple[str, dict[str, Any]]]:
    event = ""
    async for line in response.aiter_lines():
        if line.startswith("event: "):
            event = line[7:]
        elif line.startswith("data: "):
            yield event, json.loads(line[6:])


async def test_the_frame_stream_sends_history_then_live_frames(
    live: tuple[TestCsms, Fleet, str],
) -> None:
    _csms, fleet, url = live
    async with (
        httpx.AsyncClient(base_url=url, timeout=10) as http,
        http.stream("GET", "/chargers/CP-1/frames", params={"history": 2}) as response,
    ):
        assert response.headers["content-type"].startswith("text/event-stream")
        stream = _events(response)
        history = [await anext(stream) for _ in range(2)]
        assert [h["identity"] for _e, h in history] == ["CP-1", "CP-1"]
        plugging = asyncio.create_task(
            http.post("/chargers/CP-1/plug-connector", params={"connector_id": 1})
        )
        async with asyncio.timeout(10):
            async for event, frame in stream:
                assert event == "frame"
                message = frame["message"]
                if frame["direction"] == "out" and message[2] == "StatusNotification":
                    assert message[3]["status"] == "Preparing"
                    break
        assert (await plugging).status_code == 200
        recent = (await http.get("/chargers/CP-1/frames/recent")).json()
    assert recent[-1]["direction"] == "in" and recent[-1]["message"][0] == 3
    assert fleet["CP-1"].status(1) == "Preparing"


async def test_offline_and_back_through_the_api(live: tuple[TestCsms, Fleet, str]) -> None:
    csms, fleet, url = live
    async with httpx.AsyncClient(base_url=url, timeout=20) as http:
        assert (await http.post("/chargers/CP-3/disconnect")).status_code == 200
        assert (await http.get("/chargers/CP-3")).json()["connected"] is False
        # a transaction started offline waits in the queue; the action does not
        started = await http.post(
            "/chargers/CP-3/authorize-and-start", params={"id_tag": "OFF", "evse_id": 3}
        )
        # offline, Authorize cannot be sent: the charger says why
        assert started.status_code == 503, started.text
        plugged = await http.post("/chargers/CP-3/plug-connector", params={"evse_id": 2})
        assert plugged.status_code == 200
        statuses_before = len(csms.calls("StatusNotification", "CP-3"))
        assert (await http.post("/chargers/CP-3/reconnect")).status_code == 200
        after = csms.calls("StatusNotification", "CP-3")[statuses_before:]
        assert {(s["connectorId"], s["status"]) for s in after} >= {(2, "Preparing")}
        assert fleet["CP-3"].connected


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OCPPLAB_")}
    env["PYTHONUNBUFFERED"] = "1"
    return env


async def _start(*args: str) -> tuple[asyncio.subprocess.Process, str, list[str]]:
    """``ocpplab-sim ARGS`` in a subprocess; returns it, the control URL it printed and the
    standard-error lines read so far (the reader goes on filling the list)."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "ocpplab_sim", *args,
        cwd=ROOT, env=_env(),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert process.stderr is not None
    lines: list[str] = []
    async with asyncio.timeout(60):
        while True:
            raw = await process.stderr.readline()
            assert raw, "exited before serving the control API: " + "".join(lines)
            lines.append(raw.decode())
            found = URL_LINE.search(lines[-1])
            if found:
                break

    async def drain() -> None:
        assert process.stderr is not None
        async for raw in process.stderr:
            lines.append(raw.decode())

    _readers.add(asyncio.get_running_loop().create_task(drain()))
    return process, found.group(1), lines


_readers: set[asyncio.Task[None]] = set()


async def _finish(process: asyncio.subprocess.Process) -> str:
    """Interrupt the command; its standard output once it exited."""
    process.send_signal(signal.SIGINT)
    assert process.stdout is not None
    async with asyncio.timeout(60):
        out = await process.stdout.read()
        await process.wait()
        for reader in list(_readers):
            await reader
            _readers.discard(reader)
    return out.decode()


async def test_chargers_command_serves_the_api_and_stops_on_sigint() -> None:
    async with TestCsms() as csms:
        process, url, _err = await _start(
            "chargers", "--csms-url", csms.url, "--count", "2", "--connectors", "2",
            "--control-port", "0",
        )  # fmt: skip
        try:
            async with httpx.AsyncClient(base_url=url, timeout=20) as http:
                async with asyncio.timeout(30):
                    while (await http.get("/health")).json()["connected"] < 2:  # noqa: ASYNC110
                        await asyncio.sleep(0.05)  # the fleet boots in another process
                done = await http.post(
                    "/chargers/SIM-0002/authorize-and-start",
                    params={"id_tag": "CLI-1", "evse_id": 2},
                )
                assert done.status_code == 200, done.text
                assert done.json()["evse"]["status"] == "Charging"
            assert csms.calls("StartTransaction", "SIM-0002")[-1]["connectorId"] == 2
        finally:
            out = await _finish(process)
        assert process.returncode == 130
        assert "2/2 connected" in out


async def test_run_serves_the_scenario_chargers(tmp_path: Path) -> None:
    scenario = tmp_path / "hold.yaml"
    scenario.write_text(
        "name: held\n"
        "gateway:\n"
        "  template: small-urban-ac\n"
        "  party: {country_code: FR, party_id: ABC}\n"
        "steps:\n"
        "  - connect: all\n"
        "  - expect_ocpi: {evse: all, status: AVAILABLE, within: 20s}\n"
        "  - wait: 120s\n",
        encoding="utf-8",
    )
    process, url, err = await _start("run", str(scenario), "--no-color", "--control-port", "0")
    try:
        async with httpx.AsyncClient(base_url=url, timeout=20) as http:
            async with asyncio.timeout(60):
                while True:
                    listed = (await http.get("/chargers")).json()
                    if listed["total"] and all(c["registered"] for c in listed["chargers"]):
                        break
                    await asyncio.sleep(0.1)  # provisioning and boot run in the other process
            assert listed["total"] == 6
            first = listed["chargers"][0]["identity"]
            plugged = await http.post(f"/chargers/{first}/plug-connector")
            assert plugged.status_code == 200, plugged.text
            assert plugged.json()["evse"]["status"] == "Preparing"
    finally:
        await _finish(process)
    assert process.returncode == 130, "".join(err)
    assert "Traceback" not in "".join(err)


def test_no_request_breaks_the_api_or_the_fleet(tmp_path: Path) -> None:
    """Schemathesis against the published OpenAPI of a live ``chargers`` fleet (the project's
    minimal central system answers): no 5xx, no undocumented status, every body as documented,
    and the fleet still up afterwards. Bounded: a few examples per operation."""
    import subprocess

    import schemathesis
    from hypothesis import HealthCheck, given, settings
    from schemathesis.checks import (
        content_type_conformance,
        not_a_server_error,
        response_schema_conformance,
        status_code_conformance,
    )

    sink = subprocess.Popen(
        [sys.executable, "-m", "ocpplab_sim.load.sink"], stdout=subprocess.PIPE, text=True
    )
    fleet = None
    try:
        assert sink.stdout is not None
        csms_url = sink.stdout.readline().split()[-1]
        fleet = subprocess.Popen(
            [sys.executable, "-m", "ocpplab_sim", "chargers", "--csms-url", csms_url,
             "--count", "2", "--connectors", "2", "--control-port", "0"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT, env=_env(),
        )  # fmt: skip
        assert fleet.stderr is not None
        line = ""
        while not URL_LINE.search(line):
            line = fleet.stderr.readline()
            assert line, "the fleet exited before serving its control API"
        url = URL_LINE.search(line).group(1)  # type: ignore[union-attr]
        schema = schemathesis.openapi.from_url(f"{url}/openapi.json")
        checks = [
            not_a_server_error,
            status_code_conformance,
            content_type_conformance,
            response_schema_conformance,
        ]
        operations = [
            result.ok()
            for result in schema.get_all_operations()
            if not result.ok().path.endswith("/frames")  # an endless stream
        ]
        assert len(operations) >= 35
        failures: list[str] = []
        for operation in operations:

            @given(case=operation.as_strategy())
            @settings(
                max_examples=6,
                deadline=None,
                database=None,
                derandomize=True,  # the same examples on every run: a failure is reproducible
                suppress_health_check=list(HealthCheck),
            )
            def run(case: schemathesis.Case) -> None:
                if "identity" in (case.path_parameters or {}):
                    case.path_parameters["identity"] = "SIM-0001"  # a charger that exists
                case.call_and_validate(checks=checks, timeout=40)

            try:
                run()
            except (Exception, BaseExceptionGroup) as exc:  # report every operation's failures
                failures.append(f"{operation.label}: {exc}"[:2000])
        assert not failures, "\n\n".join(failures)
        health = httpx.get(f"{url}/health", timeout=10).json()
        assert health["chargers"] == 2
        assert fleet.poll() is None, "the fleet stopped"
    finally:
        if fleet is not None:
            fleet.send_signal(signal.SIGINT)
            fleet.communicate(timeout=30)
        sink.terminate()
        sink.communicate(timeout=10)


async def test_a_control_port_in_use_is_input_error(capsys: pytest.CaptureFixture[str]) -> None:
    import argparse
    import io
    import socket

    from ocpplab_sim.chargers import add_parser, run_async

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP) as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        parser = argparse.ArgumentParser()
        add_parser(parser.add_subparsers(dest="command"))
        args = parser.parse_args(
            ["chargers", "--csms-url", "ws://127.0.0.1:1/x", "--control-port", str(port)]
        )
        assert await run_async(args, out=io.StringIO()) == 2
    err = capsys.readouterr().err
    assert f"control API cannot listen on 127.0.0.1:{port}" in err
    assert "Traceback" not in err
