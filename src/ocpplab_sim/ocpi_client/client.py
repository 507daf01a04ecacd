"""Async eMSP-side OCPI client (2.2.1 and 2.1.1): credentials handshake, then pulling Locations.

Every failure surfaces as :class:`~ocpplab_sim.errors.OcpiError`: the peer cannot be reached, it
refused the token (HTTP 401), it answered an HTTP error, an envelope whose ``status_code`` is not
1000, or data that is not the OCPI object it should be. ``OcpiError.status_code`` is the OCPI
status code when the peer sent an envelope, otherwise the HTTP status (``None`` when no answer).
"""

from __future__ import annotations

import math
import secrets
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Self, TypeVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel, TypeAdapter, ValidationError

from ocpplab_sim import __version__
from ocpplab_sim.errors import InputError, OcpiError
from ocpplab_sim.ocpi_client.dialect import DIALECTS, OcpiDialect, PartyLike
from ocpplab_sim.ocpi_client.models import (
    Credentials,
    Credentials211,
    Evse,
    Evse211,
    EvseStatus,
    Location,
    Location211,
    OcpiResponse,
    Version,
)

__all__ = ["OcpiClient"]

_T = TypeVar("_T")
_M = TypeVar("_M", bound=BaseModel)

_SUCCESS = 1000
_VERSIONS = TypeAdapter(list[Version])
_MAX_LISTED_ERRORS = 5
# Given as our versions URL when no eMSP receiver runs: a closed port, so a callback fails fast.
_NO_CALLBACK = "http://127.0.0.1:9/ocpi/emsp/versions"


