"""Configuration of a simulated charge point and the record of one OCPP-J frame."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

__all__ = ["ChargePointConfig", "FrameRecord"]


@dataclass(frozen=True)
class FrameRecord:
    """One OCPP-J frame sent (``out``: charge point → central system) or received (``in``).

    ``at`` is the wall clock (``time.time()``) when the frame was sent or received; ``message``
    is the decoded OCPP-J array.
    """

    at: float
    direction: Literal["out", "in"]
    identity: str
    message: list[Any]


@dataclass(frozen=True)
class ChargePointConfig:
    """What a simulated charge point is.

    ``evse_count`` EVSEs are 1.6 connectorIds 1..n or 2.0.1 evseIds 1..n (each with connector 1).
    The websocket URL is ``{csms_url}/{identity}``. ``max_power_w`` is per EVSE;
    ``meter_interval_s`` is the initial MeterValueSampleInterval / TxUpdatedInterval.
    ``strict`` validates every frame in both directions against the official schemas.
    """

    identity: str
    ocpp_version: Literal["1.6", "2.0.1"]
    evse_count: int
    csms_url: str
    vendor: str = "ocpplab"
    model: str = "sim-ac"
    max_power_w: float = 22000.0
    meter_interval_s: float = 10.0
    seed: int = 0
    call_timeout_s: float = 30.0
    strict: bool = False

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

    @property
    def url(self) -> str:
        return f"{self.csms_url.rstrip('/')}/{self.identity}"
