"""A small recording central system for integration tests: real websockets on 127.0.0.1:0 and
the ``ocpp`` library's ChargePoint classes with ``@on`` handlers for what the simulator sends."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import json
import socket
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any

import ocpp.messages
from ocpp.exceptions import GenericError
from ocpp.routing import on
from ocpp.v16 import ChargePoint as Cp16
from ocpp.v16 import call_result as r16
from ocpp.v201 import ChargePoint as Cp201
from ocpp.v201 import call_result as r201
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

# Validate inline instead of in a thread pool: no executor threads outlive a test's loop.
ocpp.messages.ASYNC_VALIDATION = False


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


@dataclass(frozen=True)
class Frame:
    identity: str
    direction: str  # "in" = received by the central system
    message: list[Any]


@dataclass
class Behaviour:
    """Knobs a test can turn."""

    heartbeat_interval: int = 1
    boot_statuses: list[str] = field(default_factory=list)  # consumed first, then Accepted
    refused_tokens: set[str] = field(default_factory=set)
    refuse_connections: bool = False
    error_on: set[str] = field(default_factory=set)  # answer these actions with a CALLERROR
    silent_s: float = 0.0  # answer Heartbeat/Authorize after this delay (to provoke timeouts)
    password: str | None = None  # require HTTP Basic auth identity:password (profile 1/2)


class _Recording:
    """Wraps the server connection so the CSMS records every raw frame both ways."""

    def __init__(self, ws: ServerConnection, identity: str, frames: list[Frame]) -> None:
        self._ws = ws
        self._identity = identity
        self._frames = frames

    async def recv(self) -> str | bytes:
        raw = await self._ws.recv()
        self._frames.append(Frame(self._identity, "in", json.loads(raw)))
        return raw

    async def send(self, raw: str) -> None:
        self._frames.append(Frame(self._identity, "out", json.loads(raw)))
        await self._ws.send(raw)


class _Common:
    csms: TestCsms

    def _boot_status(self) -> str:
        statuses = self.csms.behaviour.boot_statuses
        return statuses.pop(0) if statuses else "Accepted"

    def _token_status(self, token: str) -> str:
        if "Authorize" in self.csms.behaviour.error_on:
            raise GenericError(description="authorization backend down")
        return "Invalid" if token in self.csms.behaviour.refused_tokens else "Accepted"

    async def _maybe_slow(self) -> None:
        if self.csms.behaviour.silent_s:
            await asyncio.sleep(self.csms.behaviour.silent_s)


class Csms16(_Common, Cp16):
    @on("BootNotification")
    def on_boot(self, charge_point_vendor: str, charge_point_model: str, **_: Any) -> Any:
        status = self._boot_status()
        return r16.BootNotification(
            current_time=_now(), interval=self.csms.behaviour.heartbeat_interval, status=status
        )

    @on("Heartbeat")
    async def on_heartbeat(self) -> Any:
        await self._maybe_slow()
        return r16.Heartbeat(current_time=_now())

    @on("StatusNotification")
    def on_status(self, **_: Any) -> Any:
        return r16.StatusNotification()

    @on("Authorize")
    async def on_authorize(self, id_tag: str) -> Any:
        await self._maybe_slow()
        return r16.Authorize(id_tag_info={"status": self._token_status(id_tag)})

    @on("StartTransaction")
    def on_start(self, id_tag: str, **_: Any) -> Any:
        return r16.StartTransaction(
            transaction_id=next(self.csms.tx_ids),
            id_tag_info={"status": self._token_status(id_tag)},
        )

    @on("MeterValues")
    def on_meter(self, **_: Any) -> Any:
        return r16.MeterValues()

    @on("StopTransaction")
    def on_stop(self, **_: Any) -> Any:
        return r16.StopTransaction()

    @on("FirmwareStatusNotification")
    def on_firmware(self, **_: Any) -> Any:
        return r16.FirmwareStatusNotification()

    @on("DiagnosticsStatusNotification")
    def on_diagnostics(self, **_: Any) -> Any:
        return r16.DiagnosticsStatusNotification()

    @on("DataTransfer")
    def on_data(self, vendor_id: str, **_: Any) -> Any:
        return r16.DataTransfer(status="Accepted", data=vendor_id)

    @on("SecurityEventNotification")
    def on_security_event(self, **_: Any) -> Any:
        return r16.SecurityEventNotification()


class Csms201(_Common, Cp201):
    @on("BootNotification")
    def on_boot(self, charging_station: dict[str, Any], reason: str, **_: Any) -> Any:
        status = self._boot_status()
        return r201.BootNotification(
            current_time=_now(), interval=self.csms.behaviour.heartbeat_interval, status=status
        )

    @on("Heartbeat")
    async def on_heartbeat(self) -> Any:
        await self._maybe_slow()
        return r201.Heartbeat(current_time=_now())

    @on("StatusNotification")
    def on_status(self, **_: Any) -> Any:
        return r201.StatusNotification()

    @on("Authorize")
    async def on_authorize(self, id_token: dict[str, Any], **_: Any) -> Any:
        await self._maybe_slow()
        return r201.Authorize(id_token_info={"status": self._token_status(id_token["id_token"])})

    @on("FirmwareStatusNotification")
    def on_firmware(self, **_: Any) -> Any:
        return r201.FirmwareStatusNotification()

    @on("LogStatusNotification")
    def on_log(self, **_: Any) -> Any:
        return r201.LogStatusNotification()

    @on("NotifyReport")
    def on_report(self, **_: Any) -> Any:
        return r201.NotifyReport()

    @on("NotifyEvent")
    def on_event(self, **_: Any) -> Any:
        return r201.NotifyEvent()

    @on("ReservationStatusUpdate")
    def on_reservation(self, **_: Any) -> Any:
        return r201.ReservationStatusUpdate()

    @on("MeterValues")
    def on_meter(self, **_: Any) -> Any:
        return r201.MeterValues()

    @on("DataTransfer")
    def on_data(self, vendor_id: str, **_: Any) -> Any:
        return r201.DataTransfer(status="Accepted", data=vendor_id)

    @on("SecurityEventNotification")
    def on_security_event(self, **_: Any) -> Any:
        return r201.SecurityEventNotification()

    @on("TransactionEvent")
    def on_transaction_event(self, event_type: str, **kwargs: Any) -> Any:
        token = kwargs.get("id_token")
        if event_type == "Started" and token is not None:
            return r201.TransactionEvent(
                id_token_info={"status": self._token_status(token["id_token"])}
            )
        return r201.TransactionEvent()


class TestCsms:
    """Serve on 127.0.0.1 (``port`` 0: an ephemeral one); ``url`` is the base ws/wss URL.

    ``ssl_context`` serves wss (security profiles 2 and 3). The same ``frames`` list and
    ``tx_ids`` counter may be handed to a second instance, to model a restarted central system
    that kept its database.
    """

    __test__ = False  # not a pytest test class

    def __init__(
        self,
        port: int = 0,
        *,
        ssl_context: ssl.SSLContext | None = None,
        frames: list[Frame] | None = None,
        tx_ids: itertools.count[int] | None = None,
    ) -> None:
        self.port = port
        self.ssl_context = ssl_context
        self.behaviour = Behaviour()
        self.frames: list[Frame] = [] if frames is None else frames
        self.points: dict[str, Cp16 | Cp201] = {}
        self.connections: dict[str, ServerConnection] = {}
        self.connects: list[str] = []
        self.client_certs: list[dict[str, Any]] = []
        self.refused: list[str] = []  # identities whose credentials were refused (HTTP 401)
        self.tx_ids = itertools.count(1001) if tx_ids is None else tx_ids
        self._server: Server | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        port = self._server.sockets[0].getsockname()[1]
        scheme = "wss" if self.ssl_context else "ws"
        host = "localhost" if self.ssl_context else "127.0.0.1"
        return f"{scheme}://{host}:{port}/ocpp"

    async def __aenter__(self) -> TestCsms:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", self.port))
        self._server = await serve(
            self._serve,
            sock=sock,
            subprotocols=["ocpp1.6", "ocpp2.0.1"],  # type: ignore[list-item]
            process_request=self._process_request,
            compression=None,
            ssl=self.ssl_context,
        )
        self.port = sock.getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    def _process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        if self.behaviour.refuse_connections:
            return connection.respond(HTTPStatus.SERVICE_UNAVAILABLE, "down for the test\n")
        if self.behaviour.password is not None:
            identity = request.path.rsplit("/", 1)[-1]
            wanted = base64.b64encode(f"{identity}:{self.behaviour.password}".encode()).decode()
            if request.headers.get("Authorization") != f"Basic {wanted}":
                self.refused.append(identity)
                return connection.respond(HTTPStatus.UNAUTHORIZED, "bad credentials\n")
        ssl_object = connection.transport.get_extra_info("ssl_object")
        if ssl_object is not None and ssl_object.getpeercert():
            self.client_certs.append(ssl_object.getpeercert())
        return None

    async def _serve(self, ws: ServerConnection) -> None:
        identity = ws.request.path.rsplit("/", 1)[-1] if ws.request else "?"
        cls = Csms16 if ws.subprotocol == "ocpp1.6" else Csms201
        point = cls(identity, _Recording(ws, identity, self.frames))
        point.csms = self
        self.points[identity] = point
        self.connections[identity] = ws
        self.connects.append(identity)
        with contextlib.suppress(ConnectionClosed):
            await point.start()

    async def drop(self, identity: str) -> None:
        """Close the connection from the server side, as a restarting central system would."""
        await self.connections[identity].close(code=1012, reason="service restart")

    # -- queries ---------------------------------------------------------------------------

    def calls(self, action: str, identity: str | None = None) -> list[dict[str, Any]]:
        """Payloads of CALLs with ``action`` received from charge points."""
        return [
            f.message[3]
            for f in self.frames
            if f.direction == "in"
            and f.message[0] == 2
            and f.message[2] == action
            and (identity is None or f.identity == identity)
        ]

    async def wait_for(self, predicate: Callable[[], bool], within_s: float = 5.0) -> None:
        """Poll ``predicate`` (cheap, in-memory) until true; TimeoutError after ``within_s``."""
        async with asyncio.timeout(within_s):
            while not predicate():  # noqa: ASYNC110 - frames arrive from another task, no event
                await asyncio.sleep(0.01)
