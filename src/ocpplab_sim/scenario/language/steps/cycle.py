"""The charging cycle: connect and disconnect chargers, plug in, authorize, start and stop
charging, unplug; and ``wait``. Each step's model, label, short form, effect on a charger's
connection and handler, side by side."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, ClassVar

from pydantic import Field

from ocpplab_sim.scenario.language.base import Action, Expectation, StepSpec
from ocpplab_sim.scenario.language.types import (
    ChargerSelection,
    Duration,
    EvseSelection,
    IdToken,
    Selector,
)

if TYPE_CHECKING:
    from ocpplab_sim.scenario.execution.engine import StepRun
    from ocpplab_sim.scenario.execution.events import CheckResult, Outcome

__all__ = [
    "STEPS",
    "Authorize",
    "Connect",
    "Disconnect",
    "PlugIn",
    "StartCharging",
    "StopCharging",
    "Unplug",
    "Wait",
]

_ALL = Selector(kind="all")


class Connect(Action):
    """Open the websocket of each selected charger, boot and report status. A charger already
    connected is left as it is, so ``connect: all`` also connects the ones still offline; one
    that ``disconnect`` closed cannot connect again (checked before the run starts)."""

    key: ClassVar[str] = "connect"
    chargers: ChargerSelection = _ALL


async def _connect(run: StepRun, step: Connect) -> tuple[Outcome, str]:
    return await run.engine.connect(step.chargers)


class Disconnect(Action):
    """Close the websocket of each selected charger cleanly, for good: after it the charger
    neither connects again nor acts (``network_loss`` and ``reconnect`` take one offline and
    back)."""

    key: ClassVar[str] = "disconnect"
    chargers: ChargerSelection = _ALL


async def _disconnect(run: StepRun, step: Disconnect) -> tuple[Outcome, str]:
    return await run.engine.disconnect(step.chargers)


class PlugIn(Action):
    """Plug a cable into each selected EVSE (the EV connects). The EV may be described: its
    maximum power, battery size and state of charge (a full battery ends its demand)."""

    key: ClassVar[str] = "plug_in"
    evse: EvseSelection
    ev_max_power_w: Annotated[float, Field(gt=0)] | None = None
    battery_wh: Annotated[float, Field(gt=0)] | None = None
    soc_pct: Annotated[float, Field(ge=0, le=100)] | None = None

    @property
    def ev(self) -> dict[str, float]:
        """The EV parameters written, as keyword arguments of the charge point's plug_in."""
        fields = ("ev_max_power_w", "battery_wh", "soc_pct")
        return {name: getattr(self, name) for name in fields if getattr(self, name) is not None}


async def _plug_in(run: StepRun, step: PlugIn) -> tuple[Outcome, str]:
    return await run.on_evses(step.evse, lambda port, n: port.plug_in(n, **step.ev))


class Unplug(Action):
    """Unplug the cable of each selected EVSE (ends a session's physical part)."""

    key: ClassVar[str] = "unplug"
    evse: EvseSelection


async def _unplug(run: StepRun, step: Unplug) -> tuple[Outcome, str]:
    return await run.on_evses(step.evse, lambda port, n: port.unplug(n))


class Authorize(Expectation):
    """Present an id token at each selected EVSE; the answer is a check against ``expect``."""

    key: ClassVar[str] = "authorize"
    evse: EvseSelection
    id_token: IdToken | None = None
    expect: str = "Accepted"


async def _authorize(run: StepRun, step: Authorize) -> CheckResult:
    return await run.engine.authorize(run, step)


class StartCharging(Action):
    """Start a session on each selected EVSE (plugging in and authorizing first when needed)."""

    key: ClassVar[str] = "start_charging"
    evse: EvseSelection
    id_token: IdToken | None = None


async def _start_charging(run: StepRun, step: StartCharging) -> tuple[Outcome, str]:
    token = step.id_token or run.settings.id_token
    return await run.on_evses(step.evse, lambda port, n: port.start_charging(n, token))


class StopCharging(Action):
    """Stop the session on each selected EVSE with ``reason``."""

    key: ClassVar[str] = "stop_charging"
    evse: EvseSelection
    reason: str = "Local"


async def _stop_charging(run: StepRun, step: StopCharging) -> tuple[Outcome, str]:
    return await run.on_evses(step.evse, lambda port, n: port.stop_charging(n, step.reason))


class Wait(Action):
    """Do nothing for ``duration``."""

    key: ClassVar[str] = "wait"
    duration: Duration

    def target(self) -> str:
        return f" {self.duration:g}s"


async def _wait(run: StepRun, step: Wait) -> tuple[Outcome, str]:
    await run.sleep(step.duration)
    return run.passed()


_CHARGERS, _EVSE = "chargers", "evse"

STEPS = (
    StepSpec(Connect, _connect, _CHARGERS, lifecycle="connect"),
    StepSpec(Disconnect, _disconnect, _CHARGERS, lifecycle="disconnect"),
    StepSpec(PlugIn, _plug_in, _EVSE, lifecycle="use"),
    StepSpec(Unplug, _unplug, _EVSE, lifecycle="use"),
    StepSpec(Authorize, _authorize, _EVSE, lifecycle="use"),
    StepSpec(StartCharging, _start_charging, _EVSE, lifecycle="use"),
    StepSpec(StopCharging, _stop_charging, _EVSE, lifecycle="use"),
    StepSpec(Wait, _wait, "duration"),
)
