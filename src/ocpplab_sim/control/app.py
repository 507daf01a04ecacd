"""The control API: drive live simulated chargers over HTTP.

Every charger answers under ``/chargers/{identity}/`` with the endpoints of OCPPLab's simulator
control API (the ``ocpplab-simulator`` client on PyPI pointed at
``http://HOST:PORT/chargers/{identity}`` drives one charger): parameters in the query string,
``evse_id`` (2.0.1) or ``connector_id`` (1.6) naming the EVSE (either may be left out on a
charger with one EVSE). Every action is an event of the charger's protocol object, exactly as a
scenario step is, and answers once the central system answered every CALL it caused.

Fleet endpoints: ``GET /chargers`` (each charger with its live state per EVSE, a page at a
time: ``offset``, ``limit``, ``match`` on the identity),
``GET /chargers/{identity}`` (one), ``GET /chargers/{identity}/frames`` (its OCPP frames as
server-sent events: the last ones first, then live), ``GET /chargers/{identity}/frames/recent``,
``POST /chargers/{identity}/disconnect`` / ``reconnect`` (go offline and back). The web
console is at ``/``; the OpenAPI document at ``/openapi.json``.

Answers: 404 unknown charger or EVSE; 409 an action the charger's state does not allow, with
the reason (unplug what is not plugged); 422 a bad parameter (FastAPI's validation shape);
429 too many live streams; 502 the central system answered with a CALLERROR; 503 the charger
is offline; 504 the central system did not answer in time. Nothing a client sends can stop a
charger or the fleet: an unexpected failure is a 500 for that request alone.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from importlib import resources
from typing import Annotated, Any, Literal

from fastapi import Depends, FastAPI, HTTPException, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, StreamingResponse
from pydantic import BaseModel, Field

from ocpplab_sim.control.hub import ChargerRegistry, Subscription, frame_json
from ocpplab_sim.errors import ChargePointError, CsmsUnreachable, OcppCallError, OcppCallTimeout
from ocpplab_sim.fleet import SimulatedChargePoint
from ocpplab_sim.protocol.settings import SETTINGS, by_key16, by_variable
from ocpplab_sim.station.auth import AuthEntry

__all__ = ["control_app"]

log = logging.getLogger("ocpplab_sim.control")

_MAX_TOKEN = 255  # longer id tags are refused (1.6 allows 20, 2.0.1 36: the adapter trims)
_KEEPALIVE_S = 15.0
_MAX_HISTORY = 500

#: control API fault types → the 1.6 ChargePointErrorCode reported (2.0.1: NotifyEvent techCode)
FAULT_CODES = {
    "GroundFault": "GroundFailure",
    "OverCurrent": "OverCurrentFailure",
    "OverVoltage": "OverVoltage",
    "UnderVoltage": "UnderVoltage",
    "OverTemperature": "HighTemperature",
    "InternalError": "InternalError",
    "ConnectorLockFailure": "ConnectorLockFailure",
    "EVCommunicationError": "EVCommunicationError",
    "PowerMeterFailure": "PowerMeterFailure",
    "WeakSignal": "WeakSignal",
}
FaultType = Literal[
    "GroundFault",
    "OverCurrent",
    "OverVoltage",
    "UnderVoltage",
    "OverTemperature",
    "InternalError",
    "ConnectorLockFailure",
    "EVCommunicationError",
    "PowerMeterFailure",
    "WeakSignal",
]


# -- answers ------------------------------------------------------------------------------------


class Problem(BaseModel):
    """Why a request was refused."""

    detail: str


_PROBLEMS: dict[int | str, dict[str, Any]] = {
    code: {"model": Problem, "description": text}
    for code, text in (
        (404, "no such charger, EVSE, transaction or entry"),
        (409, "the charger's state does not allow it (the reason is given)"),
        (502, "the central system answered with a CALLERROR"),
        (503, "the charger is offline"),
        (504, "the central system did not answer in time"),
    )
}


class EvseState(BaseModel):
    """One EVSE as the charger sees it now."""

    evse_id: int
    connector_id: int = Field(description="1.6: the connector id (= EVSE); 2.0.1: always 1")
    status: str = Field(description="1.6 ChargePointStatus vocabulary, for both versions")
    plugged: bool
    faulted: bool
    error_code: str | None
    transaction_id: str | None = Field(
        description="as the central system knows it (1.6: its integer; None until it came)"
    )
    energy_wh: float
    power_w: float
    soc: float | None
    ev_wants_energy: bool
    ev_max_power_w: float | None
    power_limit_w: float | None


class ChargerState(BaseModel):
    identity: str
    ocpp_version: str
    csms_url: str
    connected: bool
    registered: bool = Field(description="BootNotification accepted on this connection")
    queued_transaction_messages: int
    calls_answered: int
    reconnects: int
    evses: list[EvseState]


class ChargerList(BaseModel):
    total: int
    offset: int
    chargers: list[ChargerState]


class ActionResult(BaseModel):
    """What an action did: ``status`` carries an answer (an authorization status, a
    configuration change's), ``evse`` the EVSE's state afterwards."""

    identity: str
    action: str
    status: str = "Accepted"
    evse: EvseState | None = None


class ConfigurationEntry(BaseModel):
    key: str = Field(description="1.6 key, or 2.0.1 Component.Variable")
    value: str
    readonly: bool


class AuthListEntry(BaseModel):
    id_tag: str
    status: str
    expiry_date: str | None = None


class AuthList(BaseModel):
    version: int
    entries: list[AuthListEntry]


class FaultStatus(BaseModel):
    evse_id: int
    faulted: bool
    error_code: str | None


class Health(BaseModel):
    status: Literal["ok", "degraded"]
    identity: str
    ocpp_version: str
    connected: bool
    registered: bool


class Frame(BaseModel):
    at: float = Field(description="epoch seconds")
    direction: Literal["out", "in"] = Field(description="out: charger → central system")
    identity: str
    message: list[Any] = Field(description="the OCPP-J array")
    note: str | None = None


# -- helpers -------------------------------------------------------------------------------------

Evse = Annotated[int | None, Query(ge=0, le=1000, description="EVSE identifier")]
Connector = Annotated[int | None, Query(ge=0, le=1000, description="connector identifier")]
IdTag = Annotated[str, Query(min_length=1, max_length=_MAX_TOKEN)]


def _invalid(field: str, message: str, where: str = "query") -> RequestValidationError:
    """A 422 in FastAPI's validation shape (what the simulator client parses)."""
    return RequestValidationError(
        [{"type": "value_error", "loc": [where, field], "msg": message, "input": None}]
    )


def _iso(epoch: float | None) -> str | None:
    if epoch is None:
        return None
    return datetime.fromtimestamp(epoch, UTC).isoformat().replace("+00:00", "Z")


def _epoch(text: str | None) -> float | None:
    if text is None:
        return None
    try:
        stamp = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise _invalid("expiry_date", f"{text!r} is not an ISO 8601 date-time") from None
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=UTC)
    return stamp.timestamp()


