"""The OCPI expectations: the EVSE status the CPO publishes (``expect_ocpi``) and the one it
pushes to the harness's eMSP receiver (``expect_push``). The engine's verifier polls and
judges; these are the steps' models, labels and handlers."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, ClassVar

from pydantic import Field, model_validator

from ocpplab_sim.scenario.language.base import Expectation, StepSpec
from ocpplab_sim.scenario.language.mapping import OCPP_STATUSES
from ocpplab_sim.scenario.language.types import ConnectorSpec, Duration, EvseSelection, EvseStatus

if TYPE_CHECKING:
    from ocpplab_sim.scenario.execution.engine import StepRun
    from ocpplab_sim.scenario.execution.events import CheckResult

__all__ = ["STEPS", "ExpectOcpi", "ExpectPush"]


class ExpectOcpi(Expectation):
    """The OCPI EVSE status of every selected EVSE must become ``status`` within the deadline.

    ``status_of_ocpp`` writes it in OCPP terms instead (``Preparing``, ``Faulted``, ``offline``,
    ...): the OCPI status is then the one the scenario's mapping profile publishes for it. With
    ``stays`` the status must then hold for that long (every poll); without an explicit
    ``within`` it must hold from the first poll. ``connector`` fields are checked against each
    EVSE's OCPI connectors (one of them must match every field written).
    """

    key: ClassVar[str] = "expect_ocpi"
    evse: EvseSelection
    status: EvseStatus | None = None
    status_of_ocpp: Annotated[str, Field(min_length=1, examples=list(OCPP_STATUSES))] | None = None
    within: Duration | None = None
    stays: Duration | None = None
    connector: ConnectorSpec | None = None

    @model_validator(mode="after")
    def _one_status(self) -> ExpectOcpi:
        if (self.status is None) == (self.status_of_ocpp is None):
            raise ValueError("expect_ocpi takes exactly one of status or status_of_ocpp")
        return self

    @property
    def wanted(self) -> str:
        """The OCPI status expected (the OCPP one, marked, until the engine translates it)."""
        return self.status.value if self.status is not None else f"OCPP {self.status_of_ocpp}"

    def target(self) -> str:
        return f" {self.wanted} on {self.evse.describe()}"


async def _expect_ocpi(run: StepRun, step: ExpectOcpi) -> CheckResult:
    return await run.engine.expect_ocpi(run, step)


class ExpectPush(Expectation):
    """The CPO must push (PUT/PATCH to the harness's eMSP receiver) ``status`` for every selected
    EVSE within the deadline; every push must carry a valid, non-decreasing ``last_updated``."""

    key: ClassVar[str] = "expect_push"
    evse: EvseSelection
    status: EvseStatus
    within: Duration | None = None

    def target(self) -> str:
        return f" {self.status.value} on {self.evse.describe()}"


async def _expect_push(run: StepRun, step: ExpectPush) -> CheckResult:
    return await run.engine.expect_push(run, step)


STEPS = (StepSpec(ExpectOcpi, _expect_ocpi), StepSpec(ExpectPush, _expect_push))
