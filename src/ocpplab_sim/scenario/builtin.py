"""The built-in steps of the scenario language, in the order docs and messages list them: each
one's model, short form and handler (see :mod:`ocpplab_sim.scenario.registry`)."""

from __future__ import annotations

from typing import Any

from ocpplab_sim.scenario import actions as a
from ocpplab_sim.scenario import model as m
from ocpplab_sim.scenario.engine import StepRun
from ocpplab_sim.scenario.events import CheckResult, Outcome
from ocpplab_sim.scenario.registry import StepSpec, register_step

__all__: list[str] = []


async def _act(run: StepRun, step: Any) -> tuple[Outcome, str]:
    return await run.engine.act(run, step)


async def _block(run: StepRun, step: Any) -> tuple[Outcome, str]:
    return await run.engine.block(run, step)


async def _authorize(run: StepRun, step: m.Authorize) -> CheckResult:
    return await run.engine.authorize(run, step)


async def _expect_ocpi(run: StepRun, step: m.ExpectOcpi) -> CheckResult:
    return await run.engine.expect_ocpi(run, step)


async def _expect_push(run: StepRun, step: m.ExpectPush) -> CheckResult:
    return await run.engine.expect_push(run, step)


async def _charger_action(run: StepRun, step: Any) -> tuple[Outcome, str]:
    return await run.engine.operations.act(step)


async def _csms(run: StepRun, step: Any) -> CheckResult:
    return await run.engine.operations.csms(run.index, run.label, step)


async def _expect_csms(run: StepRun, step: a.ExpectCsms) -> CheckResult:
    return await run.engine.operations.expect_csms(run.index, run.label, step)


async def _expect_report(run: StepRun, step: a.ExpectReport) -> CheckResult:
    return await run.engine.operations.expect_report(run.index, run.label, step)


_CHARGERS, _EVSE = "chargers", "evse"

_BUILTIN = (
    StepSpec(m.Connect, _act, _CHARGERS),
    StepSpec(m.Disconnect, _act, _CHARGERS),
    StepSpec(m.PlugIn, _act, _EVSE),
    StepSpec(m.Unplug, _act, _EVSE),
    StepSpec(m.Authorize, _authorize, _EVSE),
    StepSpec(m.StartCharging, _act, _EVSE),
    StepSpec(m.StopCharging, _act, _EVSE),
    StepSpec(m.Wait, _act, "duration"),
    StepSpec(m.ExpectOcpi, _expect_ocpi),
    StepSpec(m.ExpectPush, _expect_push),
    StepSpec(a.NetworkLoss, _charger_action, _CHARGERS),
    StepSpec(a.Reconnect, _charger_action, _CHARGERS),
    StepSpec(a.Reboot, _charger_action, _CHARGERS),
    StepSpec(a.SetConfiguration, _charger_action),
    StepSpec(a.SendRaw, _charger_action),
    StepSpec(a.InjectFault, _charger_action, _EVSE),
    StepSpec(a.ClearFault, _charger_action, _EVSE),
    StepSpec(a.EvRequestsEnergy, _charger_action, _EVSE),
    StepSpec(a.EvStopsEnergy, _charger_action, _EVSE),
    StepSpec(a.PowerUpdate, _charger_action),
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