def evse_state(cp: SimulatedChargePoint, number: int, now: float) -> EvseState:
    station = cp.station
    evse = station.evse(number)
    wire_id = cp.transaction_id(number)
    soc = station.soc_pct(number)
    return EvseState(
        evse_id=number,
        connector_id=number if cp.config.ocpp_version == "1.6" else 1,
        status=evse.status.value,
        plugged=evse.plugged,
        faulted=evse.faulted,
        error_code=evse.error_code,
        transaction_id=None if wire_id is None else str(wire_id),
        energy_wh=round(evse.meter.energy_at(now), 3),
        power_w=round(evse.meter.power_w, 3),
        soc=None if soc is None else round(soc, 2),
        ev_wants_energy=evse.ev_wants_energy,
        ev_max_power_w=evse.ev_max_power_w,
        power_limit_w=evse.power_limit_w,
    )


def charger_state(cp: SimulatedChargePoint, now: float) -> ChargerState:
    proto = cp.protocol
    return ChargerState(
        identity=cp.identity,
        ocpp_version=cp.config.ocpp_version,
        csms_url=cp.config.url,
        connected=cp.connected,
        registered=proto.registered,
        queued_transaction_messages=proto.queued,
        calls_answered=cp.calls_answered,
        reconnects=cp.reconnects,
        evses=[evse_state(cp, n, now) for n in cp.station.evse_numbers],
    )


