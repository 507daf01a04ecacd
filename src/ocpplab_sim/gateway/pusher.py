"""OCPI status push: every EVSE status change PATCHed to the registered eMSP's Locations receiver.

mod_locations §8.2.2 (Receiver interface, PATCH): a CPO pushes changes of its objects to the eMSP;
2.2.1 requires ``last_updated`` in every PATCH. :class:`Pusher` receives committed
:class:`~.station_store.EvseChange` snapshots (in commit order) and keeps one FIFO queue per EVSE,
worked by a bounded pool of ``push_concurrency`` workers that never push one EVSE twice at once,
so pushes of one EVSE leave strictly in the order the changes happened — never an older status
after a newer one. Different EVSEs push concurrently.

A failed attempt (transport error, HTTP non-2xx, OCPI ``status_code`` not 1xxx) is retried after
``push_backoff`` seconds, doubling each time, up to ``push_attempts`` tries; a newer change of the
same EVSE supersedes the retries of an older one (the eMSP needs the newest status, and sending it
sooner keeps the order). Every attempt is one ``ocpi_pushes`` row (the report's ``pushes``),
queued on the write-behind writer.
Nothing is sent for a CPO without a registered eMSP whose Locations receiver was discovered.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote

import aiohttp
from sqlalchemy import Table, select
from sqlalchemy.orm import Session

from .db import Cpo, Database, Location, OcpiCredentials, OcpiPush
from .ocpi_peer import authorization, patch_status
from .settings import GatewaySettings
from .station_store import EvseChange
from .writer import Writer, append_row

__all__ = ["Pusher"]

_PUSHES: Table = OcpiPush.__table__  # type: ignore[assignment]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Target:
    url: str
    header: str
    location_id: str


class Pusher:
    """Per-EVSE ordered pushes through a bounded pool of workers. :meth:`notify` is the
    :class:`StationStore` change hook.

    At most ``push_concurrency`` PATCHes are in flight (the HTTP client's pool is sized to
    match). An EVSE with queued changes waits in one ready line; a worker takes one change of
    it, and the EVSE goes back to the end of the line while it has more, so one busy EVSE never
    holds the others up and no two workers ever push the same EVSE. A failed attempt waits for
    its retry on a timer, not in a worker: a dead eMSP ties up no capacity.
    """

    def __init__(
        self,
        db: Database,
        http: aiohttp.ClientSession,
        settings: GatewaySettings,
        clock: Callable[[], datetime],
        writer: Writer | None = None,
    ) -> None:
        self._db = db
        self._writer = writer
        self._http = http
        self._settings = settings
        self._clock = clock
        self._queues: dict[int, deque[EvseChange]] = {}
        # Every EVSE with a queue is in exactly one place: waiting in _ready, taken by a worker
        # (_busy) or waiting for a retry (_retries).
        self._ready: deque[int] = deque()
        self._busy: set[int] = set()
        self._retries: dict[int, _Retry] = {}
        self._attempts: dict[int, int] = {}  # the next attempt's number, when not 1
        self._wake = asyncio.Event()
        self._workers: list[asyncio.Task[None]] = []
        self._idle = asyncio.Event()
        self._idle.set()
        self._closed = False
        # Push targets by (CPO, location pk): immutable except through the credentials module
        # or a deletion, which call forget(); a generation per CPO keeps a lookup that raced
        # with forget() from caching its stale answer.
        self._targets: dict[tuple[int, int], _Target | None] = {}
        self._generation: dict[int, int] = {}
        #: told of each push the eMSP answered, with the time its OCPP status arrived
        self.on_pushed: Callable[[datetime], None] | None = None

    @property
    def depth(self) -> int:
        """Status changes waiting to be pushed (retries included)."""
        return sum(len(queue) for queue in self._queues.values()) + len(self._retries)

    def forget(self, cpo_id: int) -> None:
        """The CPO's credentials changed or it was deleted: look its push targets up again."""
        self._generation[cpo_id] = self._generation.get(cpo_id, 0) + 1
        for key in [k for k in self._targets if k[0] == cpo_id]:
            del self._targets[key]

    def notify(self, changes: list[EvseChange]) -> None:
        """Queue committed changes (in commit order)."""
        if self._closed:
            return
        for change in changes:
            pk = change.evse_pk
            queue = self._queues.get(pk)
            if queue is None:
                queue = self._queues[pk] = deque()
            queue.append(change)
            retry = self._retries.pop(pk, None)
            if retry is not None:
                # A newer status supersedes the retries of an older one: send it now.
                if retry.timer is not None:
                    retry.timer.cancel()
                self._ready.append(pk)
            elif len(queue) == 1 and pk not in self._busy:
                self._ready.append(pk)
        if self._ready:
            self._idle.clear()
            self._wake.set()
            self._start_workers()

    def _start_workers(self) -> None:
        wanted = min(self._settings.push_concurrency, len(self._ready) + len(self._busy))
        loop = asyncio.get_running_loop()
        while len(self._workers) < wanted:
            name = f"ocpi-push-{len(self._workers)}"
            self._workers.append(loop.create_task(self._work(), name=name))

    async def idle(self) -> None:
        """Wait until every queued push is done (tests and orderly shutdown)."""
        await self._idle.wait()

    async def aclose(self) -> None:
        """Stop: pending pushes are dropped (they are not durable)."""
        self._closed = True
        for retry in self._retries.values():
            if retry.timer is not None:
                retry.timer.cancel()
        for task in self._workers:
            task.cancel()
        await asyncio.gather(*self._workers, return_exceptions=True)
        self._workers.clear()
        self._queues.clear()
        self._ready.clear()
        self._retries.clear()
        self._busy.clear()
        self._attempts.clear()
        self._idle.set()

    async def _work(self) -> None:
        while True:
            while not self._ready:
                self._wake.clear()
                await self._wake.wait()
            pk = self._ready.popleft()
            change = self._queues[pk].popleft()
            attempt = self._attempts.pop(pk, 1)
            self._busy.add(pk)
            retry = False
            try:
                retry = await self._push(change, attempt)
            except asyncio.CancelledError:
                raise
            except Exception:  # a push must never kill a worker
                logger.exception("OCPI push of EVSE %s failed unexpectedly", change.evse_uid)
            finally:
                self._busy.discard(pk)
            self._after(pk, _Retry(change, attempt + 1) if retry else None)

    def _after(self, pk: int, retry: _Retry | None) -> None:
        """One push of ``pk`` is done: line it up again, wait for its retry, or let it go."""
        queue = self._queues.get(pk)
        if queue is None:
            return  # closed meanwhile
        if queue:
            self._ready.append(pk)  # newer changes supersede a retry
            self._wake.set()
        elif retry is not None:
            delay = self._settings.push_backoff * 2 ** (retry.attempt - 2)
            retry.timer = asyncio.get_running_loop().call_later(delay, self._retry_due, pk)
            self._retries[pk] = retry
        else:
            del self._queues[pk]
        if not self._ready and not self._busy and not self._retries:
            self._idle.set()

    def _retry_due(self, pk: int) -> None:
        retry = self._retries.pop(pk, None)
        if retry is None or self._closed:
            return
        # The queue is empty (a newer change would have superseded the retry): the change goes
        # back at its head, with the number of its next attempt.
        self._queues[pk].appendleft(retry.change)
        self._attempts[pk] = retry.attempt
        self._ready.append(pk)
        self._idle.clear()
        self._wake.set()

    async def _target(self, change: EvseChange) -> _Target | None:
        key = (change.cpo_id, change.location_pk)
        if key in self._targets:
            return self._targets[key]
        generation = self._generation.get(change.cpo_id, 0)
        target = await self._lookup(change)
        if self._generation.get(change.cpo_id, 0) == generation:
            self._targets[key] = target
        return target

    async def _evse_target(self, change: EvseChange) -> _Target | None:
        """The PATCH URL of the changed EVSE (its location's target + ``/evse_uid``)."""
        location = await self._target(change)
        if location is None:
            return None
        url = location.url + "/" + quote(change.evse_uid, safe="")
        return _Target(url, location.header, location.location_id)

    async def _lookup(self, change: EvseChange) -> _Target | None:
        async with self._db.read() as session:
            row = (
                await session.execute(
                    select(Cpo, OcpiCredentials, Location.ocpi_id)
                    .join(OcpiCredentials, OcpiCredentials.cpo_id == Cpo.id)
                    .join(Location, Location.cpo_id == Cpo.id)
                    .where(Cpo.id == change.cpo_id, Location.pk == change.location_pk)
                )
            ).one_or_none()
        if row is None:
            return None
        cpo, creds, location_id = row
        if (
            cpo.status == "deleted"
            or creds.registered_at is None
            or not creds.peer_locations_url
            or not creds.peer_token_b
        ):
            return None
        parts = (cpo.country_code, cpo.party_id, location_id)
        url = creds.peer_locations_url + "/" + "/".join(quote(p, safe="") for p in parts)
        header = authorization(creds.peer_token_b, creds.ocpi_version or "2.2.1")
        return _Target(url, header, location_id)

    async def _record(self, row: dict[str, Any]) -> None:
        """One attempt's ``ocpi_pushes`` row: through the writer (committed with its next batch,
        not awaited) when there is one, else in a transaction of its own."""

        def op(session: Session) -> None:
            append_row(session, _PUSHES, row)

        if self._writer is None:
            async with self._db.write() as session:
                session.add(OcpiPush(**row))
            return
        await self._writer.reserve()
        self._writer.enqueue(op).add_done_callback(_retrieve)

    async def _push(self, change: EvseChange, attempt: int) -> bool:
        """One attempt; True when it failed and has tries left."""
        target = await self._evse_target(change)
        if target is None:
            return False
        result = await patch_status(
            self._http, target.url, target.header, change.ocpi_status, change.last_updated
        )
        await self._record(
            {
                "cpo_id": change.cpo_id,
                "location_id": target.location_id,
                "evse_uid": change.evse_uid,
                "url": target.url,
                "ocpi_status": change.ocpi_status,
                "last_updated": change.last_updated,
                "attempt": attempt,
                "ok": result.ok,
                "http_status": result.http_status,
                "ocpi_status_code": result.ocpi_status_code,
                "detail": result.detail,
                "at": self._clock(),
            }
        )
        if result.ok and self.on_pushed is not None:
            self.on_pushed(change.last_updated)
        return not result.ok and attempt < self._settings.push_attempts


@dataclass
class _Retry:
    """The next attempt of a failed push, and the timer that lines it up."""

    change: EvseChange
    attempt: int
    timer: asyncio.TimerHandle | None = None


def _retrieve(future: asyncio.Future[None]) -> None:
    if not future.cancelled() and future.exception() is not None:
        logger.error("push record not written: %r", future.exception())
