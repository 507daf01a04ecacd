"""The built-in steps of the scenario language, in the order docs and messages list them: each
one's model, short form and handler (see :mod:`ocpplab_sim.scenario.registry`)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from ocpplab_sim.errors import ChargePointError
from ocpplab_sim.scenario.execution.engine import StepRun
from ocpplab_sim.scenario.execution.events import CheckResult, Outcome
from ocpplab_sim.scenario.execution.operations import gather_all, short_json
from ocpplab_sim.scenario.execution.ports import ChargerPort
from ocpplab_sim.scenario.language import actions as a
from ocpplab_sim.scenario.language import model as m
from ocpplab_sim.scenario.language.registry import StepSpec, register_step
from ocpplab_sim.scenario.language.types import Selector

__all__ = ["on_chargers", "on_evses"]


# -- helpers: one call per selected EVSE or charger -----------------------------------------

EvseCall = Callable[[ChargerPort, int], Awaitable[Any]]
ChargerCall = Callable[[ChargerPort], Awaitable[str]]


async def on_evses(run: StepRun, selector: Selector, call: EvseCall) -> tuple[Outcome, str]:
    """``call(port, number)`` for every selected EVSE at once."""
    evses = run.evses(selector)
    await gather_all(
        [call(run.chargers[e.charger], e.number) for e in evses], [e.uid for e in evses]
    )
    return Outcome.PASSED, f"{len(evses)} EVSE(s)"


async def on_chargers(run: StepRun, selector: Selector, call: ChargerCall) -> tuple[Outcome, str]:
    """``call(port)`` for every selected charger at once; what it returns is shown."""
    chargers = run.select_chargers(selector)
    names = [c.identity for c in chargers]
    answers = await gather_all([call(run.chargers[name]) for name in names], names)
    shown = [f"{name}: {answer}" for name, answer in zip(names, answers, strict=True) if answer]
    return Outcome.PASSED, "; ".join(shown) or f"{len(chargers)} charger(s)"


# -- the charging cycle ---------------------------------------------------------------------


async def _connect(run: StepRun, step: m.Connect) -> tuple[Outcome, str]:
    return await run.engine.connect(step.chargers)


async def _disconnect(run: StepRun, step: m.Disconnect) -> tuple[Outcome, str]:
    return await run.engine.disconnect(step.chargers)


async def _plug_in(run: StepRun, step: m.PlugIn) -> tuple[Outcome, str]:
    return await on_evses(run, step.evse, lambda port, n: port.plug_in(n, **step.ev))


async def _unplug(run: StepRun, step: m.Unplug) -> tuple[Outcome, str]:
    return await on_evses(run, step.evse, lambda port, n: port.unplug(n))


async def _start_charging(run: StepRun, step: m.StartCharging) -> tuple[Outcome, str]:
    token = step.id_token or run.settings.id_token
    return await on_evses(run, step.evse, lambda port, n: port.start_charging(n, token))


async def _stop_charging(run: StepRun, step: m.StopCharging) -> tuple[Outcome, str]:
    return await on_evses(run, step.evse, lambda port, n: port.stop_charging(n, step.reason))


async def _wait(run: StepRun, step: m.Wait) -> tuple[Outcome, str]:
    await run.sleep(step.duration)
    return Outcome.PASSED, ""


# -- charge-point actions beyond the cycle ---------------------------------------------------


async def _network_loss(run: StepRun, step: a.NetworkLoss) -> tuple[Outcome, str]:
    async def call(port: ChargerPort) -> str:
        await port.disconnect()
        return ""

    return await on_chargers(run, step.chargers, call)


async def _reconnect(run: StepRun, step: a.Reconnect) -> tuple[Outcome, str]:
    async def call(port: ChargerPort) -> str:
        await port.reconnect()
        return ""

    return await on_chargers(run, step.chargers, call)


async def _reboot(run: StepRun, step: a.Reboot) -> tuple[Outcome, str]:
    async def call(port: ChargerPort) -> str:
        await port.reboot(step.reason)
        return ""

    return await on_chargers(run, step.chargers, call)


async def _set_configuration(run: StepRun, step: a.SetConfiguration) -> tuple[Outcome, str]:
    value = step.value
    text = str(value).lower() if isinstance(value, bool) else str(value)

    async def call(port: ChargerPort) -> str:
        if not await port.set_configuration(step.setting, text):
            raise ChargePointError(
                f"setting {step.setting}={text} refused (unknown, read-only or invalid)"
            )
        return ""

    return await on_chargers(run, step.chargers, call)


async def _send_raw(run: StepRun, step: a.SendRaw) -> tuple[Outcome, str]:
    async def call(port: ChargerPort) -> str:
        answer = await port.send_raw(step.action, dict(step.payload))
        return f"{step.action} answered {short_json(answer)}"

    return await on_chargers(run, step.chargers, call)


async def _inject_fault(run: StepRun, step: a.InjectFault) -> tuple[Outcome, str]:
    return await on_evses(run, step.evse, lambda port, n: port.set_fault(n, True, step.error_code))


async def _clear_fault(run: StepRun, step: a.ClearFault) -> tuple[Outcome, str]:
    return await on_evses(run, step.evse, lambda port, n: port.set_fault(n, False))


async def _ev_requests_energy(run: StepRun, step: a.EvRequestsEnergy) -> tuple[Outcome, str]:
    return await on_evses(run, step.evse, lambda port, n: port.set_ev_demand(n, True))


async def _ev_stops_energy(run: StepRun, step: a.EvStopsEnergy) -> tuple[Outcome, str]:
    return await on_evses(run, step.evse, lambda port, n: port.set_ev_demand(n, False))


async def _power_update(run: StepRun, step: a.PowerUpdate) -> tuple[Outcome, str]:
    return await on_evses(run, step.evse, lambda port, n: port.set_power_limit(n, step.limit_w))


# -- checks, central-system operations and blocks -------------------------------------------


async def _block(run: StepRun, step: Any) -> tuple[Outcome, str]:
    return await run.engine.block(run, step)


async def _authorize(run: StepRun, step: m.Authorize) -> CheckResult:
    return await run.engine.authorize(run, step)


async def _expect_ocpi(run: StepRun, step: m.ExpectOcpi) -> CheckResult:
    return await run.engine.expect_ocpi(run, step)


async def _expect_push(run: StepRun, step: m.ExpectPush) -> CheckResult:
    return await run.engine.expect_push(run, step)


async def _csms(run: StepRun, step: Any) -> CheckResult:
    return await run.engine.operations.csms(run.index, run.label, step)


async def _expect_csms(run: StepRun, step: a.ExpectCsms) -> CheckResult:
    return await run.engine.operations.expect_csms(run.index, run.label, step)


async def _expect_report(run: StepRun, step: a.ExpectReport) -> CheckResult:
    return await run.engine.operations.expect_report(run.index, run.label, step)


_CHARGERS, _EVSE = "chargers", "evse"

_BUILTIN = (
    StepSpec(m.Connect, _connect, _CHARGERS),
    StepSpec(m.Disconnect, _disconnect, _CHARGERS),
    StepSpec(m.PlugIn, _plug_in, _EVSE),
    StepSpec(m.Unplug, _unplug, _EVSE),
    StepSpec(m.Authorize, _authorize, _EVSE),
    StepSpec(m.StartCharging, _start_charging, _EVSE),
    StepSpec(m.StopCharging, _stop_charging, _EVSE),
    StepSpec(m.Wait, _wait, "duration"),
    StepSpec(m.ExpectOcpi, _expect_ocpi),
    StepSpec(m.ExpectPush, _expect_push),
    StepSpec(a.NetworkLoss, _network_loss, _CHARGERS),
    StepSpec(a.Reconnect, _reconnect, _CHARGERS),
    StepSpec(a.Reboot, _reboot, _CHARGERS),
    StepSpec(a.SetConfiguration, _set_configuration),
    StepSpec(a.SendRaw, _send_raw),
    StepSpec(a.InjectFault, _inject_fault, _EVSE),
    StepSpec(a.ClearFault, _clear_fault, _EVSE),
    StepSpec(a.EvRequestsEnergy, _ev_requests_energy, _EVSE),
    StepSpec(a.EvStopsEnergy, _ev_stops_energy, _EVSE),
    StepSpec(a.PowerUpdate, _power_update),
    StepSpec(a.CsmsCall, _csms, needs_gateway=True),
    StepSpec(a.RemoteStart, _csms, _EVSE, needs_gateway=True),
    StepSpec(a.RemoteStop, _csms, _EVSE, needs_gateway=True),
    StepSpec(a.ChangeAvailability, _csms, needs_gateway=True),
    StepSpec(a.Reset, _csms, _CHARGERS, needs_gateway=True),
    StepSpec(a.Unlock, _csms, _EVSE, needs_gateway=True),
    StepSpec(a.Reserve, _csms, _EVSE, needs_gateway=True),
    StepSpec(a.CancelReservation, _csms, _EVSE, needs_gateway=True),
    StepSpec(a.ExpectCsms, _expect_csms),
    StepSpec(a.ExpectReport, _expect_report, needs_gateway=True),
    StepSpec(m.Parallel, _block, "steps", block=True),
    StepSpec(m.Repeat, _block, block=True),
    StepSpec(m.Each, _block, block=True),
)

for _spec in _BUILTIN:
    register_step(_spec)