class OcpiClient:
    """The eMSP side of one OCPI connection to a CPO, owning its ``httpx.AsyncClient``.

    Lifecycle: :meth:`handshake` (token A → registered, token C from then on), any number of
    Location pulls, :meth:`close_registration`. Use as an async context manager or call
    :meth:`aclose`; closing does not unregister.
    """

    def __init__(
        self,
        versions_url: str,
        token_a: str,
        *,
        party: PartyLike,
        our_versions_url: str | None = None,
        business_name: str = "ocpplab-sim eMSP",
        timeout_s: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
        max_pages: int = 1000,
        versions: Sequence[str] | None = None,
        token_b: str | None = None,
    ) -> None:
        """Prepare a client; nothing is sent until :meth:`handshake`.

        ``our_versions_url`` is what the CPO is told to call back: the harness's eMSP receiver
        when it runs (the default points at a closed port). ``versions`` limits the versions the
        handshake may pick (default: every supported one, newest first); ``token_b`` is the token
        we hand the CPO (default: a fresh random one) — the receiver checks pushes against it.
        Raises :class:`InputError` when ``party`` is not an OCPI party (2-letter country code,
        3-character party id) or a version is not supported.
        """
        if len(party.country_code) != 2 or len(party.party_id) != 3:
            raise InputError(
                f"OCPI party must be a 2-letter country code and a 3-character party id, "
                f"got {party.country_code!r}/{party.party_id!r}"
            )
        allowed = tuple(versions) if versions is not None else tuple(DIALECTS)
        unknown = [v for v in allowed if v not in DIALECTS]
        if unknown or not allowed:
            raise InputError(f"OCPI version {unknown or allowed} not supported: {list(DIALECTS)}")
        self._allowed = allowed
        self._given_token_b = token_b
        self.versions_url = versions_url
        self.party = party
        self.our_versions_url = our_versions_url or _NO_CALLBACK
        self.business_name = business_name
        self.max_pages = max_pages
        self._token = token_a
        self._token_name = "token A"
        self._token_b: str | None = None
        self._registered = False
        self._dialect: OcpiDialect | None = None
        self._credentials_url: str | None = None
        self._locations_url: str | None = None
        self._http = httpx.AsyncClient(
            headers={"Accept": "application/json", "User-Agent": f"ocpplab-sim/{__version__}"},
            timeout=httpx.Timeout(timeout_s),
            transport=transport,
        )

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connection pool (the registration stays as it is)."""
        await self._http.aclose()

    @property
    def registered(self) -> bool:
        """True between a successful :meth:`handshake` and :meth:`close_registration`."""
        return self._registered

    @property
    def version(self) -> str | None:
        """The negotiated OCPI version, once the handshake picked one."""
        return self._dialect.version if self._dialect else None

    @property
    def token_b(self) -> str | None:
        """The token we handed the CPO in the handshake."""
        return self._token_b

    @property
    def token_c(self) -> str | None:
        """The token the CPO gave us; used for every call after the handshake."""
        return self._token if self.registered else None

    # -- handshake ------------------------------------------------------------------------------

    async def handshake(self) -> Credentials | Credentials211:
        """Register with the CPO (OCPI credentials, registration) and return its Credentials.

        GET versions and the chosen version's details with token A, POST our Credentials with a
        fresh token B, keep the CPO's token C for every later call. Raises :class:`OcpiError` when
        already registered, when the peer offers no supported version or no credentials endpoint,
        or when any step fails (a 405 on POST means the CPO considers us registered already).
        """
        if self.registered:
            raise OcpiError("already registered with this peer; close_registration() first")
        correlation = str(uuid.uuid4())
        versions = self._parse_list(
            _VERSIONS,
            await self._call("GET", self.versions_url, correlation=correlation),
            f"GET {self.versions_url}",
        )
        offered = {v.version: v.url for v in versions}
        chosen = next((v for v in self._allowed if v in offered), None)
        if chosen is None:
            raise OcpiError(
                f"peer at {self.versions_url} offers OCPI {sorted(offered) or 'nothing'}; "
                f"wanted: {list(self._allowed)}"
            )
        dialect = DIALECTS[chosen]
        self._dialect = dialect
        details_url = offered[chosen]
        data = await self._call("GET", details_url, correlation=correlation)
        try:
            details = dialect.parse_details(data)
        except ValidationError as exc:
            raise OcpiError(f"GET {details_url}: invalid version details: {_brief(exc)}") from exc
        credentials_ep = dialect.credentials_endpoint(details)
        if credentials_ep is None:
            raise OcpiError(f"peer {chosen} details at {details_url} list no credentials endpoint")
        locations_ep = dialect.locations_sender(details)

        token_b = self._given_token_b or secrets.token_urlsafe(32)
        body = dialect.credentials_body(
            token=token_b,
            url=self.our_versions_url,
            party=self.party,
            business_name=self.business_name,
        )
        response = await self._send("POST", credentials_ep.url, correlation=correlation, json=body)
        if response.status_code == 405:
            raise OcpiError(
                f"POST {credentials_ep.url} → HTTP 405: the peer says this party is already "
                "registered (token A is no longer valid)",
                status_code=405,
            )
        data = self._unwrap(response)
        try:
            theirs = dialect.parse_credentials(data)
        except ValidationError as exc:
            raise OcpiError(
                f"POST {credentials_ep.url}: invalid Credentials answer: {_brief(exc)}"
            ) from exc
        self._token_b = token_b
        self._token = theirs.token
        self._token_name = "token C"
        self._registered = True
        self._credentials_url = credentials_ep.url
        self._locations_url = locations_ep.url if locations_ep else None
        return theirs

    async def close_registration(self) -> None:
        """Unregister (DELETE on the peer's credentials endpoint with token C).

        Does nothing when not registered. A registration the peer already considers void (HTTP
        401, 404 or 405) counts as closed; other failures raise :class:`OcpiError`. Afterwards the
        client is unregistered either way, since token C must not be reused.
        """
        if not self._registered or self._credentials_url is None:
            return
        url = self._credentials_url
        try:
            response = await self._send("DELETE", url, correlation=str(uuid.uuid4()))
            if response.status_code not in (401, 404, 405):
                self._unwrap(response)
        finally:
            self._registered = False
            self._credentials_url = None
            self._locations_url = None
            self._token_name = "void token C"

    # -- locations ------------------------------------------------------------------------------

    async def locations(
        self, *, limit: int | None = None, date_from: datetime | None = None
    ) -> list[Location] | list[Location211]:
        """Every Location of the CPO (mod_locations, Sender GET list), in the negotiated version.

        Follows ``Link: <...>; rel="next"`` until it is absent. ``limit`` is only a wish: the
        peer's ``X-Limit`` decides the page size and the ``next`` links carry it. Raises
        :class:`OcpiError` when paging goes wrong instead of spinning: a ``next`` link already
        visited, a location repeated, more pages than ``X-Total-Count``/``X-Limit`` allow (or
        ``max_pages``), or the links ending before ``X-Total-Count`` locations arrived.
        """
        base = self._require_locations()
        correlation = str(uuid.uuid4())
        params: dict[str, str | int] = {"offset": 0}
        if limit is not None:
            params["limit"] = limit
        if date_from is not None:
            params["date_from"] = date_from.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

        result: list[Any] = []
        seen_ids: set[str] = set()
        visited: set[str] = set()
        url: str = base
        page_params: Mapping[str, str | int] | None = params
        total: int | None = None
        page_cap = self.max_pages
        page = 0
        while True:
            page += 1
            response = await self._send("GET", url, correlation=correlation, params=page_params)
            visited.add(str(response.request.url))
            where = f"GET {response.request.url}"
            batch = self._parse_locations(self._unwrap(response), where)
            total = _int_header(response, "X-Total-Count", total)
            page_limit = _int_header(response, "X-Limit", None)
            if total is not None and page_limit:
                # Fixed by the headers, plus one page of slack for a location added meanwhile.
                page_cap = min(page_cap, max(1, math.ceil(total / page_limit)) + 1)
            for loc in batch:
                if loc.id in seen_ids:
                    raise OcpiError(f"{where}: location {loc.id!r} repeats; paging is broken")
                seen_ids.add(loc.id)
            result.extend(batch)

            nxt = response.links.get("next", {}).get("url")
            if not nxt:
                if total is not None and len(result) < total:
                    raise OcpiError(
                        f"{where}: no next link after {len(result)} of {total} locations "
                        "(X-Total-Count)"
                    )
                return result
            next_url = str(response.url.join(nxt))
            if next_url in visited:
                raise OcpiError(f"{where}: Link rel=next loops back to {next_url}")
            if page >= page_cap:
                raise OcpiError(
                    f"{where}: still a next link after {page} pages "
                    f"({len(result)} locations, X-Total-Count {total}); giving up"
                )
            url, page_params = next_url, None

    async def location(self, location_id: str) -> Location | Location211:
        """One Location by id (mod_locations, Sender GET object).

        An unknown id raises :class:`OcpiError` with status 2003.
        """
        url = f"{self._require_locations()}/{quote(location_id, safe='')}"
        data = await self._call("GET", url, correlation=str(uuid.uuid4()))
        model: type[Location] | type[Location211] = self._require_dialect().location_model
        return self._parse(model, data, f"GET {url}")

    async def evse(self, location_id: str, evse_uid: str) -> Evse | Evse211:
        """One EVSE of a Location (mod_locations, Sender GET object).

        An unknown location or EVSE raises :class:`OcpiError` with status 2003.
        """
        url = (
            f"{self._require_locations()}/{quote(location_id, safe='')}/{quote(evse_uid, safe='')}"
        )
        data = await self._call("GET", url, correlation=str(uuid.uuid4()))
        model: type[Evse] | type[Evse211] = (
            Evse211 if self._require_dialect().version == "2.1.1" else Evse
        )
        return self._parse(model, data, f"GET {url}")

    async def evse_statuses(self) -> dict[str, EvseStatus]:
        """EVSE uid → status over all Locations, from one full pull.

        Raises :class:`OcpiError` when an EVSE uid appears twice (uids are unique per CPO).
        """
        statuses: dict[str, EvseStatus] = {}
        for loc in await self.locations():
            for evse in loc.evses:
                if evse.uid in statuses:
                    raise OcpiError(f"EVSE uid {evse.uid!r} appears twice (location {loc.id!r})")
                statuses[evse.uid] = evse.status
        return statuses

    async def evse_views(self) -> dict[str, tuple[EvseStatus, list[dict[str, Any]]]]:
        """EVSE uid → (status, connectors under their 2.2.1 field names), from one full pull."""
        dialect = self._require_dialect()
        views: dict[str, tuple[EvseStatus, list[dict[str, Any]]]] = {}
        for loc in await self.locations():
            for evse in loc.evses:
                if evse.uid in views:
                    raise OcpiError(f"EVSE uid {evse.uid!r} appears twice (location {loc.id!r})")
                connectors = [dialect.neutral_connector(c) for c in evse.connectors]
                views[evse.uid] = (evse.status, connectors)
        return views

    # -- plumbing -------------------------------------------------------------------------------

    def _require_dialect(self) -> OcpiDialect:
        if self._dialect is None:
            raise OcpiError("not registered with the OCPI peer: call handshake() first")
        return self._dialect

    def _parse_locations(self, data: object, where: str) -> list[Location] | list[Location211]:
        try:
            return self._require_dialect().parse_locations(data)
        except ValidationError as exc:
            raise OcpiError(f"{where}: unexpected data: {_brief(exc)}") from exc

    def _require_locations(self) -> str:
        if not self.registered:
            raise OcpiError("not registered with the OCPI peer: call handshake() first")
        if self._locations_url is None:
            raise OcpiError("the peer's version details list no locations SENDER endpoint")
        return self._locations_url

    async def _send(
        self,
        method: str,
        url: str,
        *,
        correlation: str,
        json: object = None,
        params: Mapping[str, str | int] | None = None,
    ) -> httpx.Response:
        """Send one request with the current token; connection failures become OcpiError."""
        # Before negotiation the peer's version is unknown; the versions call is encoded the way
        # of the version we prefer.
        dialect = self._dialect or DIALECTS[self._allowed[0]]
        headers = {
            "Authorization": dialect.authorization(self._token),
            "X-Request-ID": str(uuid.uuid4()),
            "X-Correlation-ID": correlation,
        }
        try:
            return await self._http.request(method, url, headers=headers, json=json, params=params)
        except httpx.TransportError as exc:
            raise OcpiError(
                f"OCPI peer unreachable at {url}: {type(exc).__name__}: {exc or 'no detail'}"
            ) from exc

    def _unwrap(self, response: httpx.Response) -> Any:
        """Check HTTP status and envelope; return ``data`` of a 1000 answer."""
        where = f"{response.request.method} {response.request.url}"
        if response.status_code == 401:
            raise OcpiError(
                f"{where} → HTTP 401: the peer refused the token ({self._token_name})",
                status_code=401,
            )
        try:
            envelope = OcpiResponse.model_validate_json(response.content)
        except ValidationError as exc:
            if response.status_code >= 400:
                text = response.text.strip()[:200] or response.reason_phrase
                raise OcpiError(
                    f"{where} → HTTP {response.status_code}: {text}",
                    status_code=response.status_code,
                ) from exc
            raise OcpiError(
                f"{where} → HTTP {response.status_code}: not an OCPI response envelope: "
                f"{_brief(exc)}",
                status_code=response.status_code,
            ) from exc
        if envelope.status_code != _SUCCESS or response.status_code >= 400:
            message = envelope.status_message or "no status_message"
            raise OcpiError(
                f"{where} → HTTP {response.status_code}, OCPI status_code "
                f"{envelope.status_code}: {message}",
                status_code=envelope.status_code,
            )
        return envelope.data

    async def _call(self, method: str, url: str, *, correlation: str, json: object = None) -> Any:
        return self._unwrap(await self._send(method, url, correlation=correlation, json=json))

    @staticmethod
    def _parse(model: type[_M], data: object, where: str) -> _M:
        try:
            return model.model_validate(data)
        except ValidationError as exc:
            raise OcpiError(
                f"{where}: data is not a valid {model.__name__}: {_brief(exc)}"
            ) from exc

    @staticmethod
    def _parse_list(adapter: TypeAdapter[_T], data: object, where: str) -> _T:
        try:
            return adapter.validate_python(data)
        except ValidationError as exc:
            raise OcpiError(f"{where}: unexpected data: {_brief(exc)}") from exc


def _brief(exc: ValidationError) -> str:
    """A one-line summary of a pydantic error: ``loc: msg; ...``."""
    errors = exc.errors(include_url=False)
    parts = [
        f"{'.'.join(str(p) for p in err['loc']) or '<data>'}: {err['msg']}"
        for err in errors[:_MAX_LISTED_ERRORS]
    ]
    if len(errors) > _MAX_LISTED_ERRORS:
        parts.append(f"... {len(errors) - _MAX_LISTED_ERRORS} more")
    return "; ".join(parts)


def _int_header(response: httpx.Response, name: str, default: int | None) -> int | None:
    """An integer header, or ``default`` when absent; a garbled value is a protocol error."""
    raw = response.headers.get(name)
    if raw is None:
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise OcpiError(
            f"{response.request.method} {response.request.url}: header {name}: {raw!r} "
            "is not an integer"
        ) from exc
