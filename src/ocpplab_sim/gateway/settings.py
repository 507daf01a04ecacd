"""Runtime settings of the reference gateway.

The gateway reads nothing from the environment by itself: the launcher or the CLI builds a
:class:`GatewaySettings` and hands it to :func:`~ocpplab_sim.gateway.create_app`,
:class:`~ocpplab_sim.gateway.EmbeddedGateway` or :func:`~ocpplab_sim.gateway.serve`.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = ["DEFAULT_DB_URL", "DEFAULT_TOKEN", "GatewaySettings", "normalize_db_url"]

DEFAULT_TOKEN = "ocpplab-dev-token"
DEFAULT_DB_URL = "sqlite+aiosqlite:///./ocpplab-gateway.db"


class GatewaySettings(BaseModel):
    """Everything the gateway needs to run.

    ``db_url`` is a SQLAlchemy URL of SQLite or PostgreSQL: ``sqlite:///path.db`` and
    ``postgresql://user:pw@host/db`` are taken as their async forms (``sqlite+aiosqlite``,
    ``postgresql+asyncpg``), checked before anything starts (see :func:`normalize_db_url`).
    ``public_base_url`` overrides the scheme/host/port the gateway uses when it writes absolute
    URLs (``ocpi_peer_url``, OCPI endpoint URLs, ``Link`` headers); without it the URL of the
    incoming request is used.
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
    push_concurrency: int = Field(
        32, ge=1, le=1000, description="OCPI status pushes in flight at once (all EVSEs)"
    )
    max_body_bytes: int = Field(1_048_576, ge=1024, description="larger HTTP bodies get 413")
    handshake_timeout: float = Field(
        10.0,
        gt=0,
        description="seconds a new connection may take to send its request headers (the "
        "websocket upgrade request included); then it is closed",
    )
    max_pending_handshakes: int = Field(
        256,
        ge=1,
        description="connections still sending their request headers; at the limit a new one "
        "closes the oldest of them once it has waited 1 s (at 4 times the limit, whatever its "
        "age)",
    )
    ws_max_message_bytes: int = Field(
        1_048_576, ge=1024, description="a larger websocket message closes the socket (1009)"
    )
    ocpp_max_json_depth: int = Field(
        32, ge=4, le=200, description="deeper OCPP-J frames are refused"
    )
    ocpp_max_number_digits: int = Field(
        50, ge=10, le=4000, description="longer numbers in an OCPP-J frame are refused"
    )
    max_unknown_identity_events: int = Field(
        1000,
        ge=1,
        description="events kept for identities no CPO owns (the newest; older ones are dropped)",
    )
    max_events_per_cpo: int = Field(
        10_000, ge=1, description="events kept per CPO (the newest; older ones are dropped)"
    )
    provisioning_hold_open: float = Field(
        0.0,
        ge=0,
        description="fault injection for restart tests: seconds each provisioning transaction "
        "stays open before its commit",
    )

    @field_validator("db_url")
    @classmethod
    def _db_url(cls, value: str) -> str:
        return normalize_db_url(value)

    @field_validator("public_base_url")
    @classmethod
    def _public_base_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        split = urlsplit(value)
        if split.scheme not in ("http", "https") or not split.hostname:
            raise ValueError(
                f"{value!r} is not an http(s) URL with a host, e.g. https://gw.example.test"
            )
        return value.rstrip("/")


_DB_EXAMPLES = "sqlite+aiosqlite:///gateway.db or postgresql+asyncpg://user:pw@host/db"


def normalize_db_url(value: str) -> str:
    """The async SQLAlchemy URL for ``value``, or ValueError saying what is wrong with it: not
    a URL, a database other than SQLite or PostgreSQL, PostgreSQL without ``asyncpg`` or without
    a host and database, an SQLite file that is a folder or whose folder does not exist."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        url = make_url(value)
    except ArgumentError:
        raise ValueError(f"{value!r} is not a database URL (e.g. {_DB_EXAMPLES})") from None
    backend = url.get_backend_name()
    rest = value.split("://", 1)[1] if "://" in value else ""
    if backend == "sqlite":
        database = url.database
        if database and database != ":memory:" and not database.startswith("file:"):
            path = Path(database)
            if path.is_dir():
                raise ValueError(f"{database} is a folder, not a database file")
            if not path.parent.is_dir():
                raise ValueError(f"the folder {path.parent} of {database} does not exist")
    elif backend == "postgresql":
        # asks whether the driver is there without importing it (with or without its stubs,
        # and whatever extras a type checker sees, the answer is the same)
        if importlib.util.find_spec("asyncpg") is None:
            raise ValueError(
                "PostgreSQL needs the asyncpg driver: pip install 'ocpplab-sim[postgres]'"
            )
        if not (url.host or url.query.get("host")) or not url.database:
            raise ValueError(f"a PostgreSQL URL names a host and a database, e.g. {_DB_EXAMPLES}")
    else:
        raise ValueError(f"{backend} is not supported: use SQLite or PostgreSQL ({_DB_EXAMPLES})")
    # the async driver, the rest of the URL as written (rendering it again would escape it)
    driver = "sqlite+aiosqlite" if backend == "sqlite" else "postgresql+asyncpg"
    return f"{driver}://{rest}"
