"""Version adapters: every payload they produce matches the official schemas (checked with
jsonschema, independently of the fastjsonschema validators in ``protocol.schemas``)."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from ocpplab_sim.protocol import (
    Adapter,
    AvailabilityChange,
    CallErrorReply,
    Deauthorize,
    OutgoingCall,
    RemoteStart,
    RemoteStop,
    ResetRequested,
    SchemaViolation,
    Settings,
    SettingsChanged,
    TriggerRequested,
    V16Adapter,
    V201Adapter,
    validate,
)
from ocpplab_sim.station import Intent, Station, StopReason
from tests.chargepoint.conftest import assert_valid

T0 = 1_700_000_000.0


def make(version: str, evses: int = 2) -> tuple[Station, Adapter]:
    counter = itertools.count(1)
    station = Station(evses, id_factory=lambda: f"00000000-0000-4000-8000-{next(counter):012d}")
    cls = V16Adapter if version == "1.6" else V201Adapter
    return station, cls(station, Settings())


def session_intents(station: Station) -> list[Intent]:
    out: list[Intent] = []
    out += station.boot(T0)
    out += station.plug_in(1, T0 + 1)
    out += station.start_transaction(1, "TAG-1", T0 + 2)
    out += station.tick(T0 + 12)
    out += station.set_ev_demand(1, False, T0 + 20)
    out += station.set_ev_demand(1, True, T0 + 30)
    out += station.tick(T0 + 40)
    out += station.stop_transaction(1, StopReason.LOCAL, T0 + 50)
    out += station.plug_in(2, T0 + 60)
    out += station.start_transaction(2, "TAG-2", T0 + 61, remote_start_id=7)
    out += station.set_fault(2, True, T0 + 70)
    out += station.unplug(1, T0 + 80)
    return out


def deliver(adapter: Adapter, intents: list[Intent]) -> list[OutgoingCall]:
    """Translate like the charge point does, answering 1.6 StartTransaction with an id."""
    calls = []
    tx_ids = itertools.count(500)
    for intent in intents:
        for call in adapter.translate(intent):
            calls.append(call)
            if call.action == "StartTransaction":
                response = {"transactionId": next(tx_ids), "idTagInfo": {"status": "Accepted"}}
                assert_valid("1.6", "StartTransaction", "response", response)
                assert adapter.on_result(call, response) == []
    return calls


@pytest.mark.parametrize("version", ["1.6", "2.0.1"])
def test_every_outgoing_payload_matches_the_official_schema(version: str) -> None:
    station, adapter = make(version)
    calls = [
        adapter.boot_notification("ocpplab", "sim-ac"),
        adapter.heartbeat(),
        adapter.authorize("TAG-1"),
        *deliver(adapter, session_intents(station)),
    ]
    for call in calls:
        assert_valid(version, call.action, "request", call.payload)
        validate(version, call.action, "request", call.payload)  # the fast validator agrees
    actions = {c.action for c in calls}
    expected = (
        {"StatusNotification", "StartTransaction", "MeterValues", "StopTransaction"}
        if version == "1.6"
        else {"StatusNotification", "TransactionEvent"}
    )
    assert expected <= actions


def test_v16_transaction_messages() -> None:
    station, adapter = make("1.6")
    calls = deliver(adapter, session_intents(station))
    by_action = {a: [c.payload for c in calls if c.action == a] for a in {c.action for c in calls}}
    starts, stops = by_action["StartTransaction"], by_action["StopTransaction"]
    assert [s["connectorId"] for s in starts] == [1, 2]
    assert [s["transactionId"] for s in stops] == [500, 501]
    assert stops[0]["reason"] == "Local" and stops[1]["reason"] == "Other"  # fault
    assert stops[0]["meterStop"] >= starts[0]["meterStart"]
    assert {m["transactionId"] for m in by_action["MeterValues"]} == {500}
    statuses = [(s["connectorId"], s["status"]) for s in by_action["StatusNotification"]]
    assert statuses[:3] == [(0, "Available"), (1, "Available"), (2, "Available")]
    assert (1, "SuspendedEV") in statuses and (1, "Finishing") in statuses
    faulted = [s for s in by_action["StatusNotification"] if s["status"] == "Faulted"]
    assert faulted[0]["errorCode"] == "OtherError"


def test_v201_transaction_events_have_seqno_triggers_and_states() -> None:
    station, adapter = make("2.0.1")
    calls = deliver(adapter, session_intents(station))
    events = [c.payload for c in calls if c.action == "TransactionEvent"]
    first = [e for e in events if e["evse"]["id"] == 1]
    assert [e["seqNo"] for e in first] == list(range(len(first)))
    assert [(e["eventType"], e["triggerReason"]) for e in first] == [
        ("Started", "Authorized"),
        ("Updated", "ChargingStateChanged"),
        ("Updated", "MeterValuePeriodic"),
        ("Updated", "ChargingStateChanged"),
        ("Updated", "ChargingStateChanged"),
        ("Updated", "MeterValuePeriodic"),
        ("Ended", "StopAuthorized"),
    ]
    assert [e["transactionInfo"].get("chargingState") for e in first] == [
        "EVConnected", "Charging", None, "SuspendedEV", "Charging", None, "EVConnected",
    ]  # fmt: skip
    assert first[-1]["transactionInfo"]["stoppedReason"] == "Local"
    second = [e for e in events if e["evse"]["id"] == 2]
    assert second[0]["triggerReason"] == "RemoteStart"
    assert second[0]["transactionInfo"]["remoteStartId"] == 7
    assert [e["seqNo"] for e in second] == list(range(len(second)))
    assert second[-1]["triggerReason"] == "AbnormalCondition"
    statuses = [c.payload for c in calls if c.action == "StatusNotification"]
    assert all(s["connectorId"] == 1 and s["evseId"] in (1, 2) for s in statuses)
    # Preparing/Charging/SuspendedEV/Finishing all fold into one Occupied notification.
    assert [s["connectorStatus"] for s in statuses if s["evseId"] == 1] == [
        "Available", "Occupied", "Available",
    ]  # fmt: skip


def test_v201_refused_token_in_transaction_event_answer_deauthorizes() -> None:
    station, adapter = make("2.0.1")
    station.plug_in(1, T0)
    intents = station.start_transaction(1, "TAG", T0)
    call = adapter.translate(intents[0])[0]
    response = {"idTokenInfo": {"status": "Blocked"}}
    assert_valid("2.0.1", "TransactionEvent", "response", response)
    tx = station.transaction(1)
    assert tx is not None
    assert adapter.on_result(call, response) == [Deauthorize(1, tx.id)]


def test_v16_refused_start_transaction_deauthorizes() -> None:
    station, adapter = make("1.6")
    station.plug_in(1, T0)
    call = adapter.translate(station.start_transaction(1, "TAG", T0)[0])[0]
    commands = adapter.on_result(call, {"transactionId": 9, "idTagInfo": {"status": "Invalid"}})
    assert [type(c) for c in commands] == [Deauthorize]


# -- incoming calls -----------------------------------------------------------------------

V16_REQUESTS: list[tuple[str, dict[str, Any], str, type | None]] = [
    ("RemoteStartTransaction", {"idTag": "RT", "connectorId": 2}, "Accepted", RemoteStart),
    ("RemoteStartTransaction", {"idTag": "RT", "connectorId": 9}, "Rejected", None),
    ("RemoteStopTransaction", {"transactionId": 500}, "Accepted", RemoteStop),
    ("RemoteStopTransaction", {"transactionId": 999}, "Rejected", None),
    ("Reset", {"type": "Soft"}, "Accepted", ResetRequested),
    ("ChangeAvailability", {"connectorId": 1, "type": "Inoperative"}, "Scheduled", AvailabilityChange),
    ("ChangeAvailability", {"connectorId": 0, "type": "Operative"}, "Accepted", AvailabilityChange),
    ("ChangeAvailability", {"connectorId": 5, "type": "Operative"}, "Rejected", None),
    ("ChangeConfiguration", {"key": "HeartbeatInterval", "value": "42"}, "Accepted", SettingsChanged),
    ("ChangeConfiguration", {"key": "HeartbeatInterval", "value": "x"}, "Rejected", None),
    ("ChangeConfiguration", {"key": "NumberOfConnectors", "value": "4"}, "Rejected", None),
    ("ChangeConfiguration", {"key": "NoSuchKey", "value": "1"}, "NotSupported", None),
    ("TriggerMessage", {"requestedMessage": "StatusNotification", "connectorId": 1}, "Accepted", TriggerRequested),
    ("TriggerMessage", {"requestedMessage": "FirmwareStatusNotification"}, "Accepted", TriggerRequested),
    ("DataTransfer", {"vendorId": "acme", "messageId": "x"}, "UnknownVendorId", None),
]  # fmt: skip

V201_REQUESTS: list[tuple[str, dict[str, Any], str, type | None]] = [
    ("RequestStartTransaction", {"idToken": {"idToken": "RT", "type": "Central"}, "remoteStartId": 3, "evseId": 2}, "Accepted", RemoteStart),
    ("RequestStartTransaction", {"idToken": {"idToken": "RT", "type": "Central"}, "remoteStartId": 4, "evseId": 1}, "Rejected", None),
    ("RequestStopTransaction", {"transactionId": "00000000-0000-4000-8000-000000000001"}, "Accepted", RemoteStop),
    ("RequestStopTransaction", {"transactionId": "nope"}, "Rejected", None),
    ("Reset", {"type": "OnIdle"}, "Scheduled", ResetRequested),
    ("Reset", {"type": "Immediate"}, "Accepted", ResetRequested),
    ("Reset", {"type": "Immediate", "evseId": 1}, "Accepted", ResetRequested),
    ("Reset", {"type": "OnIdle", "evseId": 1}, "Scheduled", ResetRequested),
    ("Reset", {"type": "OnIdle", "evseId": 2}, "Accepted", ResetRequested),
    ("Reset", {"type": "Immediate", "evseId": 9}, "Rejected", None),
    ("ChangeAvailability", {"operationalStatus": "Inoperative", "evse": {"id": 2}}, "Accepted", AvailabilityChange),
    ("ChangeAvailability", {"operationalStatus": "Inoperative"}, "Scheduled", AvailabilityChange),
    ("TriggerMessage", {"requestedMessage": "TransactionEvent", "evse": {"id": 1}}, "Accepted", TriggerRequested),
    ("TriggerMessage", {"requestedMessage": "LogStatusNotification"}, "Accepted", TriggerRequested),
    ("TriggerMessage", {"requestedMessage": "SignV2GCertificate"}, "NotImplemented", None),
    ("DataTransfer", {"vendorId": "acme"}, "UnknownVendorId", None),
]  # fmt: skip


def busy_station(version: str) -> tuple[Station, Adapter]:
    station, adapter = make(version)
    station.plug_in(1, T0)
    call = adapter.translate(station.start_transaction(1, "TAG", T0)[0])[0]
    if version == "1.6":
        adapter.on_result(call, {"transactionId": 500, "idTagInfo": {"status": "Accepted"}})
    return station, adapter


@pytest.mark.parametrize(
    ("version", "action", "request_payload", "status", "command"),
    [("1.6", *r) for r in V16_REQUESTS] + [("2.0.1", *r) for r in V201_REQUESTS],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_incoming_calls_are_answered_validly(
    version: str, action: str, request_payload: dict[str, Any], status: str, command: type | None
) -> None:
    _station, adapter = busy_station(version)
    assert_valid(version, action, "request", request_payload)
    result = adapter.handle(action, request_payload)
    assert_valid(version, action, "response", result.payload)
    assert result.payload["status"] == status
    assert [type(c) for c in result.commands] == ([command] if command else [])


def test_v16_get_configuration() -> None:
    _station, adapter = make("1.6")
    result = adapter.handle("GetConfiguration", {"key": ["HeartbeatInterval", "Bogus"]})
    assert_valid("1.6", "GetConfiguration", "response", result.payload)
    assert result.payload == {
        "configurationKey": [{"key": "HeartbeatInterval", "readonly": False, "value": "300"}],
        "unknownKey": ["Bogus"],
    }
    everything = adapter.handle("GetConfiguration", {}).payload
    assert_valid("1.6", "GetConfiguration", "response", everything)
    assert len(everything["configurationKey"]) >= 5


def test_v16_change_configuration_changes_settings() -> None:
    _station, adapter = make("1.6")
    adapter.handle("ChangeConfiguration", {"key": "MeterValueSampleInterval", "value": "5"})
    assert adapter.settings.meter_interval_s == 5.0


def test_v201_get_and_set_variables() -> None:
    _station, adapter = make("2.0.1")
    hb = {"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "HeartbeatInterval"}}
    request = {
        "setVariableData": [
            {**hb, "attributeValue": "15"},
            {"component": {"name": "TxCtrlr"}, "variable": {"name": "TxStartPoint"}, "attributeValue": "x"},
            {"component": {"name": "Nope"}, "variable": {"name": "X"}, "attributeValue": "1"},
        ]
    }  # fmt: skip
    assert_valid("2.0.1", "SetVariables", "request", request)
    result = adapter.handle("SetVariables", request)
    assert_valid("2.0.1", "SetVariables", "response", result.payload)
    assert [r["attributeStatus"] for r in result.payload["setVariableResult"]] == [
        "Accepted", "Rejected", "UnknownComponent",
    ]  # fmt: skip
    assert result.commands == (SettingsChanged(("HeartbeatInterval",)),)
    get = {
        "getVariableData": [
            hb,
            {"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "Nope"}},
            {**hb, "attributeType": "Target"},
        ]
    }
    assert_valid("2.0.1", "GetVariables", "request", get)
    answer = adapter.handle("GetVariables", get).payload
    assert_valid("2.0.1", "GetVariables", "response", answer)
    results = answer["getVariableResult"]
    assert results[0]["attributeValue"] == "15"
    assert [r["attributeStatus"] for r in results] == [
        "Accepted", "UnknownVariable", "NotSupportedAttributeType",
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("version", "action", "code"),
    [
        ("1.6", "CertificateSigned", "NotSupported"),
        ("1.6", "RequestStartTransaction", "NotImplemented"),
        ("2.0.1", "CustomerInformation", "NotSupported"),
        ("2.0.1", "RemoteStartTransaction", "NotImplemented"),
        ("2.0.1", "__class__", "NotImplemented"),
    ],
)
def test_unsupported_and_unknown_actions(version: str, action: str, code: str) -> None:
    _station, adapter = make(version)
    with pytest.raises(CallErrorReply) as info:
        adapter.handle(action, {})
    assert info.value.code == code


@pytest.mark.parametrize("version", ["1.6", "2.0.1"])
def test_fast_validator_rejects_bad_payloads(version: str) -> None:
    payload = {"connectorId": "one", "status": "Dancing"}
    with pytest.raises(SchemaViolation) as info:
        validate(version, "StatusNotification", "request", payload)
    assert info.value.code == ("FormationViolation" if version == "1.6" else "FormatViolation")
    with pytest.raises(SchemaViolation, match="no such action"):
        validate(version, "Teleport", "request", {})


def test_the_independent_checker_can_fail() -> None:
    with pytest.raises(Exception, match="required property"):
        assert_valid("1.6", "StatusNotification", "request", {"connectorId": 1})


def test_iso_is_datetime_isoformat_to_the_millisecond() -> None:
    """The per-second cache of ``iso`` changes nothing: the same text as datetime's, rounding of
    microseconds (half to even) and second boundaries included."""
    import random
    from datetime import UTC, datetime

    from ocpplab_sim.protocol.adapter import iso

    def reference(t: float) -> str:
        return datetime.fromtimestamp(t, UTC).isoformat(timespec="milliseconds")[:-6] + "Z"

    rng = random.Random(7)
    edges = [0.0, 1.9999995, 1.9999994, 1.0000005, 1700000000.9999996, -0.5, -1.0000004]
    samples = [rng.uniform(-1e9, 4e9) for _ in range(20_000)]
    near = [round(rng.uniform(0, 2e9), 6) + rng.choice((5e-7, -5e-7)) for _ in range(20_000)]
    for t in [*edges, *samples, *near, *sorted(samples)]:
        assert iso(t) == reference(t), t