def _resolve(cp: SimulatedChargePoint, evse_id: int | None, connector_id: int | None) -> int:
    """The EVSE a request names: ``evse_id``, else ``connector_id`` (1.6's name for it);
    neither is needed on a charger with one EVSE."""
    numbers = cp.station.evse_numbers
    if evse_id is not None and connector_id is not None and cp.config.ocpp_version == "2.0.1":
        if connector_id != 1:
            raise HTTPException(404, f"EVSE {evse_id} has one connector (1), not {connector_id}")
        connector_id = None
    number = evse_id if evse_id is not None else connector_id
    if number is None:
        if len(numbers) == 1:
            return numbers[0]
        raise _invalid(
            "evse_id", f"{cp.identity} has {len(numbers)} EVSEs: give evse_id (or connector_id)"
        )
    if number not in numbers:
        raise HTTPException(404, f"{cp.identity} has no EVSE {number} (it has 1..{len(numbers)})")
    return number


async def _perform(work: Awaitable[Any]) -> Any:
    """Await a charger action, turning its failures into HTTP answers."""
    try:
        return await work
    except OcppCallTimeout as exc:
        raise HTTPException(504, str(exc)) from None
    except OcppCallError as exc:
        raise HTTPException(502, str(exc)) from None
    except CsmsUnreachable as exc:
        raise HTTPException(503, str(exc)) from None
    except ChargePointError as exc:
        raise HTTPException(409, str(exc)) from None
    except ValueError as exc:
        raise _invalid("value", str(exc)) from None


def _setting_entries(cp: SimulatedChargePoint) -> list[ConfigurationEntry]:
    v16 = cp.config.ocpp_version == "1.6"
    out = []
    for setting in SETTINGS:
        key = setting.key16 if v16 else None
        if key is None and not v16 and setting.component and setting.variable:
            key = f"{setting.component}.{setting.variable}"
        if key is None:
            continue
        out.append(
            ConfigurationEntry(
                key=key,
                value=setting.read(cp.settings),
                readonly=setting.readonly or setting.attr is None,
            )
        )
    return out


def _charger(
    request: Request,
    identity: Annotated[str, Path(max_length=200, description="the charger's identity")],
) -> SimulatedChargePoint:
    cp = request.app.state.registry.get(identity)
    if cp is None:
        raise HTTPException(404, f"no charger {identity!r} here")
    return cp  # type: ignore[no-any-return]


Charger = Annotated[SimulatedChargePoint, Depends(_charger)]


Act = Callable[[SimulatedChargePoint, int], Awaitable[None]]


def _demand(wants: bool) -> Act:
    return lambda cp, n: cp.set_ev_demand(n, wants)


def _offer(limit_w: float | None) -> Act:
    return lambda cp, n: cp.set_power_limit(n, limit_w)


def _faulted(faulted: bool, code: str) -> Act:
    return lambda cp, n: cp.set_fault(n, faulted, code)


# -- the application ------------------------------------------------------------------------


