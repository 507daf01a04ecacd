"""One settings model behind 1.6 configuration keys and 2.0.1 device-model variables.

OCPP 1.6 §9 (Standard Configuration Keys) and §5.3/§5.8 Change/GetConfiguration; OCPP 2.0.1
Part 2, B05-B07 (Set/GetVariables, GetBaseReport) and the Part 2 Appendix variables. Each
:class:`Setting` names the 1.6 key and the 2.0.1 (component, variable) of the same value, so a
ChangeConfiguration and a SetVariables write the same attribute of :class:`Settings`, which the
charge point reads when it acts (heartbeat timer, meter loop, authorization).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

__all__ = ["MEASURANDS", "SETTINGS", "Setting", "Settings", "by_key16", "by_variable"]

MEASURANDS = (
    "Energy.Active.Import.Register",
    "Power.Active.Import",
    "Current.Import",
    "Voltage",
    "SoC",
    "Power.Offered",
)
_DEFAULT_MEASURANDS = "Energy.Active.Import.Register,Power.Active.Import,Current.Import,Voltage"


@dataclass
class Settings:
    """Mutable configuration shared by the adapter and the charge point."""

    heartbeat_interval_s: float = 300.0
    meter_interval_s: float = 10.0
    authorize_remote_start: bool = False
    sampled_data: str = _DEFAULT_MEASURANDS
    local_auth_list_enabled: bool = True
    local_pre_authorize: bool = False
    local_authorize_offline: bool = True
    auth_cache_enabled: bool = True
    stop_tx_on_invalid_id: bool = True
    connection_timeout_s: float = 60.0
    firmware_version: str = "1.0.0"
    evse_count: int = 1
    #: how often a transaction message is sent before it is given up when the central system
    #: answers it with a CALLERROR or not at all (1.6 TransactionMessageAttempts; 2.0.1
    #: OCPPCommCtrlr.MessageAttemptsTransactionEvent). A lost connection is not an attempt.
    transaction_message_attempts: float = 3
    #: the wait before attempt n+1 is n times this (1.6 TransactionMessageRetryInterval; 2.0.1
    #: OCPPCommCtrlr.MessageAttemptIntervalTransactionEvent)
    transaction_message_retry_interval_s: float = 10.0

    @property
    def measurands(self) -> tuple[str, ...]:
        return tuple(m for m in self.sampled_data.split(",") if m)


Kind = Literal["integer", "boolean", "MemberList", "string"]


@dataclass(frozen=True, slots=True)
class Setting:
    """A value reachable as a 1.6 key and/or a 2.0.1 component variable.

    ``attr`` is the :class:`Settings` attribute (writable unless ``readonly``); without it the
    value is the constant ``fixed`` or computed by ``compute``.
    """

    key16: str | None
    component: str | None
    variable: str | None
    kind: Kind
    attr: str | None = None
    fixed: str = ""
    readonly: bool = False
    minimum: int = 1
    compute: Callable[[Settings], str] | None = None

    def read(self, settings: Settings) -> str:
        if self.compute is not None:
            return self.compute(settings)
        if self.attr is None:
            return self.fixed
        value = getattr(settings, self.attr)
        if isinstance(value, bool):
            return str(value).lower()
        if isinstance(value, float):
            return str(round(value))
        return str(value)

    def write(self, settings: Settings, text: str) -> bool:
        """Parse and store ``text``; False when it is not a valid value (nothing changes)."""
        if self.readonly or self.attr is None:
            return False
        if self.kind == "integer":
            try:
                number = int(text)
            except ValueError:
                return False
            if number < self.minimum:
                return False
            setattr(settings, self.attr, float(number))
        elif self.kind == "boolean":
            if text.lower() not in ("true", "false"):
                return False
            setattr(settings, self.attr, text.lower() == "true")
        elif self.kind == "MemberList":
            items = [m.strip() for m in text.split(",") if m.strip()]
            if not items or any(m not in MEASURANDS for m in items):
                return False
            setattr(settings, self.attr, ",".join(items))
        else:
            setattr(settings, self.attr, text)
        return True


SETTINGS: tuple[Setting, ...] = (
    Setting("HeartbeatInterval", "OCPPCommCtrlr", "HeartbeatInterval", "integer",
            "heartbeat_interval_s"),
    Setting("MeterValueSampleInterval", "SampledDataCtrlr", "TxUpdatedInterval", "integer",
            "meter_interval_s"),
    Setting("MeterValuesSampledData", "SampledDataCtrlr", "TxUpdatedMeasurands", "MemberList",
            "sampled_data"),
    Setting("AuthorizeRemoteTxRequests", "AuthCtrlr", "AuthorizeRemoteStart", "boolean",
            "authorize_remote_start"),
    Setting("LocalAuthListEnabled", "LocalAuthListCtrlr", "Enabled", "boolean",
            "local_auth_list_enabled"),
    Setting("LocalPreAuthorize", "AuthCtrlr", "LocalPreAuthorize", "boolean",
            "local_pre_authorize"),
    Setting("LocalAuthorizeOffline", "AuthCtrlr", "LocalAuthorizeOffline", "boolean",
            "local_authorize_offline"),
    Setting("AuthorizationCacheEnabled", "AuthCacheCtrlr", "Enabled", "boolean",
            "auth_cache_enabled"),
    Setting("StopTransactionOnInvalidId", "TxCtrlr", "StopTxOnInvalidId", "boolean",
            "stop_tx_on_invalid_id"),
    Setting("ConnectionTimeOut", "TxCtrlr", "EVConnectionTimeOut", "integer",
            "connection_timeout_s"),
    Setting("TransactionMessageAttempts", "OCPPCommCtrlr", "MessageAttemptsTransactionEvent",
            "integer", "transaction_message_attempts"),
    Setting("TransactionMessageRetryInterval", "OCPPCommCtrlr",
            "MessageAttemptIntervalTransactionEvent", "integer",
            "transaction_message_retry_interval_s", minimum=0),
    Setting("StopTransactionOnEVSideDisconnect", "TxCtrlr", "StopTxOnEVSideDisconnect",
            "boolean", fixed="true", readonly=True),
    Setting("NumberOfConnectors", None, None, "integer", readonly=True,
            compute=lambda s: str(s.evse_count)),
    Setting("SupportedFeatureProfiles", None, None, "string", readonly=True,
            fixed="Core,FirmwareManagement,LocalAuthListManagement,Reservation,"
                  "SmartCharging,RemoteTrigger"),
    Setting("LocalAuthListMaxLength", "LocalAuthListCtrlr", "Entries", "integer",
            fixed="1000", readonly=True),
    Setting("SendLocalListMaxLength", "LocalAuthListCtrlr", "ItemsPerMessage", "integer",
            fixed="1000", readonly=True),
    Setting("ChargeProfileMaxStackLevel", "SmartChargingCtrlr", "ProfileStackLevel", "integer",
            fixed="10", readonly=True),
    Setting("ChargingScheduleAllowedChargingRateUnit", "SmartChargingCtrlr", "RateUnit",
            "MemberList", fixed="Current,Power", readonly=True),
    Setting("ReserveConnectorZeroSupported", "ReservationCtrlr", "NonEvseSpecific", "boolean",
            fixed="true", readonly=True),
    Setting(None, "TxCtrlr", "TxStartPoint", "MemberList", fixed="PowerPathClosed",
            readonly=True),
    Setting(None, "TxCtrlr", "TxStopPoint", "MemberList", fixed="PowerPathClosed",
            readonly=True),
    Setting(None, "ReservationCtrlr", "Enabled", "boolean", fixed="true", readonly=True),
    Setting(None, "SmartChargingCtrlr", "Enabled", "boolean", fixed="true", readonly=True),
    Setting(None, "ChargingStation", "AvailabilityState", "string", readonly=True,
            fixed="Available"),
    Setting(None, "FirmwareCtrlr", "FirmwareVersion", "string", attr="firmware_version",
            readonly=True),
)  # fmt: skip


def by_key16(key: str) -> Setting | None:
    for setting in SETTINGS:
        if setting.key16 == key:
            return setting
    return None


def by_variable(component: str, variable: str) -> Setting | None:
    for setting in SETTINGS:
        if (setting.component, setting.variable) == (component, variable):
            return setting
    return None
