"""Runtime settings of the reference gateway.

The gateway reads nothing from the environment by itself: the launcher or the CLI builds a
:class:`GatewaySettings` and hands it to :func:`~ocpplab_sim.gateway.create_app`,
:class:`~ocpplab_sim.gateway.EmbeddedGateway` or :func:`~ocpplab_sim.gateway.serve`.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["DEFAULT_DB_URL", "DEFAULT_TOKEN", "GatewaySettings"]

DEFAULT_TOKEN = "ocpplab-dev-token"
DEFAULT_DB_URL = "sqlite+aiosqlite:///./ocpplab-gateway.db"


class GatewaySettings(BaseModel):
    """Everything the gateway needs to run.

    ``db_url`` must be an async SQLAlchemy URL; ``sqlite+aiosqlite:///path.db`` and
    ``sqlite+aiosqlite:///:memory:`` are the supported forms. ``public_base_url`` overrides the
    scheme/host/port the gateway uses when it writes absolute URLs (``ocpi_peer_url``, OCPI
    endpoint URLs, ``Link`` headers); without it the URL of the incoming request is used.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    token: str = Field(DEFAULT_TOKEN, min_length=1, description="Bearer token of the Gateway API")
    db_url: str = Field(DEFAULT_DB_URL, description="async SQLAlchemy URL")
    heartbeat_interval: int = Field(300, ge=1, description="interval sent in BootNotification")
    public_base_url: str | None = Field(None, description="e.g. https://gw.example.test")
    ocpi_page_limit: int = Field(100, ge=1, le=1000, description="X-Limit of the OCPI sender")
    peer_timeout: float = Field(5.0, gt=0, description="seconds for calls to an eMSP")
    expiry_sweep_interval: float = Field(
        30.0, gt=0, description="seconds between sweeps that delete expired CPOs"
    )
    heartbeat_timeout_factor: float = Field(
        2.0, gt=0, description="a charger silent for factor × heartbeat_interval + grace is offline"
    )
    heartbeat_grace: float = Field(30.0, ge=0, description="seconds added to the silence limit")
    push_attempts: int = Field(5, ge=1, le=20, description="tries per OCPI status push")
    push_backoff: float = Field(
        0.5, gt=0, description="seconds before the 2nd push attempt; doubles each retry"
    )
    max_body_bytes: int = Field(1_048_576, ge=1024, description="larger HTTP bodies get 413")
    provisioning_hold_open: float = Field(
        0.0,
        ge=0,
        description="fault injection for restart tests: seconds each provisioning transaction "
        "stays open before its commit",
    )
