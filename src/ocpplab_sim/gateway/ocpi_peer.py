"""Calls from the CPO to a registered eMSP: discovery at registration and status PATCHes.

Discovery (credentials §7.2.1 step 4 "the receiver fetches the caller's versions and details
with token B"): GET the eMSP's versions URL, pick the version the eMSP registered with, GET its
details and keep the Locations module's RECEIVER endpoint (2.2.1 ``role``; 2.1.1 endpoints have
no role, so the ``locations`` endpoint is it). Nothing here raises: every failure becomes a
detail text for the report.

Push (mod_locations §8.2.2 Receiver interface, PATCH method): ``PATCH {receiver}/{country_code}/
{party_id}/{location_id}/{evse_uid}`` with ``{"status", "last_updated"}``. The token header is
``Token base64(B)`` in 2.2.1 (transport_and_format §4.1.3) and ``Token B`` in 2.1.1.

The HTTP client is aiohttp's: at 32 PATCHes in flight it spends about 0.2 ms of CPU per request
where httpx spent 3.6 ms (``benchmarks/gateway_scale.py`` measures the whole path).
"""

from __future__ import annotations

import asyncio
import base64
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import aiohttp

from .ocpi_models import ocpi_timestamp

__all__ = ["PatchResult", "PeerCheck", "authorization", "discover", "patch_status", "timestamp"]


def authorization(token: str, version: str) -> str:
    """The ``Authorization`` header value carrying ``token`` in OCPI ``version``."""
    if version == "2.1.1":
        return f"Token {token}"
    return "Token " + base64.b64encode(token.encode()).decode()


def timestamp(value: datetime) -> str:
    """OCPI DateTime: the one formatter of :mod:`.ocpi_models`."""
    return ocpi_timestamp(value)


@dataclass(frozen=True)
class PeerCheck:
    """Outcome of the versions GET (``ok``/``detail``) and the receiver discovered, if any."""

    ok: bool
    detail: str
    locations_url: str | None = None


_FAILURES = (aiohttp.ClientError, asyncio.TimeoutError, ValueError)


def _failure(exc: BaseException) -> str:
    if isinstance(exc, asyncio.TimeoutError):
        return "TimeoutError: no answer in time"
    return f"{type(exc).__name__}: {exc}"


async def _request(
    http: aiohttp.ClientSession, method: str, url: str, header: str, body: Any = None
) -> tuple[int, bytes]:
    async with http.request(method, url, json=body, headers={"Authorization": header}) as resp:
        return resp.status, await resp.read()


async def _get_data(http: aiohttp.ClientSession, url: str, header: str) -> tuple[Any, str | None]:
    """``data`` of a successful OCPI GET, or (None, reason)."""
    try:
        status, content = await _request(http, "GET", url, header)
    except _FAILURES as exc:
        return None, f"GET {url} failed: {_failure(exc)}"
    if status != 200:
        return None, f"GET {url} answered HTTP {status}"
    try:
        body = json.loads(content)
    except ValueError:
        return None, f"GET {url} did not answer JSON"
    if not isinstance(body, dict) or body.get("status_code") != 1000:
        code = body.get("status_code") if isinstance(body, dict) else None
        return None, f"GET {url} answered OCPI status_code {code!r}"
    return body.get("data"), None


async def discover(
    http: aiohttp.ClientSession, versions_url: str, token_b: str, version: str
) -> PeerCheck:
    """GET the eMSP's versions (with token B), then the details of ``version`` and find its
    Locations RECEIVER endpoint (version_information_endpoint §6.1, §6.2)."""
    header = authorization(token_b, version)
    data, error = await _get_data(http, versions_url, header)
    if error is not None:
        return PeerCheck(False, error)
    entries = [v for v in data or [] if isinstance(v, dict)] if isinstance(data, list) else []
    offered = ", ".join(str(v.get("version")) for v in entries) or "none"
    detail = f"versions offered: {offered}"
    match = next((v for v in entries if v.get("version") == version), None)
    if match is None or not isinstance(match.get("url"), str):
        return PeerCheck(True, f"{detail}; {version} not offered: no push")
    details, error = await _get_data(http, match["url"], header)
    if error is not None:
        return PeerCheck(True, f"{detail}; {error}: no push")
    endpoints = details.get("endpoints") if isinstance(details, dict) else None
    for endpoint in endpoints if isinstance(endpoints, list) else []:
        if not isinstance(endpoint, dict) or endpoint.get("identifier") != "locations":
            continue
        if version != "2.1.1" and endpoint.get("role") != "RECEIVER":
            continue
        url = endpoint.get("url")
        if isinstance(url, str) and url.startswith(("http://", "https://")):
            return PeerCheck(True, f"{detail}; locations receiver {url}", url.rstrip("/"))
    return PeerCheck(True, f"{detail}; no locations RECEIVER in {version} details: no push")


@dataclass(frozen=True)
class PatchResult:
    """One PATCH attempt: ``ok`` is HTTP 2xx with OCPI ``status_code`` 1xxx."""

    ok: bool
    http_status: int | None
    ocpi_status_code: int | None
    detail: str | None


async def patch_status(
    http: aiohttp.ClientSession, url: str, header: str, status: str, last_updated: datetime
) -> PatchResult:
    """PATCH one EVSE status (mod_locations §8.2.2.3); never raises."""
    body = {"status": status, "last_updated": timestamp(last_updated)}
    try:
        http_status, content = await _request(http, "PATCH", url, header, body)
    except _FAILURES as exc:
        return PatchResult(False, None, None, _failure(exc)[:500])
    code: int | None = None
    message: str | None = None
    try:
        envelope = json.loads(content)
    except ValueError:
        envelope = None
    if isinstance(envelope, dict):
        raw = envelope.get("status_code")
        code = raw if isinstance(raw, int) and not isinstance(raw, bool) else None
        text = envelope.get("status_message")
        message = text[:500] if isinstance(text, str) else None
    ok = 200 <= http_status < 300 and code is not None and 1000 <= code < 2000
    if not ok and message is None:
        message = "not an OCPI response envelope" if code is None else None
    return PatchResult(ok, http_status, code, message)
