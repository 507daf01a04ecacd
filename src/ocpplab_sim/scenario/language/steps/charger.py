"""Charge-point actions beyond the charging cycle: the network going down and back, a reboot, a
local setting, any CALL sent as written, faults, the EV's demand and the power offered. Each
step's model, label, short form, effect on a charger's connection and handler, side by side."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, ClassVar

from pydantic import Field

from ocpplab_sim.errors import ChargePointError
from ocpplab_sim.scenario.language.base import Action, StepSpec
from ocpplab_sim.scenario.language.types import ChargerSelection, EvseSelection, Selector

if TYPE_CHECKING:
    from ocpplab_sim.scenario.execution.engine import StepRun
    from ocpplab_sim.scenario.execution.events import Outcome
    from ocpplab_sim.scenario.execution.ports import ChargerPort

__all__ = [
    "STEPS",
    "ClearFault",
    "EvRequestsEnergy",
    "EvStopsEnergy",
    "InjectFault",
    "NetworkLoss",
    "PowerUpdate",
    "Reboot",
    "Reconnect",
    "SendRaw",
    "SetConfiguration",
]

_ALL = Selector(kind="all")


class NetworkLoss(Action):
    """The network of each selected charger goes down: its socket closes (the central system sees
    it offline), the charger keeps working and queues its transaction messages until
    ``reconnect``. Unlike ``disconnect`` (a clean, final close), the charger can come back."""

    key: ClassVar[str] = "network_loss"
    chargers: ChargerSelection = _ALL


async def _network_loss(run: StepRun, step: NetworkLoss) -> tuple[Outcome, str]:
    async def call(port: ChargerPort) -> str:
        await port.disconnect()
        return ""

    return await run.on_chargers(step.chargers, call)


class Reconnect(Action):
    """The network comes back: each selected charger reconnects, delivers its queued
    transaction messages, then reports every status."""

    key: ClassVar[str] = "reconnect"
    chargers: ChargerSelection = _ALL


async def _reconnect(run: StepRun, step: Reconnect) -> tuple[Outcome, str]:
    async def call(port: ChargerPort) -> str:
        await port.reconnect()
        return ""

    return await run.on_chargers(step.chargers, call)


class Reboot(Action):
    """Power-cycle each selected charger: running sessions end (PowerLoss), it boots again."""

    key: ClassVar[str] = "reboot"
    chargers: ChargerSelection = _ALL
    reason: str = "PowerUp"


async def _reboot(run: StepRun, step: Reboot) -> tuple[Outcome, str]:
    async def call(port: ChargerPort) -> str:
        await port.reboot(step.reason)
        return ""

    return await run.on_chargers(step.chargers, call)


class SetConfiguration(Action):
    """Change a setting locally on each selected charger, by 1.6 key or 2.0.1
    ``Component.Variable``; an unknown, read-only or invalid setting is an error of the step."""

    key: ClassVar[str] = "set_configuration"
    chargers: ChargerSelection = _ALL
    setting: Annotated[str, Field(min_length=1)] = Field(alias="key")
    value: str | int | float | bool


async def _set_configuration(run: StepRun, step: SetConfiguration) -> tuple[Outcome, str]:
    value = step.value
    text = str(value).lower() if isinstance(value, bool) else str(value)

    async def call(port: ChargerPort) -> str:
        if not await port.set_configuration(step.setting, text):
            raise ChargePointError(
                f"setting {step.setting}={text} refused (unknown, read-only or invalid)"
            )
        return ""

    return await run.on_chargers(step.chargers, call)


class SendRaw(Action):
    """Send any CALL from each selected charger to the central system (its answer is shown)."""

    key: ClassVar[str] = "send_raw"
    chargers: ChargerSelection = _ALL
    action: Annotated[str, Field(min_length=1)]
    payload: dict[str, Any] = Field(default_factory=dict)


async def _send_raw(run: StepRun, step: SendRaw) -> tuple[Outcome, str]:
    async def call(port: ChargerPort) -> str:
        answer = await port.send_raw(step.action, dict(step.payload))
        return f"{step.action} answered {run.short_json(answer)}"

    return await run.on_chargers(step.chargers, call)


class InjectFault(Action):
    """A fault on each selected EVSE (status Faulted; a running session ends)."""

    key: ClassVar[str] = "inject_fault"
    evse: EvseSelection
    error_code: Annotated[str, Field(min_length=1)] = "OtherError"


async def _inject_fault(run: StepRun, step: InjectFault) -> tuple[Outcome, str]:
    return await run.on_evses(step.evse, lambda port, n: port.set_fault(n, True, step.error_code))


class ClearFault(Action):
    """Clear the fault of each selected EVSE (it reports its status again)."""

    key: ClassVar[str] = "clear_fault"
    evse: EvseSelection


async def _clear_fault(run: StepRun, step: ClearFault) -> tuple[Outcome, str]:
    return await run.on_evses(step.evse, lambda port, n: port.set_fault(n, False))


class EvRequestsEnergy(Action):
    """The EV at each selected EVSE draws energy again (Charging)."""

    key: ClassVar[str] = "ev_requests_energy"
    evse: EvseSelection


async def _ev_requests_energy(run: StepRun, step: EvRequestsEnergy) -> tuple[Outcome, str]:
    return await run.on_evses(step.evse, lambda port, n: port.set_ev_demand(n, True))


class EvStopsEnergy(Action):
    """The EV at each selected EVSE stops drawing energy (SuspendedEV)."""

    key: ClassVar[str] = "ev_stops_energy"
    evse: EvseSelection


async def _ev_stops_energy(run: StepRun, step: EvStopsEnergy) -> tuple[Outcome, str]:
    return await run.on_evses(step.evse, lambda port, n: port.set_ev_demand(n, False))


class PowerUpdate(Action):
    """Cap the power each selected EVSE offers (``0``: SuspendedEVSE; ``null``: no cap)."""

    key: ClassVar[str] = "power_update"
    evse: EvseSelection
    limit_w: Annotated[float, Field(ge=0)] | None


async def _power_update(run: StepRun, step: PowerUpdate) -> tuple[Outcome, str]:
    return await run.on_evses(step.evse, lambda port, n: port.set_power_limit(n, step.limit_w))


_CHARGERS, _EVSE = "chargers", "evse"

STEPS = (
    StepSpec(NetworkLoss, _network_loss, _CHARGERS, lifecycle="offline"),
    StepSpec(Reconnect, _reconnect, _CHARGERS, lifecycle="online"),
    StepSpec(Reboot, _reboot, _CHARGERS, lifecycle="use"),
    StepSpec(SetConfiguration, _set_configuration),
    StepSpec(SendRaw, _send_raw, lifecycle="use"),
    StepSpec(InjectFault, _inject_fault, _EVSE, lifecycle="use"),
    StepSpec(ClearFault, _clear_fault, _EVSE, lifecycle="use"),
    StepSpec(EvRequestsEnergy, _ev_requests_energy, _EVSE, lifecycle="use"),
    StepSpec(EvStopsEnergy, _ev_stops_energy, _EVSE, lifecycle="use"),
    StepSpec(PowerUpdate, _power_update, lifecycle="use"),
)
