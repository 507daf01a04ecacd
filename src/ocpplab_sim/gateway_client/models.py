"""Typed views of the Gateway API bodies (``/ocpi/cpos``).

Field names, types and nullability follow the API reference pages for *Get CPO* and *List
locations in a network*. Every model ignores fields it does not know, so a newer gateway that adds
fields still parses, but a missing required field or a wrong type is a validation error (which the
client turns into :class:`~ocpplab_sim.errors.GatewayApiError`).

Fields the reference marks as nullable default to ``None``; fields it does not mark nullable are
required.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

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
    "Lease",
    "OcpiCoordinates",
    "OcpiLocationListResponse",
    "OcpiLocationResponse",
    "Party",
    "ReportConnection",
    "ReportEvse",
    "ReportHistoryEntry",
    "ReportTransaction",
    "RoamHelper",
    "TopologyCounts",
]

CpoState = Literal["pending", "provisioning", "ready", "failed", "deleted"]
"""Provisioning states of a CPO; ``ready``, ``failed`` and ``deleted`` are terminal."""


class _GatewayModel(BaseModel):
    # Unknown fields are ignored rather than rejected: the real API grows fields over time and the
    # harness must keep working against it.
    model_config = ConfigDict(extra="ignore")


class Party(_GatewayModel):
    """The OCPI party identity a CPO occupies.

    ``role`` is always ``"CPO"`` in answers; it is not sent when creating a CPO.
    """

    country_code: str = Field(min_length=1)
    party_id: str = Field(min_length=1)
    role: str = "CPO"


class TopologyCounts(_GatewayModel):
    """Counts of the entities the template wrote for a CPO."""

    locations: int
    chargers: int
    evses: int
    connectors: int


class RoamHelper(_GatewayModel):
    """Pre-built eMSP payload so a peer can run the OCPI credentials handshake at once."""

    versions_url: str
    token_a: str
    party: Party
    ocpi_version: str


class Cpo(_GatewayModel):
    """One CPO network as answered by ``POST /ocpi/cpos`` and ``GET /ocpi/cpos/{cpo_id}``.

    ``token_a`` and ``roam_helper`` are only filled on create. ``status`` is not in the public
    reference but the reference gateway adds it (the provisioning state).
    """

    cpo_id: str = Field(pattern=r"^\d+$")
    party: Party
    name_prefix: str
    template: str
    template_version: int
    ocpi_peer_url: str
    topology: TopologyCounts
    report_url: str
    destroy_url: str
    token_a: str | None = None
    roam_helper: RoamHelper | None = None
    expires_at: datetime | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    status: str | None = None


class CpoPage(_GatewayModel):
    """One page of ``GET /ocpi/cpos``."""

    data: list[Cpo]
    total: int
    page: int
    limit: int


class Lease(_GatewayModel):
    """When a CPO expires, after ``POST /ocpi/cpos/{cpo_id}/lease`` (reference gateway)."""

    cpo_id: str
    expires_at: datetime


class CpoStatus(_GatewayModel):
    """Provisioning status of a CPO (``GET /ocpi/cpos/{cpo_id}/status``).

    ``error`` carries the reason when ``status`` is ``failed``.
    """

    cpo_id: str
    status: CpoState
    error: str | None = None
    updated_at: datetime | None = None


class OcpiCoordinates(_GatewayModel):
    """Latitude/longitude pair; numbers here, unlike the strings of OCPI's GeoLocation."""

    latitude: float
    longitude: float


class EvseSummary(_GatewayModel):
    """Identifiers of one EVSE (one physical connector) of a charger.

    ``evse_uid`` equals the OCPI EVSE ``uid``; multi-connector chargers carry ``_C{n}`` suffixes.
    """

    evse_uid: str
    ocpi_evse_id: str | None = None
    ocpi_connector_id: str | None = None
    topology_id: str | None = None


