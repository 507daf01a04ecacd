"""A sans-I/O test bench for :class:`ChargePointProtocol`: a simulated clock, a simulated link
and a small central system that answers or refuses each CALL when the test says so.

Every frame in both directions is checked against the official OCPP JSON schemas. What the
charge point put on the wire is kept as :class:`Sent` records, with the connection it went out
on, so tests can assert over the whole story.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from ocpplab_sim.chargepoint import ChargePointConfig, ChargePointProtocol, MemoryOfflineQueue
from ocpplab_sim.protocol.schemas import validate
from ocpplab_sim.station import TransactionIntent

Version = Literal["1.6", "2.0.1"]
T0 = 1_700_000_000.0


def epoch(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


class RecordingQueue(MemoryOfflineQueue[TransactionIntent]):
    """The offline queue, remembering every transaction intent ever appended."""

    def __init__(self) -> None:
        super().__init__()
        self.appended: list[TransactionIntent] = []

    def append(self, item: TransactionIntent) -> None:
        self.appended.append(item)
        super().append(item)


@dataclass
class Sent:
    """One CALL the charge point sent: on which connection, and how it ended."""

    connection: int
    unique_id: str
    action: str
    payload: dict[str, Any]
    at: float
    outcome: str = "pending"  # answered | error | lost | pending


@dataclass
class Bench:
    version: Version
    evse_count: int = 2
    call_timeout_s: float = 5.0
    now: float = T0
    connection: int = 0
    connected: bool = False
    sent: list[Sent] = field(default_factory=list)
    offline: list[tuple[float, float]] = field(default_factory=list)  # [from, to) without a link
    answers_to_csms: list[list[Any]] = field(default_factory=list)
    #: 1.6: each answered StartTransaction and the transactionId the bench gave it
    start_answers: list[tuple[Sent, int]] = field(default_factory=list)
    #: 1.6: ids given to a StartTransaction that was answered again later (a resend)
    superseded_ids: set[int] = field(default_factory=set)
    _offline_since: float | None = T0
    _ids: Any = field(default_factory=lambda: itertools.count(1))

    def __post_init__(self) -> None:
        self.queue = RecordingQueue()
        config = ChargePointConfig(
            "CP-BENCH",
            self.version,
            self.evse_count,
            "ws://127.0.0.1:1",
            call_timeout_s=self.call_timeout_s,
            validation="strict",
            firmware_step_s=1.0,
        )
        counter = itertools.count(1)
        self.cp = ChargePointProtocol(
            config, queue=self.queue, id_factory=lambda: f"tx-{next(counter)}"
        )

    # -- time and the link -------------------------------------------------------------------

    def tick(self, seconds: float = 0.002) -> None:
        """Let time pass (at least a millisecond per step: timestamps tell steps apart)."""
        self.now += seconds
        record = self.pending()
        if record is not None and self.now >= record.at + self.call_timeout_s:
            record.outcome = "error"  # the charge point gives up on it now
        self.cp.handle_timers(self.now)
        self.collect()

    def connect(self) -> None:
        assert not self.connected
        self.connected = True
        self.connection += 1
        if self._offline_since is not None:
            self.offline.append((self._offline_since, self.now))
            self._offline_since = None
        self.cp.connection_made(self.now)
        self.collect()

    def drop(self) -> None:
        assert self.connected
        self.connected = False
        self._offline_since = self.now
        for record in self.sent:
            if record.outcome == "pending":
                record.outcome = "lost"
        self.cp.connection_lost(self.now)
        self.collect()

    def restart_if_asked(self) -> bool:
        """Carry out a reset/reboot the charge point asked for, as its driver does."""
        if self.cp.take_restart() is None:
            return False
        if self.connected:
            self.drop()
        self.tick()
        self.connect()
        return True

    @staticmethod
    def iso(at: float) -> str:
        from ocpplab_sim.protocol.adapter import iso

        return iso(at)

    def was_offline(self, at: float) -> bool:
        spans = [*self.offline]
        if self._offline_since is not None:
            spans.append((self._offline_since, float("inf")))
        # what happens at the time of a drop came before it; at the time of a connect, before
        return any(start < at <= end for start, end in spans)

    # -- frames ------------------------------------------------------------------------------

    def collect(self) -> None:
        """Take what the charge point wrote; a frame written while offline is lost."""
        for raw in self.cp.frames_to_send():
            message = json.loads(raw)
            assert self.connected, f"a frame written without a link: {message}"
            if message[0] == 2:
                _kind, unique_id, action, payload = message
                validate(self.version, action, "request", payload)
                in_flight = self.pending()
                assert in_flight is None, f"{action} sent while {in_flight} waits for an answer"
                self.sent.append(Sent(self.connection, unique_id, action, payload, self.now))
            else:
                self.answers_to_csms.append(message)

    def pending(self) -> Sent | None:
        """The charge point's CALL the central system has not answered yet."""
        for record in reversed(self.sent):
            if record.outcome == "pending" and record.connection == self.connection:
                return record
        return None

    def answer(self) -> bool:
        record = self.pending()
        if record is None or not self.connected:
            return False
        payload = self.response(record)
        validate(self.version, record.action, "response", payload)
        record.outcome = "answered"
        self.cp.receive_frame(json.dumps([3, record.unique_id, payload]), self.now)
        self.collect()
        return True

    def refuse(self) -> bool:
        record = self.pending()
        if record is None or not self.connected:
            return False
        record.outcome = "error"
        frame = [4, record.unique_id, "InternalError", "refused by the bench", {}]
        self.cp.receive_frame(json.dumps(frame), self.now)
        self.collect()
        return True

    def time_out(self) -> bool:
        """Let the pending CALL's timeout pass (the central system never answers it)."""
        record = self.pending()
        if record is None:
            return False
        record.outcome = "error"
        self.tick(self.call_timeout_s + 0.01)
        return True

    def csms_call(self, action: str, payload: dict[str, Any]) -> list[Any]:
        """The central system's CALL; returns the charge point's answer."""
        validate(self.version, action, "request", payload)
        unique_id = f"cs-{next(self._ids)}"
        self.cp.receive_frame(json.dumps([2, unique_id, action, payload]), self.now)
        self.collect()
        answers = [a for a in self.answers_to_csms if a[1] == unique_id]
        assert len(answers) == 1, answers
        answer = answers[0]
        if answer[0] == 3:
            validate(self.version, action, "response", answer[2])
        return answer

    def act(self, event: Any) -> Any:
        """A driver action now; what it wrote is collected."""
        op = self.cp.act(event, self.now)
        self.collect()
        return op

    def answer_until(self, action: str) -> Sent:
        """Answer the charge point's CALLs until ``action`` is the one waiting."""
        for _ in range(50):
            record = self.pending()
            assert record is not None, f"nothing pending before {action}"
            if record.action == action:
                return record
            self.answer()
        raise AssertionError(f"{action} never came")

    def settle(self, rounds: int = 400) -> None:
        """Connect if needed and answer everything until nothing is left to send."""
        self.collect()
        for _ in range(rounds):
            if self.restart_if_asked():
                continue
            if not self.connected:
                self.connect()
                continue
            if self.answer():
                continue
            session = self.cp.session
            idle = session.in_flight is None and not session.fifo and session.boot is None
            if idle and self.cp.queued == 0 and self.cp.registered:
                return
            due = self.cp.next_deadline()
            self.tick(max(0.002, (due or self.now) - self.now + 0.001))
        raise AssertionError(f"did not settle: {self.cp.queued} queued")

    # -- the central system's answers --------------------------------------------------------

    _tx_ids = itertools.count(100)

    def response(self, record: Sent) -> dict[str, Any]:
        now = "2026-01-01T00:00:00.000Z"
        action = record.action
        if action == "BootNotification":
            return {"status": "Accepted", "currentTime": now, "interval": 60}
        if action == "Heartbeat":
            return {"currentTime": now}
        if self.version == "1.6":
            if action == "Authorize":
                return {"idTagInfo": {"status": "Accepted"}}
            if action == "StartTransaction":
                # a fresh id for every StartTransaction, resends included
                number = next(self._tx_ids)
                for earlier, given in self.start_answers:
                    if earlier.payload == record.payload:
                        self.superseded_ids.add(given)
                self.start_answers.append((record, number))
                return {"transactionId": number, "idTagInfo": {"status": "Accepted"}}
            if action == "DataTransfer":
                return {"status": "Accepted"}
            return {}
        if action == "Authorize":
            return {"idTokenInfo": {"status": "Accepted"}}
        if action == "DataTransfer":
            return {"status": "Accepted"}
        return {}