def control_app(registry: ChargerRegistry, *, clock: Callable[[], float] = time.time) -> FastAPI:
    """The control API over the chargers of ``registry`` (see the module docstring)."""
    app = FastAPI(
        title="ocpplab-sim control API",
        version="1",
        description=__doc__,
        docs_url="/docs",
        redoc_url=None,
        responses=_PROBLEMS,
    )

    app.state.registry = registry

    @app.exception_handler(Exception)
    async def internal(_request: Request, exc: Exception) -> JSONResponse:
        log.exception("control API: unexpected failure")
        return JSONResponse({"detail": f"internal error: {type(exc).__name__}"}, 500)

    def done(
        cp: SimulatedChargePoint, action: str, number: int | None, status: str = "Accepted"
    ) -> ActionResult:
        state = None if number is None else evse_state(cp, number, clock())
        return ActionResult(identity=cp.identity, action=action, status=status, evse=state)

    # -- fleet ---------------------------------------------------------------------------

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def console() -> HTMLResponse:
        page = resources.files("ocpplab_sim.control").joinpath("console.html")
        return HTMLResponse(page.read_text(encoding="utf-8"))

    @app.get("/health", tags=["fleet"])
    async def fleet_health() -> dict[str, Any]:
        points = list(registry)
        return {
            "status": "ok",
            "chargers": len(points),
            "connected": sum(cp.connected for cp in points),
        }

    @app.get("/chargers", tags=["fleet"])
    async def list_chargers(
        offset: Annotated[int, Query(ge=0)] = 0,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
        match: Annotated[str | None, Query(max_length=200)] = None,
    ) -> ChargerList:
        """The chargers (in the fleet's order) with their live state per EVSE; ``match``
        keeps those whose identity contains it (ignoring case), before the page is cut."""
        points = list(registry)
        if match:
            needle = match.casefold()
            points = [cp for cp in points if needle in cp.identity.casefold()]
        now = clock()
        page = [charger_state(cp, now) for cp in points[offset : offset + limit]]
        return ChargerList(total=len(points), offset=offset, chargers=page)

    @app.get("/chargers/{identity}", tags=["fleet"])
    async def one_charger(cp: Charger) -> ChargerState:
        return charger_state(cp, clock())

    @app.get("/chargers/{identity}/frames/recent", tags=["fleet"])
    async def recent_frames(
        cp: Charger, limit: Annotated[int, Query(ge=0, le=_MAX_HISTORY)] = 50
    ) -> list[Frame]:
        """The charger's last OCPP frames, oldest first."""
        return [Frame(**frame_json(r)) for r in registry.recent(cp.identity, limit)]

    @app.get(
        "/chargers/{identity}/frames",
        tags=["fleet"],
        response_class=StreamingResponse,
        responses={
            200: {"content": {"text/event-stream": {}}},
            429: {"model": Problem, "description": "too many live frame streams open"},
        },
    )
    async def frame_stream(
        cp: Charger, history: Annotated[int, Query(ge=0, le=_MAX_HISTORY)] = 50
    ) -> StreamingResponse:
        """Server-sent events: one ``frame`` event per OCPP frame (JSON as in
        ``frames/recent``), the last ``history`` first, then live; ``overflow`` when the
        reader fell too far behind (the stream then ends)."""
        subscription = registry.subscribe(cp.identity)
        if subscription is None:
            raise HTTPException(429, "too many live frame streams open")
        past = registry.recent(cp.identity, history)
        return StreamingResponse(
            _events(subscription, past),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )

    @app.post("/chargers/{identity}/disconnect", tags=["fleet"])
    async def disconnect(cp: Charger) -> ActionResult:
        """Go offline (network loss) until ``reconnect``."""
        await _perform(cp.disconnect())
        return done(cp, "disconnect", None)

    @app.post("/chargers/{identity}/reconnect", tags=["fleet"])
    async def reconnect(cp: Charger) -> ActionResult:
        """Come back online: queued transaction messages, then every status."""
        await _perform(cp.reconnect())
        return done(cp, "reconnect", None)

    # -- the simulator control API, per charger -------------------------------------------

    @app.get("/chargers/{identity}/health", tags=["system"])
    async def health(cp: Charger) -> Health:
        return Health(
            status="ok" if cp.protocol.registered else "degraded",
            identity=cp.identity,
            ocpp_version=cp.config.ocpp_version,
            connected=cp.connected,
            registered=cp.protocol.registered,
        )

    def _on_evse(
        action: str,
        tag: str,
        summary: str,
        act: Act,
    ) -> None:
        """A POST ``/chargers/{identity}/{action}`` that does ``act`` on the EVSE named."""

        async def endpoint(
            cp: Charger, evse_id: Evse = None, connector_id: Connector = None
        ) -> ActionResult:
            number = _resolve(cp, evse_id, connector_id)
            await _perform(act(cp, number))
            return done(cp, action, number)

        app.post(f"/chargers/{{identity}}/{action}", tags=[tag], summary=summary)(endpoint)

    _on_evse(
        "plug-connector",
        "connector",
        "Plug an EV cable in (1.6 Preparing, 2.0.1 Occupied)",
        lambda cp, n: cp.plug_in(n),
    )
    _on_evse(
        "unplug-connector",
        "connector",
        "Unplug the cable; a running transaction ends first (EVDisconnected)",
        lambda cp, n: cp.unplug(n),
    )

    @app.post("/chargers/{identity}/authorize-id-tag", tags=["id-tag"])
    async def authorize_id_tag(
        cp: Charger,
        id_tag: IdTag,
        connector_id: Connector = None,
        token_type: Annotated[str | None, Query(max_length=40)] = None,
    ) -> ActionResult:
        """Present a token (RFID tap or app): Authorize, or the local list / cache."""
        number = _resolve(cp, None, connector_id)
        status = await _perform(cp.authorize(number, id_tag))
        return done(cp, "authorize-id-tag", number, str(status))

    async def _start(
        cp: SimulatedChargePoint,
        action: str,
        id_tag: str,
        evse_id: int | None,
        connector_id: int | None,
    ) -> ActionResult:
        number = _resolve(cp, evse_id, connector_id)
        await _perform(cp.start_charging(number, id_tag))
        return done(cp, action, number)

    @app.post("/chargers/{identity}/authorize-and-start", tags=["transaction"])
    async def authorize_and_start(
        cp: Charger,
        id_tag: IdTag,
        evse_id: Evse = None,
        connector_id: Connector = None,
        token_type: Annotated[str | None, Query(max_length=40)] = None,
    ) -> ActionResult:
        """Plug in if needed, authorize ``id_tag`` and start a transaction (both versions)."""
        return await _start(cp, "authorize-and-start", id_tag, evse_id, connector_id)

    @app.post("/chargers/{identity}/start-transaction", tags=["transaction"])
    async def start_transaction(
        cp: Charger,
        id_tag: IdTag,
        evse_id: Evse = None,
        connector_id: Connector = None,
        token_type: Annotated[str | None, Query(max_length=40)] = None,
        request_id: Annotated[int | None, Query()] = None,
        charging_profile: Annotated[str | None, Query(max_length=10_000)] = None,
    ) -> ActionResult:
        """Start a transaction for ``id_tag`` on the spot, as ``authorize-and-start``
        (``request_id`` and ``charging_profile`` are accepted and not used: a remote start is
        the central system's to send)."""
        return await _start(cp, "start-transaction", id_tag, evse_id, connector_id)

    @app.post("/chargers/{identity}/stop-transaction", tags=["transaction"])
    async def stop_transaction(
        cp: Charger,
        transaction_id: Annotated[str | None, Query(max_length=100)] = None,
        connector_id: Connector = None,
        evse_id: Evse = None,
    ) -> ActionResult:
        """End a transaction (reason Local), named by its id or its EVSE / connector; the
        cable stays in."""
        if transaction_id is not None:
            adapter = cp.protocol.adapter
            number = next(
                (
                    n
                    for n in cp.station.evse_numbers
                    if (tx := cp.station.transaction(n)) is not None
                    and transaction_id in (tx.id, str(adapter.transaction_id_on_wire(tx.id)))
                ),
                None,
            )
            if number is None:
                raise HTTPException(404, f"{cp.identity}: no transaction {transaction_id!r}")
        else:
            number = _resolve(cp, evse_id, connector_id)
        await _perform(cp.stop_charging(number, "Local"))
        return done(cp, "stop-transaction", number)

    for action, wants, summary in (
        ("ev-requests-energy", True, "The EV requests energy (Charging)"),
        ("ev-stops-energy", False, "The EV stops requesting energy (SuspendedEV)"),
        ("resume-ev", True, "The EV resumes (Charging)"),
        ("suspend-ev", False, "The EV suspends (SuspendedEV)"),
    ):
        _on_evse(action, "car", summary, _demand(wants))
    for action, limit_w, summary in (
        ("suspend-evse", 0.0, "The EVSE stops offering energy (SuspendedEVSE)"),
        ("resume-evse", None, "The EVSE offers energy again"),
    ):
        _on_evse(action, "charging-control", summary, _offer(limit_w))

    @app.post("/chargers/{identity}/power-update", tags=["car"])
    async def power_update(
        cp: Charger,
        evse_id: Evse = None,
        connector_id: Connector = None,
        power_w: Annotated[int | None, Query(ge=0, le=10_000_000)] = None,
    ) -> ActionResult:
        """The plugged EV draws at most ``power_w`` from now on (the meter follows)."""
        if power_w is None:
            raise _invalid("power_w", "Field required")
        number = _resolve(cp, evse_id, connector_id)
        await _perform(cp.set_ev_power(number, power_w))
        return done(cp, "power-update", number)

    @app.post("/chargers/{identity}/update-soc", tags=["car"])
    async def update_soc(
        cp: Charger,
        evse_id: Evse = None,
        connector_id: Connector = None,
        soc: Annotated[int | None, Query(ge=0, le=100)] = None,
    ) -> ActionResult:
        """The plugged EV's state of charge, in %, from now on."""
        if soc is None:
            raise _invalid("soc", "Field required")
        number = _resolve(cp, evse_id, connector_id)
        await _perform(cp.set_soc(number, soc))
        return done(cp, "update-soc", number)

    @app.post("/chargers/{identity}/update-meter-values", tags=["car"])
    async def update_meter_values(
        cp: Charger,
        energy_wh: Annotated[int, Query(ge=0, le=10**12)],
        evse_id: Evse = None,
        connector_id: Connector = None,
    ) -> ActionResult:
        """Set the energy register of the running transaction (never lower) and send a meter
        sample now (1.6 MeterValues, 2.0.1 TransactionEvent Updated)."""
        number = _resolve(cp, evse_id, connector_id)
        await _perform(cp.set_energy(number, energy_wh))
        return done(cp, "update-meter-values", number)

    @app.get("/chargers/{identity}/ev-state", tags=["car"])
    async def ev_state(
        cp: Charger, evse_id: Evse = None, connector_id: Connector = None
    ) -> EvseState:
        """The EVSE and its EV now: status, power, energy, SoC, transaction."""
        return evse_state(cp, _resolve(cp, evse_id, connector_id), clock())

    @app.post("/chargers/{identity}/simulate-fault", tags=["fault-simulation"])
    async def simulate_fault(
        cp: Charger,
        fault_type: FaultType,
        evse_id: Evse = None,
        connector_id: Connector = None,
        info: Annotated[str | None, Query(max_length=500)] = None,
    ) -> ActionResult:
        """Fault the EVSE (Faulted; a running transaction ends), reported with the error code
        of ``fault_type`` (1.6 ChargePointErrorCode; 2.0.1 NotifyEvent techCode)."""
        number = _resolve(cp, evse_id, connector_id)
        await _perform(cp.set_fault(number, True, FAULT_CODES[fault_type]))
        return done(cp, "simulate-fault", number)

    for action, faulted, code, summary in (
        ("clear-fault", False, "NoError", "Clear the fault"),
        ("fault", True, "OtherError", "Fault the EVSE (OtherError)"),
        ("fault/clear", False, "NoError", "Clear the fault"),
    ):
        _on_evse(action, "fault-simulation", summary, _faulted(faulted, code))

    @app.get("/chargers/{identity}/fault-status", tags=["fault-simulation"])
    async def fault_status(
        cp: Charger, evse_id: Evse = None, connector_id: Connector = None
    ) -> FaultStatus:
        number = _resolve(cp, evse_id, connector_id)
        evse = cp.station.evse(number)
        return FaultStatus(evse_id=number, faulted=evse.faulted, error_code=evse.error_code)

    @app.get("/chargers/{identity}/configuration", tags=["configuration"])
    async def get_configuration(
        cp: Charger, key: Annotated[str | None, Query(max_length=200)] = None
    ) -> list[ConfigurationEntry]:
        """Every setting (1.6 keys, 2.0.1 ``Component.Variable``), or the one ``key``."""
        entries = _setting_entries(cp)
        if key is None:
            return entries
        component, _, variable = key.partition(".")
        setting = by_key16(key) or by_variable(component, variable)
        found = [e for e in entries if e.key == key]
        if setting is None or not found:
            raise HTTPException(404, f"{cp.identity}: unknown configuration key {key!r}")
        return found

    @app.post("/chargers/{identity}/configuration", tags=["configuration"])
    async def update_configuration(
        cp: Charger,
        key: Annotated[str, Query(min_length=1, max_length=200)],
        value: Annotated[str, Query(max_length=1000)],
    ) -> ActionResult:
        """Change a setting on the spot, as a ChangeConfiguration / SetVariables would:
        ``Rejected`` when unknown, read-only or not a valid value."""
        changed = await cp.set_configuration(key, value)
        return done(cp, "configuration", None, "Accepted" if changed else "Rejected")

    # -- local authorization ---------------------------------------------------------------

    def _auth_list(entries: dict[str, AuthEntry], version: int) -> AuthList:
        return AuthList(
            version=version,
            entries=[
                AuthListEntry(id_tag=tag, status=e.status, expiry_date=_iso(e.expires_at))
                for tag, e in sorted(entries.items())
            ],
        )

    @app.get("/chargers/{identity}/local-auth-list", tags=["local-auth-list"])
    async def get_local_auth_list(cp: Charger) -> AuthList:
        auth = cp.station.auth
        return _auth_list(auth.local_list, auth.list_version)

    @app.get("/chargers/{identity}/local-auth-list/version", tags=["local-auth-list"])
    async def get_local_auth_list_version(cp: Charger) -> dict[str, int]:
        return {"version": cp.station.auth.list_version}

    @app.post("/chargers/{identity}/local-auth-list", tags=["local-auth-list"])
    async def send_local_list(
        cp: Charger,
        list_version: Annotated[int, Query(ge=0, le=2**31 - 1)],
        update_type: Literal["Full", "Differential"] = "Full",
        id_tags: Annotated[list[str] | None, Query(max_length=1000)] = None,
    ) -> ActionResult:
        """Replace (Full) or extend (Differential) the local list with ``id_tags``, all
        Accepted, as a SendLocalList would; ``VersionMismatch`` / ``Failed`` as it would."""
        tags = [t for t in id_tags or [] if t]
        if any(len(t) > _MAX_TOKEN for t in tags):
            raise _invalid("id_tags", f"an id tag is longer than {_MAX_TOKEN} characters")
        entries: list[tuple[str, AuthEntry | None]] = [(t, AuthEntry("Accepted")) for t in tags]
        status = cp.station.auth.send_local_list(list_version, update_type, entries)
        return done(cp, "local-auth-list", None, status)

    @app.post("/chargers/{identity}/local-auth-list/entry", tags=["local-auth-list"])
    async def add_local_auth_list_entry(
        cp: Charger,
        id_tag: IdTag,
        status: Literal["Accepted", "Blocked", "Expired", "Invalid", "ConcurrentTx"] = "Accepted",
        expiry_date: Annotated[str | None, Query(max_length=40)] = None,
        parent_id_tag: Annotated[str | None, Query(max_length=_MAX_TOKEN)] = None,
    ) -> ActionResult:
        """Add or change one entry of the local list (its version stays)."""
        auth = cp.station.auth
        if id_tag not in auth.local_list and len(auth.local_list) >= auth.max_list_length:
            raise HTTPException(409, f"the local list is full ({auth.max_list_length} entries)")
        auth.local_list[id_tag] = AuthEntry(status, _epoch(expiry_date))
        return done(cp, "local-auth-list/entry", None)

    @app.delete("/chargers/{identity}/local-auth-list/entry", tags=["local-auth-list"])
    async def delete_local_auth_list_entry(cp: Charger, id_tag: IdTag) -> ActionResult:
        if cp.station.auth.local_list.pop(id_tag, None) is None:
            raise HTTPException(404, f"{id_tag!r} is not in the local list")
        return done(cp, "local-auth-list/entry", None)

    @app.get("/chargers/{identity}/cache", tags=["cache"])
    async def get_authorization_cache(cp: Charger) -> list[AuthListEntry]:
        cache = cp.station.auth.cache
        return _auth_list(cache, 0).entries

    @app.post("/chargers/{identity}/cache/reset", tags=["cache"])
    async def reset_authorization_cache(cp: Charger) -> ActionResult:
        """Empty the authorization cache, as a ClearCache would."""
        cp.station.auth.clear_cache()
        return done(cp, "cache/reset", None)

    # -- provisioning ----------------------------------------------------------------------

    @app.post("/chargers/{identity}/provisioning/reboot", tags=["provisioning"])
    async def reboot_charger(
        cp: Charger,
        reset_type: Annotated[
            str,
            Query(alias="type", max_length=20, description="1.6 Soft|Hard; 2.0.1 Immediate|OnIdle"),
        ],
        evse_id: Evse = None,
    ) -> ActionResult:
        """Reset on the spot (boot reason LocalReset); answers once the charger booted again
        (OnIdle with a transaction running: once the reset is scheduled)."""
        await _perform(cp.reset(reset_type, evse_id))
        return done(cp, "provisioning/reboot", None)

    @app.post("/chargers/{identity}/provisioning/trigger-message", tags=["provisioning"])
    async def trigger_message(
        cp: Charger,
        message: Annotated[str, Query(min_length=1, max_length=60)],
        connector_id: Connector = None,
        evse_id: Evse = None,
    ) -> ActionResult:
        """Send ``message`` now (a TriggerMessage name of the charger's version)."""
        number = evse_id if evse_id is not None else connector_id
        if number not in (None, 0):
            number = _resolve(cp, number, None)
        await _perform(cp.trigger(message, number))
        return done(cp, "provisioning/trigger-message", number or None)

    return app


async def _events(subscription: Subscription, past: list[Any]) -> AsyncIterator[bytes]:
    """The server-sent events of one frame stream (see ``frame_stream``)."""
    try:
        for record in past:
            yield _sse("frame", frame_json(record))
        while True:
            record = await subscription.next(_KEEPALIVE_S)
            if record is False:
                yield b": keep-alive\n\n"
                continue
            if record is None:
                if subscription.overflowed:
                    yield _sse("overflow", {"reason": "the reader fell behind"})
                return
            assert not isinstance(record, bool)
            yield _sse("frame", frame_json(record))
    finally:
        subscription.close()


def _sse(event: str, data: dict[str, Any]) -> bytes:
    text = json.dumps(data, separators=(",", ":"), default=str)
    return f"event: {event}\ndata: {text}\n\n".encode()
