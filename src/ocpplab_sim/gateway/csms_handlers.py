"""OCPP 1.6J and 2.0.1 central-system handlers, one method per spec action.

Each handler is registered with the ``ocpp`` library's ``@on(Action...)`` (the library validates
the request and the response against the official JSON schemas), records what happened through
:class:`~.station_store.StationStore` and answers. Responses are deliberately permissive (every
idTag/idToken is Accepted): the gateway is a reference platform, not an authorisation policy.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar, cast

from ocpp import v16, v201
from ocpp.routing import on as _ocpp_on
from ocpp.v16 import call_result as result16
from ocpp.v16 import datatypes as types16
from ocpp.v16.enums import Action as Action16
from ocpp.v201 import call_result as result201
from ocpp.v201 import datatypes as types201
from ocpp.v201.enums import Action as Action201

from .context import GatewayContext
from .csms_base import CentralSystemMixin, WebSocketConnection
from .station_store import Station, parse_ocpp_time

__all__ = ["CentralSystem16", "CentralSystem201", "central_system_for"]

_F = TypeVar("_F", bound=Callable[..., Any])

# The DataTransfer answer for vendors the gateway has no extension for (OCPP 1.6 §4.3,
# 2.0.1 P02): it knows none.
_UNKNOWN_VENDOR = "UnknownVendorId"


def on(action: str) -> Callable[[_F], _F]:
    """``ocpp.routing.on`` with a type mypy can see; validation stays on."""
    return cast(Callable[[_F], _F], _ocpp_on(action))


class CentralSystem16(CentralSystemMixin, v16.ChargePoint):  # type: ignore[misc]
    """OCPP 1.6J central system for one charge point (sections refer to OCPP 1.6 edition 2)."""

    @on(Action16.boot_notification)
    async def on_boot_notification(
        self, charge_point_vendor: str, charge_point_model: str, **kwargs: Any
    ) -> result16.BootNotification:
        """§4.2 Boot Notification: always Accepted, with the gateway's heartbeat interval."""
        await self.store.booted(self.station, kwargs.get("firmware_version"))
        return result16.BootNotification(
            current_time=self.now_text(), interval=self.heartbeat_interval, status="Accepted"
        )

    @on(Action16.heartbeat)
    async def on_heartbeat(self) -> result16.Heartbeat:
        """§4.6 Heartbeat: record liveness, return the central system's time."""
        await self.store.heartbeat(self.station)
        return result16.Heartbeat(current_time=self.now_text())

    @on(Action16.status_notification)
    async def on_status_notification(
        self, connector_id: int, error_code: str, status: str, **kwargs: Any
    ) -> result16.StatusNotification:
        """§4.9 Status Notification: connectorId n ≥ 1 is EVSE n; 0 is the whole station."""
        await self.store.status(self.station, connector_id, status)
        return result16.StatusNotification()

    @on(Action16.authorize)
    async def on_authorize(self, id_tag: str) -> result16.Authorize:
        """§4.1 Authorize: every idTag is Accepted."""
        return result16.Authorize(id_tag_info=types16.IdTagInfo(status="Accepted"))

    @on(Action16.start_transaction)
    async def on_start_transaction(
        self, connector_id: int, id_tag: str, meter_start: int, timestamp: str, **kwargs: Any
    ) -> result16.StartTransaction:
        """§4.8 Start Transaction: persist it and assign an integer transactionId."""
        transaction_id = await self.store.start_transaction_16(
            self.station, connector_id, id_tag, float(meter_start), parse_ocpp_time(timestamp)
        )
        return result16.StartTransaction(
            transaction_id=transaction_id, id_tag_info=types16.IdTagInfo(status="Accepted")
        )

    @on(Action16.stop_transaction)
    async def on_stop_transaction(
        self, meter_stop: int, timestamp: str, transaction_id: int, **kwargs: Any
    ) -> result16.StopTransaction:
        """§4.10 Stop Transaction: close it with the final meter reading and transactionData."""
        await self.store.stop_transaction_16(
            self.station,
            transaction_id,
            float(meter_stop),
            parse_ocpp_time(timestamp),
            kwargs.get("reason"),
            kwargs.get("transaction_data") or [],
        )
        id_tag = kwargs.get("id_tag")
        if id_tag is None:
            return result16.StopTransaction()
        return result16.StopTransaction(id_tag_info=types16.IdTagInfo(status="Accepted"))

    @on(Action16.meter_values)
    async def on_meter_values(
        self, connector_id: int, meter_value: list[dict[str, Any]], **kwargs: Any
    ) -> result16.MeterValues:
        """§4.7 Meter Values: store the samples (linked to the transaction when given)."""
        transaction_id = kwargs.get("transaction_id")
        await self.store.meter_values(
            self.station,
            connector_id,
            None if transaction_id is None else str(transaction_id),
            meter_value,
        )
        return result16.MeterValues()

    @on(Action16.data_transfer)
    async def on_data_transfer(self, vendor_id: str, **kwargs: Any) -> result16.DataTransfer:
        """§4.3 Data Transfer: the gateway implements no vendor extension."""
        return result16.DataTransfer(status=_UNKNOWN_VENDOR)

    @on(Action16.firmware_status_notification)
    async def on_firmware_status_notification(
        self, status: str
    ) -> result16.FirmwareStatusNotification:
        """§4.5 Firmware Status Notification: counted only."""
        return result16.FirmwareStatusNotification()

    @on(Action16.diagnostics_status_notification)
    async def on_diagnostics_status_notification(
        self, status: str
    ) -> result16.DiagnosticsStatusNotification:
        """§4.4 Diagnostics Status Notification: counted only."""
        return result16.DiagnosticsStatusNotification()

    @on(Action16.log_status_notification)
    async def on_log_status_notification(
        self, status: str, **kwargs: Any
    ) -> result16.LogStatusNotification:
        """Security whitepaper §4.6 (GetLog) status notification: counted only."""
        return result16.LogStatusNotification()

    @on(Action16.security_event_notification)
    async def on_security_event_notification(
        self, timestamp: str, **kwargs: Any
    ) -> result16.SecurityEventNotification:
        """Security whitepaper §2.4 Security Event Notification: counted only."""
        return result16.SecurityEventNotification()

    @on(Action16.sign_certificate)
    async def on_sign_certificate(self, csr: str, **kwargs: Any) -> result16.SignCertificate:
        """Security whitepaper §3.2 SignCertificate: the gateway runs no CA, so Rejected."""
        return result16.SignCertificate(status="Rejected")

    @on(Action16.signed_firmware_status_notification)
    async def on_signed_firmware_status_notification(
        self, status: str, **kwargs: Any
    ) -> result16.SignedFirmwareStatusNotification:
        """Security whitepaper §5.4 Signed Firmware Status Notification: counted only."""
        return result16.SignedFirmwareStatusNotification()


