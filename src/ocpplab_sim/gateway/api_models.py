"""Pydantic models of the Gateway API (``/ocpi/cpos``), field for field as the seed pages.

``Cpo`` follows "Get CPO" (plus ``status``); the location models follow the OpenAPI schemas of
"List locations in a network" (names, nullability and required lists), so ``/openapi.json``
publishes the same components.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from .mapping import PROFILES, OcpiEvseStatus
from .templates import builtin_catalog

__all__ = [
    "ChargerInfo",
    "ChargerList",
    "ChargerSummary",
    "CommandList",
    "CommandRequest",
    "CommandResult",
    "Cpo",
    "CpoCreate",
    "CpoList",
    "CpoReport",
    "CpoStatus",
    "CpoStatusValue",
    "EvseSummary",
    "HttpErrorResponse",
    "OcpiCoordinates",
    "OcpiLocationListResponse",
    "OcpiLocationResponse",
    "Party",
    "PartyOut",
    "ReportConnection",
    "ReportEvent",
    "ReportEvse",
    "ReportHistoryEntry",
    "ReportOcpi",
    "ReportPush",
    "ReportTransaction",
    "RoamHelper",
    "Topology",
]

CpoStatusValue = Literal["pending", "provisioning", "ready", "failed", "deleted"]
CPO_ID_PATTERN = r"^\d+$"


class HttpErrorResponse(BaseModel):
    """Standard HTTP error payload returned by the API."""

    detail: str = Field(description="Human-readable error message returned by the API.")


class Party(BaseModel):
    """The OCPI party identity the new CPO occupies (OCPI 2.2.1 CiString(2)/CiString(3))."""

    model_config = ConfigDict(extra="forbid")

    country_code: str = Field(pattern=r"^[A-Z]{2}$", examples=["FR"])
    party_id: str = Field(pattern=r"^[A-Z0-9]{3}$", examples=["ABC"])


class PartyOut(Party):
    role: Literal["CPO"] = "CPO"


class CpoCreate(BaseModel):
    """Body of ``POST /ocpi/cpos``. Only ``template`` and ``party`` are required."""

    model_config = ConfigDict(extra="forbid")

    template: str = Field(examples=["small-urban-ac"])
    party: Party
    name_prefix: str = Field(
        "demo",
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_]{0,15}$",
        description="First segment of every charger identity",
    )
    idempotency_key: str | None = Field(None, min_length=1, max_length=200)
    mapping_profile: str = Field("default", description="OCPP→OCPI status mapping profile")
    ttl_seconds: int | None = Field(
        3600, ge=1, description="Seconds until the CPO is deleted; null: never"
    )
    template_params: dict[str, int] | None = Field(
        None,
        description="Parameters of a parameterised template, e.g. "
        '{"locations": 50, "chargers_per_location": 20} for large-network',
    )
    ocpp_security_profile: Literal[0, 1, 2] = Field(
        0,
        description="OCPP security profile of every charger: 0 none, 1 Basic auth over ws, "
        "2 Basic auth over wss (TLS). Passwords: GET /ocpi/cpos/{cpo_id}/chargers",
    )

    @field_validator("template")
    @classmethod
    def _known_template(cls, value: str) -> str:
        catalog = builtin_catalog()
        if value not in catalog:
            raise ValueError(f"unknown template {value!r}; known: {', '.join(sorted(catalog))}")
        return value

    @model_validator(mode="after")
    def _params_fit_template(self) -> CpoCreate:
        template = builtin_catalog().get(self.template)
        if template is not None:
            # Raises ValueError (→ 422) for an unknown parameter or a value out of range.
            template.check_params(self.template_params)
        return self

    @field_validator("mapping_profile")
    @classmethod
    def _known_profile(cls, value: str) -> str:
        if value not in PROFILES:
            raise ValueError(f"unknown mapping profile {value!r}; known: {', '.join(PROFILES)}")
        return value


class Topology(BaseModel):
    """Counts of entities the bundle wrote, so the caller knows what landed."""

    locations: int
    chargers: int
    evses: int
    connectors: int


class RoamHelper(BaseModel):
    """Pre-built eMSP helper payload so the peer can handshake in one paste."""

    versions_url: str
    token_a: str
    party: PartyOut
    ocpi_version: Literal["2.2.1"] = "2.2.1"


class Cpo(BaseModel):
    """Status + metadata for a single CPO."""

    cpo_id: str = Field(pattern=CPO_ID_PATTERN)
    party: PartyOut
    name_prefix: str
    template: str
    template_version: int
    ocpi_peer_url: str
    topology: Topology
    report_url: str
    destroy_url: str
    token_a: str | None = Field(
        None, description="Freshly minted Token A (present on create; None on GET)."
    )
    roam_helper: RoamHelper | None = None
    expires_at: datetime | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    status: CpoStatusValue


class CpoList(BaseModel):
    data: list[Cpo]
    total: int
    page: int
    limit: int


class LeaseRequest(BaseModel):
    """``POST /ocpi/cpos/{cpo_id}/lease``: the CPO expires ``ttl_seconds`` from now."""

    model_config = ConfigDict(extra="forbid")

    ttl_seconds: int = Field(ge=1, le=86_400)


class Lease(BaseModel):
    cpo_id: str
    expires_at: datetime


class CpoStatus(BaseModel):
    cpo_id: str
    status: CpoStatusValue
    error: str | None
    updated_at: datetime


class OcpiCoordinates(BaseModel):
    """Latitude/longitude pair accepted by the OCPI location API."""

    latitude: float
    longitude: float


class EvseSummary(BaseModel):
    """Per-EVSE identifiers; the n-th entry of a charger is OCPP connectorId/evseId n."""

    evse_uid: str
    ocpi_evse_id: str | None = None
    ocpi_connector_id: str | None = None
    topology_id: str | None = None


class ChargerSummary(BaseModel):
    """Lightweight charger view returned alongside a location."""

    id: str
    identity: str
    connector_type: str | None = None
    ocpp_version: str | None = None
    charge_point_id: str | None = None
    evses: list[EvseSummary] = Field(default_factory=list)
    topology_default_id: str | None = None


class OcpiLocationResponse(BaseModel):
    """Network-of-columns view of one OCPI location row."""

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


class OcpiLocationListResponse(BaseModel):
    """Paginated list of locations for the GET endpoint."""

    data: list[OcpiLocationResponse]
    total: int
    page: int
    limit: int


class ReportHistoryEntry(BaseModel):
    at: datetime
    ocpp_status: str | None
    ocpi_status: OcpiEvseStatus


class ReportEvse(BaseModel):
    evse_uid: str
    station_id: str
    ocpp_number: int
    ocpp_status: str | None
    ocpi_status: OcpiEvseStatus
    online: bool
    history: list[ReportHistoryEntry]


class ReportConnection(BaseModel):
    station_id: str
    event: Literal["connected", "disconnected"]
    at: datetime


class ReportTransaction(BaseModel):
    station_id: str
    ocpp_number: int | None
    transaction_id: str | None
    id_token: str | None
    meter_start_wh: float | None
    meter_stop_wh: float | None
    energy_wh: float | None
    started_at: datetime | None
    stopped_at: datetime | None


class ReportOcpi(BaseModel):
    """OCPI credentials state; ``peer_versions_ok`` is the result of the gateway's GET of the
    eMSP's versions URL with token B during the last registration (null: not tried yet)."""

    registered: bool
    peer_url: str | None
    peer_versions_ok: bool | None
    peer_versions_detail: str | None
    peer_versions_at: datetime | None


