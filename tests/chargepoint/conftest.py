from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Iterable
from functools import cache
from importlib import resources
from typing import Any

import jsonschema
import pytest

from ocpplab_sim.connection import ReconnectPolicy
from ocpplab_sim.fleet import ChargePointConfig, FrameRecord, SimulatedChargePoint
from tests.chargepoint.csms import TestCsms

FAST = ReconnectPolicy(initial_s=0.05, max_s=0.2)


@cache
def official_validator(version: str, action: str, kind: str) -> Any:
    """A jsonschema validator for the official schema shipped with the ``ocpp`` package;
    independent of the fastjsonschema code under test."""
    folder = "v16" if version == "1.6" else "v201"
    suffix = "Response" if kind == "response" else ("" if version == "1.6" else "Request")
    path = resources.files("ocpp") / folder / "schemas" / f"{action}{suffix}.json"
    schema = json.loads(path.read_text(encoding="utf-8"))
    cls = jsonschema.validators.validator_for(schema)
    return cls(schema, format_checker=cls.FORMAT_CHECKER)


def assert_valid(version: str, action: str, kind: str, payload: dict[str, Any]) -> None:
    official_validator(version, action, kind).validate(payload)


def validate_exchange(version: str, messages: Iterable[list[Any]]) -> int:
    """Validate every CALL and CALLRESULT of one connection; returns how many were checked.

    CALLERRORs fail the check: in these tests nobody should have to send one.
    """
    actions: dict[str, str] = {}
    checked = 0
    for message in messages:
        if message[0] == 2:
            actions[message[1]] = message[2]
            assert_valid(version, message[2], "request", message[3])
        elif message[0] == 3:
            assert_valid(version, actions[message[1]], "response", message[2])
        else:
            raise AssertionError(f"unexpected CALLERROR {message}")
        checked += 1
    return checked


@pytest.fixture
async def csms() -> AsyncIterator[TestCsms]:
    async with TestCsms() as server:
        yield server


@pytest.fixture
def frames() -> list[FrameRecord]:
    return []


@pytest.fixture(params=["websockets", "picows"])
def transport(request: pytest.FixtureRequest) -> str:
    """Every charge-point test runs over both websocket libraries of the connection layer."""
    name: str = request.param
    return name


@pytest.fixture
async def make_cp(
    csms: TestCsms, frames: list[FrameRecord], transport: str
) -> AsyncIterator[Callable[..., SimulatedChargePoint]]:
    """Build strict charge points with short meter interval and fast reconnects; stops them."""
    made: list[SimulatedChargePoint] = []

    def factory(identity: str, version: str, evses: int = 1, **kw: Any) -> SimulatedChargePoint:
        config = ChargePointConfig(
            identity=identity,
            ocpp_version=version,  # type: ignore[arg-type]
            evse_count=evses,
            csms_url=csms.url,
            meter_interval_s=kw.pop("meter_interval_s", 0.2),
            call_timeout_s=kw.pop("call_timeout_s", 3.0),
            strict=kw.pop("strict", True),
            transport=kw.pop("transport", transport),
            **kw,
        )
        cp = SimulatedChargePoint(config, on_frame=frames.append, reconnect=FAST)
        made.append(cp)
        return cp

    yield factory
    for cp in made:
        await cp.stop()
