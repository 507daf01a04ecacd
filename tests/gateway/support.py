"""Test helpers: schema fixtures, a schema-checking OCPP-J client, polling, a fake eMSP."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import socket
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

import httpx
import jsonschema
import uvicorn
from jsonschema.protocols import Validator
from referencing import Registry, Resource
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from websockets.asyncio.client import ClientConnection, connect
from websockets.typing import Subprotocol

FIXTURES = Path(__file__).parent / "fixtures"
T = TypeVar("T")


def fixture_validator(file: str, definition: str) -> Validator:
    """A Draft 2020-12 validator for ``#/$defs/<definition>`` of a fixture schema."""
    schema = json.loads((FIXTURES / file).read_text())
    resource = Resource.from_contents(schema)
    registry: Registry[Any] = Registry().with_resource("urn:fixture", resource)
    return jsonschema.Draft202012Validator(
        {"$ref": f"urn:fixture#/$defs/{definition}"}, registry=registry
    )


def assert_utc_timestamp(value: str) -> datetime:
    """An ISO 8601 timestamp in UTC with the ``Z`` designator."""
    assert isinstance(value, str) and value.endswith("Z"), value
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    assert parsed.utcoffset() is not None
    return parsed


async def wait_until(
    probe: Callable[[], Awaitable[T]], accept: Callable[[T], bool], within: float = 5.0
) -> T:
    """Call ``probe`` until ``accept(result)``; fail with the last result after ``within`` s."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        result = await probe()
        if accept(result):
            return result
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"condition not met within {within} s; last: {result!r}")
        await asyncio.sleep(0.02)


class OcppSchemas:
    """The ``ocpp`` package's official JSON schemas, by version, action and direction."""

    def __init__(self) -> None:
        self._cache: dict[tuple[str, str], Validator] = {}

    def validator(self, version: str, action: str, response: bool) -> Validator:
        folder = "v16" if version == "1.6" else "v201"
        if response:
            name = f"{action}Response.json"
        else:
            name = f"{action}.json" if version == "1.6" else f"{action}Request.json"
        key = (folder, name)
        if key not in self._cache:
            path = resources.files("ocpp").joinpath(folder, "schemas", name)
            schema = json.loads(path.read_text(encoding="utf-8-sig"))
            cls = jsonschema.validators.validator_for(schema)
            self._cache[key] = cls(schema)
        return self._cache[key]


_SCHEMAS = OcppSchemas()


class OcppCallError(AssertionError):
    def __init__(self, frame: list[Any]) -> None:
        super().__init__(f"CALLERROR {frame}")
        self.frame = frame


class OcppTestClient:
    """A hand-rolled OCPP-J charge point: builds frames, validates every payload both ways."""

    def __init__(self, ws: ClientConnection, version: str) -> None:
        self.ws = ws
        self.version = version
        self._ids = itertools.count(1)

    async def call(self, action: str, payload: dict[str, Any]) -> dict[str, Any]:
        """Send a CALL (validated) and return the CALLRESULT payload (validated)."""
        _SCHEMAS.validator(self.version, action, response=False).validate(payload)
        unique_id = f"m{next(self._ids)}"
        await self.ws.send(json.dumps([2, unique_id, action, payload]))
        frame = await self.recv_frame()
        assert frame[1] == unique_id, frame
        if frame[0] == 4:
            raise OcppCallError(frame)
        assert frame[0] == 3 and len(frame) == 3, frame
        _SCHEMAS.validator(self.version, action, response=True).validate(frame[2])
        return dict(frame[2])

    async def recv_frame(self) -> list[Any]:
        raw = await asyncio.wait_for(self.ws.recv(), 5.0)
        frame = json.loads(raw)
        assert isinstance(frame, list), frame
        if frame[0] == 4:
            # CALLERROR: [4, id, code, description, details]
            assert len(frame) == 5, frame
            assert isinstance(frame[1], str) and isinstance(frame[2], str), frame
            assert isinstance(frame[3], str) and isinstance(frame[4], dict), frame
        return frame

    async def boot(self) -> dict[str, Any]:
        if self.version == "1.6":
            payload = {"chargePointVendor": "OCPPLab", "chargePointModel": "SimCP"}
        else:
            payload = {
                "chargingStation": {"model": "SimCS", "vendorName": "OCPPLab"},
                "reason": "PowerUp",
            }
        return await self.call("BootNotification", payload)

    async def status(self, number: int, status: str) -> None:
        if self.version == "1.6":
            await self.call(
                "StatusNotification",
                {"connectorId": number, "errorCode": "NoError", "status": status},
            )
        else:
            await self.call(
                "StatusNotification",
                {
                    "timestamp": now_text(),
                    "connectorStatus": status,
                    "evseId": number,
                    "connectorId": 1,
                },
            )


