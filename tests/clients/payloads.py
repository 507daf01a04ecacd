"""Wire payloads shaped like the Gateway API reference and OCPI 2.2.1, plus a request recorder.

Builders return fresh dicts so a test can break one field without affecting others.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Callable, Sequence
from typing import Any

import httpx

GATEWAY = "http://gateway.test"
TOKEN = "secret-token"


def closed_port() -> int:
    """A localhost port nothing listens on (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


class Recorder:
    """An ``httpx.MockTransport`` that records every request and answers through ``handler``."""

    def __init__(self, handler: Callable[[httpx.Request], httpx.Response]) -> None:
        self.requests: list[httpx.Request] = []
        self._handler = handler
        self.transport = httpx.MockTransport(self._handle)

    def _handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self._handler(request)

    def bodies(self) -> list[Any]:
        return [json.loads(r.content) if r.content else None for r in self.requests]


# -- Gateway API --------------------------------------------------------------------------------


def cpo_payload(cpo_id: str = "101", *, created: bool = False) -> dict[str, Any]:
    """A Cpo exactly like the *Get CPO* example; ``created`` adds token_a/roam_helper as on POST."""
    body: dict[str, Any] = {
        "cpo_id": cpo_id,
        "party": {"country_code": "FR", "party_id": "ABC", "role": "CPO"},
        "name_prefix": "demo",
        "template": "small-urban-ac",
        "template_version": 1,
        "ocpi_peer_url": f"http://gateway.test/ocpi/peer/{cpo_id}/versions",
        "topology": {"locations": 2, "chargers": 6, "evses": 6, "connectors": 6},
        "report_url": f"/ocpi/cpos/{cpo_id}/report",
        "destroy_url": f"/ocpi/cpos/{cpo_id}",
        "expires_at": "2026-04-21T21:00:00Z",
        "created_at": "2026-04-21T20:00:00Z",
        "updated_at": "2026-04-21T20:00:30Z",
    }
    if created:
        body["token_a"] = "tok-A-123"
        body["roam_helper"] = {
            "versions_url": body["ocpi_peer_url"],
            "token_a": "tok-A-123",
            "party": {"country_code": "FR", "party_id": "ABC", "role": "CPO"},
            "ocpi_version": "2.2.1",
        }
        body["status"] = "pending"
    else:
        body["token_a"] = None
        body["roam_helper"] = None
    return body


def status_payload(status: str, *, cpo_id: str = "101", error: str | None = None) -> dict[str, Any]:
    return {"cpo_id": cpo_id, "status": status, "error": error, "updated_at": "2026-04-21T20:00Z"}


def charger_payload(
    identity: str, evse_uids: Sequence[str], *, version: str | None = "1.6", charger_id: str = ""
) -> dict[str, Any]:
    return {
        "id": charger_id or f"ch-{identity}",
        "identity": identity,
        "connector_type": "IEC_62196_T2",
        "ocpp_version": version,
        "charge_point_id": f"cp-{identity}",
        "evses": [
            {
                "evse_uid": uid,
                "ocpi_evse_id": f"FR*ABC*E{uid}",
                "ocpi_connector_id": "1",
                "topology_id": f"topo-{uid}",
            }
            for uid in evse_uids
        ],
        "topology_default_id": None,
    }


def location_payload(location_id: str, chargers: Sequence[dict[str, Any]] = ()) -> dict[str, Any]:
    return {
        "id": location_id,
        "ocpp_location_id": f"ocpp-{location_id}",
        "organization_id": "org-1",
        "slug": f"loc-{location_id}",
        "name": f"Location {location_id}",
        "address": "1 rue de la Paix",
        "city": "Paris",
        "country": "FRA",
        "coordinates": {"latitude": 48.8566, "longitude": 2.3522},
        "timezone": "Europe/Paris",
        "owner_name": "demo",
        "public": True,
        "chargers": list(chargers),
        "created_at": "2026-04-21T20:00:00Z",
        "updated_at": None,
    }


def location_list(
    data: Sequence[dict[str, Any]], *, total: int, page: int, limit: int
) -> dict[str, Any]:
    return {"data": list(data), "total": total, "page": page, "limit": limit}


def report_payload(cpo_id: str = "101") -> dict[str, Any]:
    return {
        "cpo_id": cpo_id,
        "status": "ready",
        "evses": [
            {
                "evse_uid": "E1",
                "station_id": "CP-1",
                "ocpp_number": 1,
                "ocpp_status": "Charging",
                "ocpi_status": "CHARGING",
                "online": True,
                "history": [
                    {"at": "2026-04-21T20:01:00Z", "ocpp_status": None, "ocpi_status": "UNKNOWN"},
                    {
                        "at": "2026-04-21T20:02:00Z",
                        "ocpp_status": "Charging",
                        "ocpi_status": "CHARGING",
                    },
                ],
            }
        ],
        "messages": {"BootNotification": 1, "StatusNotification": 3},
        "connections": [{"station_id": "CP-1", "event": "connected", "at": "2026-04-21T20:01Z"}],
        "transactions": [
            {
                "station_id": "CP-1",
                "ocpp_number": 1,
                "transaction_id": 7,
                "id_token": "TAG1",
                "meter_start_wh": 0,
                "meter_stop_wh": None,
                "energy_wh": None,
                "started_at": "2026-04-21T20:02:00Z",
                "stopped_at": None,
            }
        ],
    }


# -- OCPI 2.2.1 ---------------------------------------------------------------------------------


def envelope(data: Any, *, code: int = 1000, message: str = "Success") -> dict[str, Any]:
    return {
        "data": data,
        "status_code": code,
        "status_message": message,
        "timestamp": "2026-04-21T20:00:00Z",
    }


def ocpi_evse(uid: str, status: str = "AVAILABLE") -> dict[str, Any]:
    return {
        "uid": uid,
        "evse_id": f"FR*ABC*E{uid}",
        "status": status,
        "connectors": [
            {
                "id": "1",
                "standard": "IEC_62196_T2",
                "format": "SOCKET",
                "power_type": "AC_3_PHASE",
                "max_voltage": 400,
                "max_amperage": 32,
                "last_updated": "2026-04-21T20:00:00Z",
            }
        ],
        "last_updated": "2026-04-21T20:00:00Z",
    }


def ocpi_location(location_id: str, evses: Sequence[tuple[str, str]] = ()) -> dict[str, Any]:
    return {
        "country_code": "FR",
        "party_id": "ABC",
        "id": location_id,
        "publish": True,
        "name": f"Location {location_id}",
        "address": "1 rue de la Paix",
        "city": "Paris",
        "postal_code": "75002",
        "country": "FRA",
        "coordinates": {"latitude": "48.856600", "longitude": "2.352200"},
        "time_zone": "Europe/Paris",
        "evses": [ocpi_evse(uid, status) for uid, status in evses],
        "last_updated": "2026-04-21T20:00:00Z",
    }


def cpo_credentials(token: str, url: str) -> dict[str, Any]:
    return {
        "token": token,
        "url": url,
        "roles": [
            {
                "role": "CPO",
                "business_details": {"name": "Demo CPO"},
                "party_id": "ABC",
                "country_code": "FR",
            }
        ],
    }