class CpoReport(BaseModel):
    cpo_id: str
    status: CpoStatusValue
    evses: list[ReportEvse]
    messages: dict[str, int]
    connections: list[ReportConnection]
    transactions: list[ReportTransaction]
    ocpi: ReportOcpi
    commands: list[CommandResult] = Field(default_factory=list)
    pushes: list[ReportPush] = Field(default_factory=list)
    events: list[ReportEvent] = Field(default_factory=list)


class ChargerInfo(BaseModel):
    """One charger of a CPO and how to connect it: ``ocpp_path`` is ``/ocpp/{identity}`` on the
    gateway's host (``ws://`` or, under security profile 2, ``wss://``). Under security profile 1
    or 2 the charger authenticates with HTTP Basic ``username:password``; both are null under
    profile 0."""

    identity: str
    location_id: str
    ocpp_version: Literal["1.6", "2.0.1"]
    evse_uids: list[str]
    security_profile: Literal[0, 1, 2]
    username: str | None
    password: str | None
    ocpp_path: str
    online: bool


class ChargerList(BaseModel):
    data: list[ChargerInfo]


class CommandRequest(BaseModel):
    """An OCPP operation for the central system to send: ``payload`` is the CALL payload as on
    the wire (camelCase keys), validated against the official schema of ``action``."""

    model_config = ConfigDict(extra="forbid")

    action: str = Field(pattern=r"^[A-Za-z0-9]{1,64}$", examples=["RemoteStartTransaction"])
    payload: dict[str, Any] = Field(default_factory=dict, examples=[{"idTag": "TAG1"}])
    timeout_s: float = Field(30.0, gt=0, le=300, description="seconds to wait for the answer")


class CommandResult(BaseModel):
    """Outcome of one command. ``status``: ``answered`` (CALLRESULT in ``response``;
    ``response_valid`` says whether it matched the schema), ``callerror`` (``error`` has
    ``code``, ``description``, ``details``), ``timeout`` or ``offline`` (not connected, or the
    socket closed before the answer)."""

    command_id: str
    station_id: str
    action: str
    payload: dict[str, Any]
    status: Literal["answered", "callerror", "timeout", "offline"]
    message_id: str | None
    response: dict[str, Any] | None
    response_valid: bool | None
    error: dict[str, Any] | None
    sent_at: datetime
    answered_at: datetime | None


class CommandList(BaseModel):
    data: list[CommandResult]


class ReportPush(BaseModel):
    """One attempt to PATCH an EVSE status to the eMSP (``ok``: 2xx and OCPI 1000)."""

    location_id: str
    evse_uid: str
    url: str
    ocpi_status: OcpiEvseStatus
    last_updated: datetime
    attempt: int
    ok: bool
    http_status: int | None
    ocpi_status_code: int | None
    detail: str | None
    at: datetime


class ReportEvent(BaseModel):
    """A refused handshake (``refused``), an invalid frame (``invalid_frame``), a CALL the
    schema rejected (``rejected_call``) or a charger gone silent (``silent``)."""

    station_id: str | None
    kind: str
    detail: str
    at: datetime


CpoReport.model_rebuild()


class GatewayEventList(BaseModel):
    """Events that belong to no CPO (handshakes of unknown identities), oldest first."""

    data: list[ReportEvent]