def now_text() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@contextlib.asynccontextmanager
async def ocpp_client(base_url: str, identity: str, version: str) -> AsyncIterator[OcppTestClient]:
    """Open ``/ocpp/{identity}`` offering the version's subprotocol."""
    url = base_url.replace("http://", "ws://") + f"/ocpp/{identity}"
    async with connect(url, subprotocols=[Subprotocol(f"ocpp{version}")]) as ws:
        assert ws.subprotocol == f"ocpp{version}"
        yield OcppTestClient(ws, version)


class _QuietServer(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


@contextlib.asynccontextmanager
async def fake_emsp() -> AsyncIterator[tuple[str, list[str]]]:
    """A minimal OCPI eMSP on port 0: yields (versions URL, Authorization headers seen)."""
    seen: list[str] = []

    async def versions(request: Request) -> JSONResponse:
        seen.append(request.headers.get("authorization", ""))
        base = str(request.base_url).rstrip("/")
        return JSONResponse(
            {
                "data": [{"version": "2.2.1", "url": f"{base}/emsp/2.2.1"}],
                "status_code": 1000,
                "timestamp": now_text(),
            }
        )

    app = Starlette(routes=[Route("/emsp/versions", versions)])
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = _QuietServer(uvicorn.Config(app, log_config=None, lifespan="off", log_level="warning"))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:

        async def started() -> bool:
            await asyncio.sleep(0.01)
            return server.started

        await wait_until(started, bool)
        yield f"http://127.0.0.1:{port}/emsp/versions", seen
    finally:
        server.should_exit = True
        await task
        sock.close()


async def provision(client: httpx.AsyncClient, template: str, **extra: Any) -> dict[str, Any]:
    """Create a CPO and wait until it is ready; returns the create response body."""
    body = {"template": template, "party": {"country_code": "FR", "party_id": "ABC"}, **extra}
    response = await client.post("/ocpi/cpos", json=body)
    assert response.status_code == 202, response.text
    created: dict[str, Any] = response.json()

    async def status() -> dict[str, Any]:
        result: dict[str, Any] = (await client.get(f"/ocpi/cpos/{created['cpo_id']}/status")).json()
        return result

    await wait_until(status, lambda s: s["status"] == "ready")
    return created


@contextlib.asynccontextmanager
async def gateway_process(*argv: str) -> AsyncIterator[tuple[asyncio.subprocess.Process, str]]:
    """Run ``python *argv`` (a gateway that prints "listening on <url>" to stderr); yield the
    process and its URL. The process is killed at the end if it is still running."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, *argv, stderr=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.DEVNULL
    )
    assert proc.stderr is not None
    try:
        line = ""
        while "listening on" not in line:
            raw = await asyncio.wait_for(proc.stderr.readline(), 30)
            assert raw, "the gateway exited before listening"
            line = raw.decode()
        # Keep reading stderr so a chatty gateway never blocks on a full pipe.
        drain = asyncio.create_task(proc.stderr.read())
        try:
            yield proc, line.rsplit(" ", 1)[1].strip()
        finally:
            if proc.returncode is None:
                proc.kill()
            await proc.wait()
            await drain
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


class RecordingEmsp:
    """State of :func:`recording_emsp`: every PATCH seen, and how to answer the next ones."""

    def __init__(self) -> None:
        self.versions_url = ""
        self.patches: list[tuple[str, str, dict[str, Any]]] = []  # (path, Authorization, body)
        self.fail_next = 0  # answer this many PATCHes with HTTP 503
        self.delay = 0.0  # seconds before answering a PATCH

    def ok_statuses(self, evse_uid: str) -> list[str]:
        return [body["status"] for path, _, body in self.patches if path.endswith("/" + evse_uid)]


@contextlib.asynccontextmanager
async def recording_emsp(version: str = "2.2.1") -> AsyncIterator[RecordingEmsp]:
    """An OCPI eMSP on port 0 offering ``version`` with a Locations RECEIVER that records every
    PATCH (``fail_next`` of them answered 503, not recorded)."""
    state = RecordingEmsp()

    async def versions(request: Request) -> JSONResponse:
        base = str(request.base_url).rstrip("/")
        data = [{"version": version, "url": f"{base}/emsp/{version}"}]
        return JSONResponse({"data": data, "status_code": 1000, "timestamp": now_text()})

    async def details(request: Request) -> JSONResponse:
        base = str(request.base_url).rstrip("/")
        endpoint = {"identifier": "locations", "url": f"{base}/emsp/{version}/locations"}
        if version == "2.2.1":
            endpoint["role"] = "RECEIVER"
        # A SENDER endpoint of the same module must not be mistaken for the receiver.
        sender = {"identifier": "locations", "role": "SENDER", "url": f"{base}/wrong"}
        endpoints = [sender, endpoint] if version == "2.2.1" else [endpoint]
        data = {"version": version, "endpoints": endpoints}
        return JSONResponse({"data": data, "status_code": 1000, "timestamp": now_text()})

    async def patch(request: Request) -> JSONResponse:
        if state.delay:
            await asyncio.sleep(state.delay)
        if state.fail_next > 0:
            state.fail_next -= 1
            return JSONResponse({"status_code": 3000, "timestamp": now_text()}, status_code=503)
        body = json.loads(await request.body())
        state.patches.append((request.url.path, request.headers.get("authorization", ""), body))
        return JSONResponse({"status_code": 1000, "timestamp": now_text()})

    app = Starlette(
        routes=[
            Route("/emsp/versions", versions),
            Route(f"/emsp/{version}", details),
            Route(f"/emsp/{version}/locations/{{rest:path}}", patch, methods=["PATCH"]),
        ]
    )
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = _QuietServer(uvicorn.Config(app, log_config=None, lifespan="off", log_level="warning"))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:

        async def started() -> bool:
            await asyncio.sleep(0.01)
            return server.started

        await wait_until(started, bool)
        state.versions_url = f"http://127.0.0.1:{port}/emsp/versions"
        yield state
    finally:
        server.should_exit = True
        await task
        sock.close()


POSTGRES_ENV = "OCPPLAB_TEST_POSTGRES_URL"


def postgres_url() -> str | None:
    """The PostgreSQL URL tests may use (``OCPPLAB_TEST_POSTGRES_URL``), or None."""
    import os

    return os.environ.get(POSTGRES_ENV) or None


async def fresh_postgres(base_url: str, worker: str) -> str:
    """A database of its own for one xdist worker (created on first use, next to the one in
    ``base_url``; the user needs CREATEDB), emptied of every gateway table."""
    import asyncpg  # type: ignore[import-untyped]
    from sqlalchemy.engine import make_url

    from ocpplab_sim.gateway.db import Database

    url = make_url(base_url)
    name = f"{url.database}_{worker}"
    conn = await asyncpg.connect(
        host=url.host,
        port=url.port or 5432,
        user=url.username,
        password=url.password,
        database=url.database,
    )
    try:
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        if not exists:
            await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    fresh = url.set(database=name).render_as_string(hide_password=False)
    db = Database(fresh)
    try:
        await db.downgrade("base")
    finally:
        await db.dispose()
    return fresh
