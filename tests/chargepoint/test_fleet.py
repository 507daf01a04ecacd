"""Fleet: many charge points started and stopped concurrently; the public API is guarded."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

import ocpplab_sim.fleet as fleet_pkg
from ocpplab_sim.errors import CsmsUnreachable
from ocpplab_sim.fleet import ChargePointConfig, Fleet, FrameRecord
from tests.chargepoint.conftest import validate_exchange
from tests.chargepoint.csms import TestCsms


def test_public_api_is_exactly_what_the_scenario_engine_uses() -> None:
    assert sorted(fleet_pkg.__all__) == [
        "ChargePointConfig",
        "Fleet",
        "FrameRecord",
        "SimulatedChargePoint",
        "TRANSPORTS",
        "Transport",
    ]


async def test_start_and_stop_a_mixed_fleet(csms: TestCsms, frames: list[FrameRecord]) -> None:
    configs = [
        ChargePointConfig(
            f"FLEET-{n}", "1.6" if n % 2 else "2.0.1", 1 + n % 3, csms.url, seed=n, strict=True
        )
        for n in range(12)
    ]
    fleet = Fleet(configs, on_frame=frames.append, max_concurrent_starts=4)
    assert len(fleet) == 12
    await fleet.start_all()
    try:
        assert all(cp.connected for cp in fleet)
        assert sorted(csms.connects) == sorted(c.identity for c in configs)
        await fleet["FLEET-4"].start_charging(2, "TAG")
        assert fleet["FLEET-4"].status(2) == "Charging"
    finally:
        await fleet.stop_all()
    assert not any(cp.connected for cp in fleet)
    await fleet.stop_all()  # never raises, also the second time
    for config in configs:
        mine = [f.message for f in frames if f.identity == config.identity]
        assert validate_exchange(config.ocpp_version, mine) >= 2 + 2 * config.evse_count


async def test_start_all_names_the_first_identity_that_failed(csms: TestCsms) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        dead = f"ws://127.0.0.1:{sock.getsockname()[1]}/ocpp"
    configs = [
        ChargePointConfig("OK-1", "1.6", 1, csms.url),
        ChargePointConfig("DEAD-1", "2.0.1", 1, dead),
        ChargePointConfig("OK-2", "2.0.1", 1, csms.url),
        ChargePointConfig("DEAD-2", "1.6", 1, dead),
    ]
    fleet = Fleet(configs)
    with pytest.raises(CsmsUnreachable, match=r"DEAD-1.*\(1 more failed\)"):
        await fleet.start_all()
    assert fleet["OK-1"].connected and fleet["OK-2"].connected  # all were tried
    await fleet.stop_all()


def test_duplicate_identities_are_refused() -> None:
    config = ChargePointConfig("SAME", "1.6", 1, "ws://127.0.0.1:9/ocpp")
    with pytest.raises(ValueError, match="duplicate"):
        Fleet([config, config])


@pytest.mark.parametrize(
    "kwargs",
    [
        {"identity": "a/b"},
        {"ocpp_version": "2.1"},
        {"evse_count": 0},
        {"csms_url": "http://x"},
        {"meter_interval_s": 0},
    ],
)
def test_config_is_checked(kwargs: dict[str, object]) -> None:
    base: dict[str, object] = {
        "identity": "X",
        "ocpp_version": "1.6",
        "evse_count": 1,
        "csms_url": "ws://h/ocpp",
    }
    with pytest.raises(ValueError, match=r"identity|version|evse_count|csms_url|interval"):
        ChargePointConfig(**{**base, **kwargs})  # type: ignore[arg-type]


async def test_fleet_trace_writes_every_frame_as_json_lines(tmp_path: Path) -> None:
    path = tmp_path / "frames.jsonl"
    seen: list[object] = []
    async with TestCsms() as csms:
        configs = [ChargePointConfig(f"TR-{n}", "2.0.1", 1, csms.url) for n in range(3)]
        fleet = Fleet(configs, on_frame=seen.append, trace=path)
        await fleet.start_all()
        await fleet.stop_all()
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert len(lines) == len(seen) > 0
    assert lines[0]["direction"] == "out" and lines[0]["message"][2] == "BootNotification"
    assert {line["identity"] for line in lines} == {"TR-0", "TR-1", "TR-2"}
    assert all(isinstance(line["at"], float) for line in lines)
