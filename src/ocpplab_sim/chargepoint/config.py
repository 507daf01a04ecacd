"""Configuration of a simulated charge point and the record of one OCPP-J frame."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, NamedTuple

__all__ = ["ChargePointConfig", "FrameRecord", "Transport"]

#: the websocket library of a charge point's link (the same names as ``connection.links``)
Transport = Literal["websockets", "picows"]


class FrameRecord(NamedTuple):
    """One OCPP-J frame sent (``out``: charge point → central system) or received (``in``).

    ``at`` is the charge point's clock (epoch seconds, ``time.time()`` unless one was injected)
    when the frame was queued for sending or received; ``message`` is the decoded OCPP-J
    array. ``note`` says why a CALL goes out again (``attempt 2 of 3``, ``again after
    reconnect``). A named tuple: every frame of a load run makes one.
    """

    at: float
    direction: Literal["out", "in"]
    identity: str
    message: list[Any]
    note: str | None = None


@dataclass(frozen=True, slots=True)
class ChargePointConfig:
    """What a simulated charge point is.

    ``evse_count`` EVSEs are 1.6 connectorIds 1..n or 2.0.1 evseIds 1..n (each with connector 1).
    The websocket URL is ``{csms_url}/{identity}``. ``max_power_w`` is per EVSE (default 22 kW
    for ``AC``, 150 kW for ``DC``); ``evse_power_w`` gives one value per EVSE instead.
    ``meter_interval_s`` is the initial MeterValueSampleInterval / TxUpdatedInterval.

    ``validation``: ``strict`` checks every frame in both directions against the official
    schemas and refuses violations, ``lenient`` logs them only, ``off`` skips the check; by
    default ``strict`` when ``strict`` is true, else ``lenient``.

    ``state_dir`` makes the offline queue durable (one journal per charge point there).
    Security profiles (OCPP 1.6 Security Whitepaper; 2.0.1 Part 2, A00): ``password`` sends
    HTTP Basic auth (profile 1, with wss 2); ``ca_file`` is the CA bundle that verifies a wss
    central system; ``cert_file``/``key_file`` are the client certificate (profile 3).
    ``firmware_step_s`` paces firmware and log-upload status sequences.
    ``source_address`` binds the websocket's local end to that IP address (e.g. ``127.0.0.2``
    from a loopback pool, past the ephemeral-port limit of one source address).
    ``transport`` is the websocket library (``picows`` is the compiled one load runs use).
    """

    identity: str
    ocpp_version: Literal["1.6", "2.0.1"]
    evse_count: int
    csms_url: str
    vendor: str = "ocpplab"
    model: str = "sim-ac"
    max_power_w: float | None = None
    meter_interval_s: float = 10.0
    seed: int = 0
    call_timeout_s: float = 30.0
    strict: bool = False
    current_type: Literal["AC", "DC"] = "AC"
    evse_power_w: tuple[float, ...] = ()
    validation: Literal["strict", "lenient", "off"] | None = None
    state_dir: str | None = None
    password: str | None = None
    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None
    firmware_step_s: float = 1.0
    firmware_version: str = "1.0.0"
    source_address: str | None = None
    transport: Transport = "websockets"

    def __post_init__(self) -> None:
        if not self.identity or "/" in self.identity:
            raise ValueError("identity must be a non-empty path segment")
        if self.ocpp_version not in ("1.6", "2.0.1"):
            raise ValueError(f"unsupported OCPP version {self.ocpp_version!r}")
        if self.evse_count < 1:
            raise ValueError("evse_count must be >= 1")
        if self.meter_interval_s <= 0 or self.call_timeout_s <= 0:
            raise ValueError("meter_interval_s and call_timeout_s must be > 0")
        if not self.csms_url.startswith(("ws://", "wss://")):
            raise ValueError("csms_url must be a ws:// or wss:// URL")
        if self.current_type not in ("AC", "DC"):
            raise ValueError("current_type must be AC or DC")
        if self.evse_power_w and len(self.evse_power_w) != self.evse_count:
            raise ValueError("evse_power_w needs one value per EVSE")
        if any(p <= 0 for p in (*self.evse_power_w, self.max_power_w or 1.0)):
            raise ValueError("powers must be > 0")
        if (self.cert_file is None) != (self.key_file is None):
            raise ValueError("cert_file and key_file go together")
        if self.transport not in ("websockets", "picows"):
            raise ValueError("transport must be websockets or picows")
        if (self.ca_file or self.cert_file) and not self.csms_url.startswith("wss://"):
            raise ValueError("ca_file / cert_file need a wss:// URL")

    @property
    def powers_w(self) -> tuple[float, ...]:
        """The maximum power of each EVSE in W."""
        if self.evse_power_w:
            return self.evse_power_w
        default = 150_000.0 if self.current_type == "DC" else 22_000.0
        return (self.max_power_w or default,) * self.evse_count

    @property
    def validation_mode(self) -> Literal["strict", "lenient", "off"]:
        if self.validation is not None:
            return self.validation
        return "strict" if self.strict else "lenient"

    @property
    def url(self) -> str:
        return f"{self.csms_url.rstrip('/')}/{self.identity}"