class ChargerSummary(_GatewayModel):
    """One charger of a location.

    ``evses`` is ordered by OCPP number: the n-th entry (1-based) is connectorId n (OCPP 1.6) or
    evseId n with connectorId 1 (OCPP 2.0.1).
    """

    id: str
    identity: str
    connector_type: str | None = None
    ocpp_version: str | None = None
    charge_point_id: str | None = None
    evses: list[EvseSummary] = Field(default_factory=list)
    topology_default_id: str | None = None


class OcpiLocationResponse(_GatewayModel):
    """One location of a CPO network; ``id`` equals the OCPI Location ``id``."""

    id: str
    ocpp_location_id: str | None = None
    organization_id: str | None = None
    slug: str | None = None
    name: str | None = None
    address: str | None = None
    city: str | None = None
    country: str | None = None
    coordinates: OcpiCoordinates | None = None
    timezone: str | None = None
    owner_name: str | None = None
    public: bool | None = None
    chargers: list[ChargerSummary] = Field(default_factory=list)
    created_at: datetime | None = None
    updated_at: datetime | None = None


class OcpiLocationListResponse(_GatewayModel):
    """One page of ``GET /ocpi/cpos/{cpo_id}/locations``; ``page`` is 1-based."""

    data: list[OcpiLocationResponse]
    total: int
    page: int
    limit: int


class ReportHistoryEntry(_GatewayModel):
    """One status change of an EVSE, as the gateway recorded it."""

    at: datetime
    ocpp_status: str | None = None
    ocpi_status: str | None = None


class ReportEvse(_GatewayModel):
    """Current OCPP and OCPI state of one EVSE, with its history."""

    evse_uid: str
    station_id: str
    ocpp_number: int
    ocpp_status: str | None = None
    ocpi_status: str | None = None
    online: bool
    history: list[ReportHistoryEntry] = Field(default_factory=list)


class ReportConnection(_GatewayModel):
    """A charger websocket opening or closing."""

    station_id: str
    event: Literal["connected", "disconnected"]
    at: datetime


class ReportTransaction(_GatewayModel):
    """A charging transaction; the stop fields stay ``None`` while it runs.

    ``transaction_id`` is an integer in OCPP 1.6 and a string in OCPP 2.0.1; it and
    ``ocpp_number`` may be ``None`` for a transaction the gateway could not tie to either.
    """

    station_id: str
    ocpp_number: int | None = None
    transaction_id: int | str | None = None
    id_token: str | None = None
    meter_start_wh: float | None = None
    meter_stop_wh: float | None = None
    energy_wh: float | None = None
    started_at: datetime | None = None
    stopped_at: datetime | None = None


class CpoReport(_GatewayModel):
    """What the gateway saw for one CPO (``GET /ocpi/cpos/{cpo_id}/report``).

    ``messages`` counts received OCPP messages by action name.
    """

    cpo_id: str
    status: str
    evses: list[ReportEvse]
    messages: dict[str, int]
    connections: list[ReportConnection]
    transactions: list[ReportTransaction]


class ChargerInfo(_GatewayModel):
    """One charger as ``GET /ocpi/cpos/{cpo_id}/chargers[/{identity}]`` answers it.

    ``username``/``password`` are the HTTP Basic credentials under security profile 1 or 2
    (``None`` under profile 0).
    """

    identity: str
    location_id: str | None = None
    ocpp_version: str
    evse_uids: list[str] = Field(default_factory=list)
    security_profile: int = 0
    username: str | None = None
    password: str | None = None
    ocpp_path: str | None = None
    online: bool = False


class ChargerList(_GatewayModel):
    data: list[ChargerInfo]


class CommandResult(_GatewayModel):
    """The outcome of one command sent through the command API.

    ``status``: ``answered`` (the CALLRESULT payload in ``response``), ``callerror`` (``error`` =
    ``{code, description, details}``), ``timeout`` or ``offline``.
    """

    command_id: str | int | None = None
    station_id: str | None = None
    action: str
    payload: dict[str, Any] = Field(default_factory=dict)
    status: Literal["answered", "callerror", "timeout", "offline"]
    message_id: str | None = None
    response: dict[str, Any] | None = None
    response_valid: bool | None = None
    error: dict[str, Any] | None = None
    sent_at: datetime | None = None
    answered_at: datetime | None = None
