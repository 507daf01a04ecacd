"""An OCPI eMSP receiver on a loopback port: versions, version details, and a Locations RECEIVER
that records every PUT and PATCH with its arrival time.

The harness gives its versions URL in the credentials handshake (our Credentials ``url``), so a
CPO that pushes sends its updates here; ``expect_push`` then checks them. Both 2.2.1 and 2.1.1
are served. Pushes are authenticated with the token the harness handed the CPO (token B): the
2.2.1 header carries it Base64-encoded, 2.1.1 raw; a wrong token gets HTTP 401 and is counted in
:attr:`EmspReceiver.refused`, not recorded as a push.

What is wrong with an accepted push (a PATCH without ``last_updated``, an unknown status, a body
whose id differs from the URL) is recorded in :attr:`PushRecord.problems`; an id mismatch or a
body that is not a JSON object is also answered with OCPI status 2001, as the spec asks.
"""

from __future__ import annotations

import base64
import binascii
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import TracebackType
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from ocpplab_sim.asgi_serve import ServedApp
from ocpplab_sim.vocabulary import EvseStatus

__all__ = ["EVSE_STATUSES", "EmspReceiver", "PushRecord"]

EVSE_STATUSES = frozenset(EvseStatus)
VERSIONS = ("2.2.1", "2.1.1")


@dataclass(frozen=True)
class PushRecord:
    """One PUT or PATCH the receiver accepted, in arrival order.

    ``at`` is the wall-clock arrival time; ``evse_uid`` / ``connector_id`` are ``None`` for a
    push to a Location (or an EVSE); ``problems`` is empty for a push that follows the spec.
    """

    at: float
    method: str
    version: str
    country_code: str
    party_id: str
    location_id: str
    evse_uid: str | None
    connector_id: str | None
    body: dict[str, Any]
    problems: tuple[str, ...] = field(default=())