class CentralSystem201(CentralSystemMixin, v201.ChargePoint):  # type: ignore[misc]
    """OCPP 2.0.1 CSMS for one charging station (use cases refer to OCPP 2.0.1 Part 2)."""

    @on(Action201.boot_notification)
    async def on_boot_notification(
        self, charging_station: dict[str, Any], reason: str, **kwargs: Any
    ) -> result201.BootNotification:
        """B01 Cold Boot Charging Station: always Accepted, with the heartbeat interval."""
        await self.store.booted(self.station, charging_station.get("firmware_version"))
        return result201.BootNotification(
            current_time=self.now_text(), interval=self.heartbeat_interval, status="Accepted"
        )

    @on(Action201.heartbeat)
    async def on_heartbeat(self, **kwargs: Any) -> result201.Heartbeat:
        """G02 Heartbeat: record liveness, return the CSMS time."""
        await self.store.heartbeat(self.station)
        return result201.Heartbeat(current_time=self.now_text())

    @on(Action201.status_notification)
    async def on_status_notification(
        self, timestamp: str, connector_status: str, evse_id: int, connector_id: int, **kw: Any
    ) -> result201.StatusNotification:
        """G01 Status Notification: evseId n is EVSE n (one connector each); 0 is recorded."""
        await self.store.status(self.station, evse_id, connector_status)
        return result201.StatusNotification()

    @on(Action201.authorize)
    async def on_authorize(self, id_token: dict[str, Any], **kwargs: Any) -> result201.Authorize:
        """C01 EV Driver Authorization using RFID: every idToken is Accepted."""
        return result201.Authorize(id_token_info=types201.IdTokenInfoType(status="Accepted"))

    @on(Action201.transaction_event)
    async def on_transaction_event(
        self,
        event_type: str,
        timestamp: str,
        trigger_reason: str,
        seq_no: int,
        transaction_info: dict[str, Any],
        **kwargs: Any,
    ) -> result201.TransactionEvent:
        """E01-E07 TransactionEvent Started/Updated/Ended: persist the transaction and its
        meter values; an included idToken is Accepted."""
        evse = kwargs.get("evse") or {}
        id_token = kwargs.get("id_token")
        await self.store.transaction_event(
            self.station,
            event_type=event_type,
            transaction_id=str(transaction_info["transaction_id"]),
            number=evse.get("id"),
            id_token=None if id_token is None else str(id_token.get("id_token")),
            at=parse_ocpp_time(timestamp),
            stopped_reason=transaction_info.get("stopped_reason"),
            meter_values=kwargs.get("meter_value") or [],
        )
        if id_token is None:
            return result201.TransactionEvent()
        return result201.TransactionEvent(id_token_info=types201.IdTokenInfoType(status="Accepted"))

    @on(Action201.meter_values)
    async def on_meter_values(
        self, evse_id: int, meter_value: list[dict[str, Any]], **kwargs: Any
    ) -> result201.MeterValues:
        """J01 Sending Meter Values not related to a transaction: store the samples."""
        await self.store.meter_values(self.station, evse_id, None, meter_value)
        return result201.MeterValues()

    @on(Action201.notify_event)
    async def on_notify_event(
        self, generated_at: str, seq_no: int, event_data: list[dict[str, Any]], **kwargs: Any
    ) -> result201.NotifyEvent:
        """N07 Alert Event / N08 Periodic Event Notification: counted only."""
        return result201.NotifyEvent()

    @on(Action201.notify_report)
    async def on_notify_report(
        self, request_id: int, generated_at: str, seq_no: int, **kwargs: Any
    ) -> result201.NotifyReport:
        """B07 Get Base Report (the station's NotifyReport parts): counted only."""
        return result201.NotifyReport()

    @on(Action201.data_transfer)
    async def on_data_transfer(self, vendor_id: str, **kwargs: Any) -> result201.DataTransfer:
        """P02 Data Transfer to the CSMS: the gateway implements no vendor extension."""
        return result201.DataTransfer(status=_UNKNOWN_VENDOR)

    @on(Action201.firmware_status_notification)
    async def on_firmware_status_notification(
        self, status: str, **kwargs: Any
    ) -> result201.FirmwareStatusNotification:
        """L01 Secure Firmware Update (status notifications): counted only."""
        return result201.FirmwareStatusNotification()

    @on(Action201.security_event_notification)
    async def on_security_event_notification(
        self, timestamp: str, **kwargs: Any
    ) -> result201.SecurityEventNotification:
        """A04 Security Event Notification: counted only."""
        return result201.SecurityEventNotification()

    @on(Action201.log_status_notification)
    async def on_log_status_notification(
        self, status: str, **kwargs: Any
    ) -> result201.LogStatusNotification:
        """N01 Retrieve Log Information (status notifications): counted only."""
        return result201.LogStatusNotification()

    @on(Action201.publish_firmware_status_notification)
    async def on_publish_firmware_status_notification(
        self, status: str, **kwargs: Any
    ) -> result201.PublishFirmwareStatusNotification:
        """L03 Publish Firmware file on Local Controller (status): counted only."""
        return result201.PublishFirmwareStatusNotification()

    @on(Action201.notify_monitoring_report)
    async def on_notify_monitoring_report(
        self, request_id: int, seq_no: int, generated_at: str, **kwargs: Any
    ) -> result201.NotifyMonitoringReport:
        """N02 Get Monitoring report (the station's report parts): counted only."""
        return result201.NotifyMonitoringReport()

    @on(Action201.notify_customer_information)
    async def on_notify_customer_information(
        self, data: str, seq_no: int, generated_at: str, request_id: int, **kwargs: Any
    ) -> result201.NotifyCustomerInformation:
        """N09 Get Customer Information (the station's report parts): counted only."""
        return result201.NotifyCustomerInformation()

    @on(Action201.notify_display_messages)
    async def on_notify_display_messages(
        self, request_id: int, **kwargs: Any
    ) -> result201.NotifyDisplayMessages:
        """O04 Get Specific Display Messages (the station's report parts): counted only."""
        return result201.NotifyDisplayMessages()

    @on(Action201.notify_charging_limit)
    async def on_notify_charging_limit(
        self, charging_limit: dict[str, Any], **kwargs: Any
    ) -> result201.NotifyChargingLimit:
        """K12 Charging Limit set by an external system: counted only."""
        return result201.NotifyChargingLimit()

    @on(Action201.cleared_charging_limit)
    async def on_cleared_charging_limit(
        self, charging_limit_source: str, **kwargs: Any
    ) -> result201.ClearedChargingLimit:
        """K13 Reset / release external charging limit: counted only."""
        return result201.ClearedChargingLimit()

    @on(Action201.notify_ev_charging_needs)
    async def on_notify_ev_charging_needs(
        self, charging_needs: dict[str, Any], evse_id: int, **kwargs: Any
    ) -> result201.NotifyEVChargingNeeds:
        """K15 Charging with load leveling based on High Level Communication: the gateway
        computes no schedules, so Rejected."""
        return result201.NotifyEVChargingNeeds(status="Rejected")

    @on(Action201.notify_ev_charging_schedule)
    async def on_notify_ev_charging_schedule(
        self, time_base: str, charging_schedule: dict[str, Any], evse_id: int, **kwargs: Any
    ) -> result201.NotifyEVChargingSchedule:
        """K17 Renegotiating a Charging Schedule (EV's schedule): Accepted, counted."""
        return result201.NotifyEVChargingSchedule(status="Accepted")

    @on(Action201.report_charging_profiles)
    async def on_report_charging_profiles(
        self,
        request_id: int,
        charging_limit_source: str,
        charging_profile: list[dict[str, Any]],
        evse_id: int,
        **kwargs: Any,
    ) -> result201.ReportChargingProfiles:
        """K09 Get Charging Profiles (the station's report parts): counted only."""
        return result201.ReportChargingProfiles()

    @on(Action201.reservation_status_update)
    async def on_reservation_status_update(
        self, reservation_id: int, reservation_update_status: str, **kwargs: Any
    ) -> result201.ReservationStatusUpdate:
        """H02 Cancel Reservation / expiry (status update): counted only."""
        return result201.ReservationStatusUpdate()

    @on(Action201.sign_certificate)
    async def on_sign_certificate(self, csr: str, **kwargs: Any) -> result201.SignCertificate:
        """A02/A03 Update Charging Station Certificate: the gateway runs no CA, so Rejected."""
        return result201.SignCertificate(status="Rejected")

    @on(Action201.get_15118_ev_certificate)
    async def on_get_15118_ev_certificate(
        self, iso15118_schema_version: str, action: str, exi_request: str, **kwargs: Any
    ) -> result201.Get15118EVCertificate:
        """M02 Certificate installation EV: no contract certificate pool, so Failed."""
        return result201.Get15118EVCertificate(status="Failed", exi_response="")

    @on(Action201.get_certificate_status)
    async def on_get_certificate_status(
        self, ocsp_request_data: dict[str, Any], **kwargs: Any
    ) -> result201.GetCertificateStatus:
        """M06 Get V2G Charging Station Certificate status: no OCSP access, so Failed."""
        return result201.GetCertificateStatus(status="Failed")


def central_system_for(
    station: Station, connection: WebSocketConnection, ctx: GatewayContext
) -> CentralSystemMixin:
    """The central system matching the station's OCPP version."""
    cls: type[CentralSystemMixin] = (
        CentralSystem16 if station.ocpp_version == "1.6" else CentralSystem201
    )
    return cls(
        station,
        connection,
        ctx.stations,
        ctx.settings.heartbeat_interval,
        ctx.clock,
        max_depth=ctx.settings.ocpp_max_json_depth,
        max_digits=ctx.settings.ocpp_max_number_digits,
    )
