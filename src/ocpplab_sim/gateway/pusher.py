"""OCPI status push: every EVSE status change PATCHed to the registered eMSP's Locations receiver.

mod_locations §8.2.2 (Receiver interface, PATCH): a CPO pushes changes of its objects to the eMSP;
2.2.1 requires ``last_updated`` in every PATCH. :class:`Pusher` receives committed
:class:`~.station_store.EvseChange` snapshots (in commit order) and keeps one FIFO queue and one
worker task per EVSE, so pushes of one EVSE leave strictly in the order the changes happened —
never an older status after a newer one. Different EVSEs push concurrently.

A failed attempt (transport error, HTTP non-2xx, OCPI ``status_code`` not 1xxx) is retried after
``push_backoff`` seconds, doubling each time, up to ``push_attempts`` tries; a newer change of the
same EVSE supersedes the retries of an older one (the eMSP needs the newest status, and sending it
sooner keeps the order). Every attempt is one ``ocpi_pushes`` row (the report's ``pushes``),
queued on the write-behind writer.
Nothing is sent for a CPO without a registered eMSP whose Locations receiver was discovered.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import quote

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session

from .db import Cpo, Database, Location, OcpiCredentials, OcpiPush
from .ocpi_peer import authorization, patch_status
from .settings import GatewaySettings
from .station_store import EvseChange
from .writer import Writer

__all__ = ["Pusher"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Target:
    url: str
    header: str
    location_id: str


class Pusher:
    """Per-EVSE ordered pushes. :meth:`notify` is the :class:`StationStore` change hook."""

    def __init__(
        self,
        db: Database,
        http: httpx.AsyncClient,
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
        self._wake: dict[int, asyncio.Event] = {}
        self._workers: dict[int, asyncio.Task[None]] = {}
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
        """Status changes waiting to be pushed."""
        return sum(len(queue) for queue in self._queues.values())

    def forget(self, cpo_id: int) -> None:
        """The CPO's credentials changed or it was deleted: look its push targets up again."""
        self._generation[cpo_id] = self._generation.get(cpo_id, 0) + 1
        for key in [k for k in self._targets if k[0] == cpo_id]:
            del self._targets[key]

    def notify(self, changes: list[EvseChange]) -> None:
        """Queue committed changes; starts the EVSE's worker when it is idle."""
        if self._closed:
            return
        for change in changes:
            pk = change.evse_pk
            self._queues.setdefault(pk, deque()).append(change)
            self._wake.setdefault(pk, asyncio.Event()).set()
            if pk not in self._workers:
                self._workers[pk] = asyncio.get_running_loop().create_task(
                    self._work(pk), name=f"ocpi-push-evse-{pk}"
                )

    async def idle(self) -> None:
        """Wait until every queued push is done (tests and orderly shutdown)."""
        while self._workers:
            await asyncio.gather(*list(self._workers.values()), return_exceptions=True)

    async def aclose(self) -> None:
        """Stop: pending pushes are dropped (they are not durable)."""
        self._closed = True
        workers = list(self._workers.values())
        for task in workers:
            task.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
        self._workers.clear()
        self._queues.clear()

    async def _work(self, pk: int) -> None:
        queue = self._queues[pk]
        try:
            while queue:
                change = queue.popleft()
                self._wake[pk].clear()
                try:
                    await self._push(change, queue)
                except asyncio.CancelledError:
                    raise
                except Exception:  # a push must never kill the worker of an EVSE
                    logger.exception("OCPI push of EVSE %s failed unexpectedly", change.evse_uid)
        finally:
            # No await between the emptiness check and the removal: notify() either saw this
            # worker (and queued before the check) or starts a new one.
            self._workers.pop(pk, None)
            self._queues.pop(pk, None)
            self._wake.pop(pk, None)

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

    async def _record(self, row: OcpiPush) -> None:
        """One attempt's row: through the writer (committed with its next batch, not awaited)
        when there is one, else in a transaction of its own."""

        def op(session: Session) -> None:
            session.add(row)

        if self._writer is None:
            async with self._db.write() as session:
                session.add(row)
            return
        await self._writer.reserve()
        self._writer.enqueue(op).add_done_callback(_retrieve)

    async def _push(self, change: EvseChange, queue: deque[EvseChange]) -> None:
        target = await self._evse_target(change)
        if target is None:
            return
        attempts = self._settings.push_attempts
        for attempt in range(1, attempts + 1):
            result = await patch_status(
                self._http, target.url, target.header, change.ocpi_status, change.last_updated
            )
            await self._record(
                OcpiPush(
                    cpo_id=change.cpo_id,
                    location_id=target.location_id,
                    evse_uid=change.evse_uid,
                    url=target.url,
                    ocpi_status=change.ocpi_status,
                    last_updated=change.last_updated,
                    attempt=attempt,
                    ok=result.ok,
                    http_status=result.http_status,
                    ocpi_status_code=result.ocpi_status_code,
                    detail=result.detail,
                    at=self._clock(),
                )
            )
            if result.ok and self.on_pushed is not None:
                self.on_pushed(change.last_updated)
            if result.ok or attempt == attempts or queue:
                return
            delay = self._settings.push_backoff * 2 ** (attempt - 1)
            wake = self._wake[change.evse_pk]
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), delay)
            if queue:
                return  # superseded by a newer status of this EVSE


def _retrieve(future: asyncio.Future[None]) -> None:
    if not future.cancelled() and future.exception() is not None:
        logger.error("push record not written: %r", future.exception())