class EmspReceiver:
    """``async with EmspReceiver(token_b) as emsp:`` serves at ``emsp.versions_url`` until the
    block ends. Raises :class:`ConnectivityError` when it cannot start."""

    def __init__(
        self, token: str, *, host: str = "127.0.0.1", clock: Callable[[], float] = time.time
    ) -> None:
        self.token = token
        self._host = host
        self._clock = clock
        self._port: int | None = None
        self._served: ServedApp | None = None
        self.records: list[PushRecord] = []
        self.refused = 0

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT`` of the running receiver."""
        if self._port is None:
            raise RuntimeError("the eMSP receiver is not running")
        return f"http://{self._host}:{self._port}"

    @property
    def versions_url(self) -> str:
        """The URL to hand the CPO in our Credentials object."""
        return f"{self.url}/ocpi/emsp/versions"

    def pushes(self) -> list[PushRecord]:
        """Every accepted push so far, in arrival order (a copy)."""
        return list(self.records)

    async def __aenter__(self) -> EmspReceiver:
        served = ServedApp(self._app(), host=self._host, what="eMSP receiver", grace_s=5)
        await served.start()
        self._served = served
        self._port = served.port
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._served is not None:
            await self._served.stop()
        self._served = None
        self._port = None

    # -- the app --------------------------------------------------------------------------------

    def _app(self) -> Starlette:
        base = "/ocpi/emsp"
        tail = "/locations/{country_code}/{party_id}/{location_id}"
        routes = [
            Route(f"{base}/versions", self._versions, methods=["GET"]),
            Route(base + "/{version}", self._details, methods=["GET"]),
        ]
        for suffix in ("", "/{evse_uid}", "/{evse_uid}/{connector_id}"):
            path = base + "/{version}" + tail + suffix
            routes.append(Route(path, self._push, methods=["PUT", "PATCH"]))
        return Starlette(routes=routes)

    def _authorized(self, request: Request, version: str) -> tuple[bool, str]:
        """Whether the token is ours, and a problem when it is encoded the other version's way."""
        scheme, _, value = request.headers.get("Authorization", "").partition(" ")
        if scheme != "Token" or not value:
            return False, ""
        if value == self.token:
            note = "" if version == "2.1.1" else "token not Base64-encoded (2.2.1 requires it)"
            return True, note
        try:
            decoded = base64.b64decode(value, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return False, ""
        if decoded != self.token:
            return False, ""
        note = "token Base64-encoded (2.1.1 sends it raw)" if version == "2.1.1" else ""
        return True, note

    async def _versions(self, request: Request) -> JSONResponse:
        if not self._authorized(request, "2.2.1")[0]:
            return _refuse()
        data = [{"version": v, "url": f"{self.url}/ocpi/emsp/{v}"} for v in VERSIONS]
        return _envelope(data)

    async def _details(self, request: Request) -> JSONResponse:
        version = request.path_params["version"]
        if version not in VERSIONS:
            return _envelope(None, 2001, f"unsupported version {version}", http=404)
        if not self._authorized(request, version)[0]:
            return _refuse()
        url = f"{self.url}/ocpi/emsp/{version}/locations"
        endpoint: dict[str, str] = {"identifier": "locations", "url": url}
        if version == "2.2.1":
            endpoint["role"] = "RECEIVER"
        return _envelope({"version": version, "endpoints": [endpoint]})

    async def _push(self, request: Request) -> JSONResponse:
        at = self._clock()
        params = request.path_params
        version = params["version"]
        if version not in VERSIONS:
            return _envelope(None, 2001, f"unsupported version {version}", http=404)
        allowed, note = self._authorized(request, version)
        if not allowed:
            self.refused += 1
            return _refuse()
        problems = [note] if note else []
        try:
            body = json.loads(await request.body())
        except ValueError:
            body = None
        if not isinstance(body, dict):
            problems.append("body is not a JSON object")
            body = {}
        evse_uid, connector_id = params.get("evse_uid"), params.get("connector_id")
        problems += _check(request.method, version, params, body)
        self.records.append(
            PushRecord(
                at=at,
                method=request.method,
                version=version,
                country_code=params["country_code"],
                party_id=params["party_id"],
                location_id=params["location_id"],
                evse_uid=evse_uid,
                connector_id=connector_id,
                body=body,
                problems=tuple(problems),
            )
        )
        mismatch = [p for p in problems if "differs from the URL" in p or "JSON object" in p]
        if mismatch:
            return _envelope(None, 2001, "; ".join(mismatch), http=400)
        return _envelope(None)


def _check(method: str, version: str, params: dict[str, Any], body: dict[str, Any]) -> list[str]:
    """What is wrong with one push body, against the URL it was sent to."""
    problems = []
    if len(params["country_code"]) != 2 or len(params["party_id"]) != 3:
        problems.append("country_code/party_id in the URL are not 2 and 3 characters")
    # The object the URL names, and the body field that must repeat its id.
    if params.get("connector_id"):
        target = ("id", params["connector_id"])
    elif params.get("evse_uid"):
        target = ("uid", params["evse_uid"])
    else:
        target = ("id", params["location_id"])
    if target[0] in body and body[target[0]] != target[1]:
        problems.append(f"{target[0]} {body[target[0]]!r} differs from the URL's {target[1]!r}")
    if method == "PUT" and target[0] not in body:
        problems.append(f"PUT body lacks {target[0]}")
    stamp = body.get("last_updated")
    if stamp is None:
        if method == "PUT" or version == "2.2.1":
            problems.append(f"{method} without last_updated")
    elif not _is_timestamp(stamp):
        problems.append(f"last_updated {stamp!r} is not an RFC 3339 timestamp")
    status = body.get("status")
    if "status" in body and status not in EVSE_STATUSES:
        problems.append(f"status {status!r} is not an OCPI EvseStatus")
    return problems


def _is_timestamp(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


def _envelope(
    data: Any, code: int = 1000, message: str = "Success", *, http: int = 200
) -> JSONResponse:
    timestamp = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    body = {"data": data, "status_code": code, "status_message": message, "timestamp": timestamp}
    return JSONResponse(body, status_code=http)


def _refuse() -> JSONResponse:
    return _envelope(None, 2000, "unknown or missing token", http=401)
