"""The runner's adapters: the Gateway API, the OCPI client and the eMSP receiver seen through the
engine's ports (:mod:`ocpplab_sim.scenario.ports`), and the engine's version-neutral topology
built from the gateway's network or from a scenario's inline chargers."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ocpplab_sim.emsp import EmspReceiver
from ocpplab_sim.errors import ConnectivityError, GatewayApiError, InputError
from ocpplab_sim.gateway_client import GatewayClient
from ocpplab_sim.gateway_client import Topology as GatewayTopology
from ocpplab_sim.ocpi_client import OcpiClient
from ocpplab_sim.scenario.execution.ports import (
    CommandAnswer,
    EvseView,
    PushView,
    ReportView,
    TransactionView,
)
from ocpplab_sim.scenario.language.model import InlineTopology
from ocpplab_sim.topology import Charger, Evse, Topology

__all__ = ["GatewayPorts", "OcpiViews", "PushViews", "inline_topology", "neutral_topology"]


class OcpiViews:
    """Adapts the OCPI client to the engine's StatusSource."""

    def __init__(self, client: OcpiClient) -> None:
        self._client = client

    async def evse_statuses(self) -> Mapping[str, EvseView]:
        views = await self._client.evse_views()
        return {
            uid: EvseView(status=str(status.value), connectors=tuple(connectors))
            for uid, (status, connectors) in views.items()
        }


class PushViews:
    """Adapts the eMSP receiver to the engine's PushSource."""

    def __init__(self, receiver: EmspReceiver) -> None:
        self._receiver = receiver

    def pushes(self) -> Sequence[PushView]:
        return [
            PushView(
                at=r.at,
                method=r.method,
                location_id=r.location_id,
                evse_uid=r.evse_uid if r.connector_id is None else None,
                body=r.body,
                problems=r.problems,
            )
            for r in self._receiver.pushes()
        ]


class GatewayPorts:
    """Adapts the Gateway API to the engine's CommandPort and ReportSource for one CPO."""

    def __init__(self, client: GatewayClient, cpo_id: str) -> None:
        self._client = client
        self._cpo_id = cpo_id

    async def command(
        self, identity: str, action: str, payload: Mapping[str, Any], timeout_s: float
    ) -> CommandAnswer:
        try:
            result = await self._client.command(
                self._cpo_id, identity, action, payload, timeout_s=timeout_s
            )
        except GatewayApiError as exc:
            if exc.status_code != 422:
                raise
            return CommandAnswer("refused", error={"description": str(exc)})
        return CommandAnswer(result.status, result.response, result.error)

    async def report(self) -> ReportView:
        report = await self._client.report(self._cpo_id)
        return ReportView(
            transactions=tuple(
                TransactionView(
                    charger=t.station_id,
                    number=t.ocpp_number,
                    transaction_id=None if t.transaction_id is None else str(t.transaction_id),
                    meter_start_wh=t.meter_start_wh,
                    meter_stop_wh=t.meter_stop_wh,
                    energy_wh=t.energy_wh,
                    stopped=t.stopped_at is not None,
                )
                for t in report.transactions
            ),
            messages=dict(report.messages),
        )


def inline_topology(spec: InlineTopology) -> Topology:
    """The engine's topology for a scenario's inline chargers (uids ``{identity}-{n}`` unless
    given). Raises InputError for a duplicate identity or EVSE uid."""
    chargers = []
    for charger in spec.chargers:
        written = (
            tuple({} for _ in range(charger.evses))
            if isinstance(charger.evses, int)
            else tuple(e.model_dump(exclude_none=True) for e in charger.evses)
        )
        evses = tuple(
            Evse(
                uid=fields.get("uid") or f"{charger.identity}-{number}",
                charger=charger.identity,
                number=number,
                location_id=charger.location,
                topology_id=fields.get("topology_id"),
            )
            for number, fields in enumerate(written, start=1)
        )
        chargers.append(Charger(charger.identity, charger.ocpp_version, charger.location, evses))
    try:
        return Topology(tuple(chargers))
    except ValueError as exc:
        raise InputError(f"inline topology: {exc}") from exc


def neutral_topology(network: GatewayTopology) -> Topology:
    """The engine's version-neutral view of the gateway client's topology.

    Raises ConnectivityError when the network has nothing to simulate.
    """
    names = {location.id: location.name for location in network.locations}
    chargers = tuple(
        Charger(
            identity=charger.identity,
            ocpp_version=charger.ocpp_version,
            location_id=charger.location_id,
            location_name=names.get(charger.location_id),
            evses=tuple(
                Evse(
                    uid=evse.evse_uid,
                    charger=charger.identity,
                    number=evse.ocpp_number,
                    location_id=evse.location_id,
                    ocpi_evse_id=evse.ocpi_evse_id,
                    topology_id=evse.topology_id,
                )
                for evse in charger.evses
            ),
        )
        for charger in network.chargers
    )
    if not chargers or any(not charger.evses for charger in chargers):
        raise ConnectivityError(f"CPO {network.cpo_id} has a charger without EVSEs, or none")
    return Topology(chargers)
