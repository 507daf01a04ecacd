"""Async client of the OCPPLab Gateway API: create, watch, inspect and delete CPO networks.

Errors surface only as :mod:`ocpplab_sim.errors` types (GatewayUnreachable, GatewayApiError,
ProvisioningError).
"""

from ocpplab_sim.gateway_client.client import GatewayClient, csms_url_for, describe_detail
from ocpplab_sim.gateway_client.lease import held_lease
from ocpplab_sim.gateway_client.models import (
    ChargerInfo,
    ChargerSummary,
    CommandResult,
    Cpo,
    CpoPage,
    CpoReport,
    CpoState,
    CpoStatus,
    EvseSummary,
    OcpiCoordinates,
    OcpiLocationListResponse,
    OcpiLocationResponse,
    Party,
    ReportConnection,
    ReportEvse,
    ReportHistoryEntry,
    ReportTransaction,
    RoamHelper,
    TopologyCounts,
)
from ocpplab_sim.gateway_client.topology import (
    OcppVersion,
    Topology,
    TopologyCharger,
    TopologyEvse,
    TopologyLocation,
)

__all__ = [
    "ChargerInfo",
    "ChargerSummary",
    "CommandResult",
    "Cpo",
    "CpoPage",
    "CpoReport",
    "CpoState",
    "CpoStatus",
    "EvseSummary",
    "GatewayClient",
    "OcpiCoordinates",
    "OcpiLocationListResponse",
    "OcpiLocationResponse",
    "OcppVersion",
    "Party",
    "ReportConnection",
    "ReportEvse",
    "ReportHistoryEntry",
    "ReportTransaction",
    "RoamHelper",
    "Topology",
    "TopologyCharger",
    "TopologyCounts",
    "TopologyEvse",
    "TopologyLocation",
    "csms_url_for",
    "describe_detail",
    "held_lease",
]
