"""The version-neutral central-system operations, written for each charger's OCPP version.

``remote_start`` is RemoteStartTransaction in OCPP 1.6 (§5.11) and RequestStartTransaction in
2.0.1 (F01); likewise ``remote_stop`` (§5.12 / F03), ``change_availability`` (§5.2 / G03),
``reset`` (§5.14 / B11-B12), ``unlock`` (§5.18 / F05), ``reserve`` (§5.13 / H01) and
``cancel_reservation`` (§5.1 / H02). Payloads are the wire payloads of each version.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ocpplab_sim.scenario.language.actions import (
    CancelReservation,
    ChangeAvailability,
    RemoteStart,
    RemoteStop,
    Reserve,
    Reset,
    Unlock,
)
from ocpplab_sim.topology import Evse, OcppVersion

__all__ = ["Ids", "NeutralOperation", "OperationError", "wire_request"]

NeutralOperation = (
    RemoteStart | RemoteStop | ChangeAvailability | Reset | Unlock | Reserve | CancelReservation
)


@dataclass(frozen=True)
class Ids:
    """What a request needs besides the step: the token, a fresh number (remoteStartId or
    reservation id), the running transaction and the time."""

    id_token: str
    number: int
    transaction_id: str | int | None
    now: float


class OperationError(ValueError):
    """The operation cannot be written (e.g. no session to stop); the message says why."""


def _id_token(token: str) -> dict[str, str]:
    return {"idToken": token, "type": "Central"}


def _iso(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def wire_request(
    step: NeutralOperation, version: OcppVersion, evse: Evse | None, ids: Ids
) -> tuple[str, dict[str, Any]]:
    """(action, payload) of ``step`` for a charger of ``version``; ``evse`` is ``None`` for a
    whole-charger operation. Raises OperationError when there is nothing to act on."""
    old = version == "1.6"
    number = evse.number if evse is not None else 0
    if isinstance(step, RemoteStart):
        if old:
            return "RemoteStartTransaction", {"connectorId": number, "idTag": ids.id_token}
        return "RequestStartTransaction", {
            "evseId": number,
            "idToken": _id_token(ids.id_token),
            "remoteStartId": ids.number,
        }
    if isinstance(step, RemoteStop):
        tx = ids.transaction_id
        if tx is None:
            where = evse.uid if evse is not None else "the charger"
            raise OperationError(f"no session is running on {where} (none seen in its messages)")
        if old:
            return "RemoteStopTransaction", {"transactionId": int(tx)}
        return "RequestStopTransaction", {"transactionId": str(tx)}
    if isinstance(step, ChangeAvailability):
        kind = "Operative" if step.operative else "Inoperative"
        if old:
            return "ChangeAvailability", {"connectorId": number, "type": kind}
        payload: dict[str, Any] = {"operationalStatus": kind}
        if evse is not None:
            payload["evse"] = {"id": number}
        return "ChangeAvailability", payload
    if isinstance(step, Reset):
        if old:
            return "Reset", {"type": "Hard" if step.hard else "Soft"}
        return "Reset", {"type": "Immediate" if step.hard else "OnIdle"}
    if isinstance(step, Unlock):
        if old:
            return "UnlockConnector", {"connectorId": number}
        return "UnlockConnector", {"evseId": number, "connectorId": 1}
    if isinstance(step, Reserve):
        expires = _iso(ids.now + step.expires_in)
        if old:
            return "ReserveNow", {
                "connectorId": number,
                "expiryDate": expires,
                "idTag": ids.id_token,
                "reservationId": ids.number,
            }
        return "ReserveNow", {
            "id": ids.number,
            "expiryDateTime": expires,
            "idToken": _id_token(ids.id_token),
            "evseId": number,
        }
    return "CancelReservation", {"reservationId": ids.number}
