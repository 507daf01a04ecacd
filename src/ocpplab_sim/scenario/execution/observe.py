"""What the engine learns from the OCPP frames the charge points exchange.

Uses: the time of the last StatusNotification per EVSE (the start of an OCPP → OCPI latency
sample), a short per-charger history of CALLs (the "OCPP messages that led there" of a failed
check), OcppStatusSeen events for timelines and the CALLs the central system sent each charger
(``expect_csms``). What a charger knows (its transactions, its statuses) the engine asks the
charger's port; nothing here re-reads frames to learn it.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ocpplab_sim.scenario.execution.events import EventSink, OcppStatusSeen
from ocpplab_sim.scenario.execution.ports import FrameLike
from ocpplab_sim.topology import Evse, Topology

__all__ = ["CsmsCallSeen", "FrameObserver"]

_HISTORY = 64  # CALLs kept per charger: enough to explain any one check
_SHOWN = 6  # CALLs shown per EVSE in an explanation
_PAYLOAD_CHARS = 140
_CSMS_KEPT = 5000  # central-system CALLs kept for expect_csms


@dataclass(frozen=True)
class _Call:
    at: float
    direction: str
    action: str
    payload: Mapping[str, Any]
    number: int | None


@dataclass(frozen=True)
class CsmsCallSeen:
    """A CALL the central system sent a charger; ``seq`` orders them across the run."""

    seq: int
    at: float
    identity: str
    action: str
    payload: Mapping[str, Any]
    number: int | None


class FrameObserver:
    """Feed it every frame (:meth:`observe`); ask it for latencies and explanations."""

    def __init__(self, topology: Topology, emit: EventSink) -> None:
        self._emit = emit
        self._uid_by_number = {(evse.charger, evse.number): evse.uid for evse in topology.evses}
        # EVSE uid → wall time of the last StatusNotification its charger sent for it
        self._last_status_sent: dict[str, float] = {}
        self._calls: dict[str, deque[_Call]] = {}
        self._csms_calls: deque[CsmsCallSeen] = deque(maxlen=_CSMS_KEPT)
        self._seq = 0

    def observe(self, record: FrameLike) -> None:
        message = record.message
        if len(message) < 4 or message[0] != 2 or not isinstance(message[3], dict):
            return
        action, payload = str(message[2]), message[3]
        number = payload.get("evseId", payload.get("connectorId"))
        if number is None and isinstance(payload.get("evse"), dict):
            number = payload["evse"].get("id")
        number = number if isinstance(number, int) and not isinstance(number, bool) else None
        history = self._calls.setdefault(record.identity, deque(maxlen=_HISTORY))
        history.append(_Call(record.at, record.direction, action, payload, number))
        if record.direction == "in":
            self._seq += 1
            seen = CsmsCallSeen(self._seq, record.at, record.identity, action, payload, number)
            self._csms_calls.append(seen)
            return
        if record.direction != "out" or action != "StatusNotification" or number is None:
            return
        uid = self._uid_by_number.get((record.identity, number))
        if uid is None:
            return
        self._last_status_sent[uid] = record.at
        status = payload.get("status", payload.get("connectorStatus"))
        if isinstance(status, str):
            self._emit(
                OcppStatusSeen(evse_uid=uid, charger=record.identity, status=status, at=record.at)
            )

    @property
    def last_seq(self) -> int:
        """The ``seq`` of the last central-system CALL seen (0: none yet)."""
        return self._seq

    def csms_calls(self) -> tuple[CsmsCallSeen, ...]:
        """Every CALL the central system sent (the last few thousand), oldest first."""
        return tuple(self._csms_calls)

    def take_latencies(self, first_seen: Mapping[str, float]) -> dict[str, float]:
        """OCPP → OCPI latency per EVSE: from the last StatusNotification the charger sent for it
        to the first poll showing the expected status. Each frame counts once: an EVSE whose
        charger sent nothing since the last check that consumed it has no sample."""
        latencies = {}
        for uid, seen in first_seen.items():
            sent = self._last_status_sent.get(uid)
            if sent is not None and sent <= seen:
                latencies[uid] = seen - sent
                del self._last_status_sent[uid]
        return latencies

    def messages_for(self, evse: Evse, origin: float) -> list[str]:
        """The last CALLs concerning ``evse`` (its number, or none), times relative to
        ``origin``: ``+1.20s → StatusNotification {"connectorId": 1, "status": "Charging"}``."""
        calls = [
            call
            for call in self._calls.get(evse.charger, ())
            if call.number is None or call.number == evse.number
        ]
        lines = []
        for call in calls[-_SHOWN:]:
            arrow = "→" if call.direction == "out" else "←"
            text = json.dumps(call.payload, separators=(", ", ": "), default=str)
            if len(text) > _PAYLOAD_CHARS:
                text = text[: _PAYLOAD_CHARS - 1] + "…"
            lines.append(f"{call.at - origin:+.2f}s {arrow} {call.action} {text}")
        return lines
