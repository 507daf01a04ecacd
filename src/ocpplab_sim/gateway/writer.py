"""The write-behind database writer: one task, one bounded queue, group commit.

Every write of the OCPP hot path (connect, disconnect, status, transactions, meter values, push
records) is an *operation*: a plain function run on the writer's (synchronous) session. With a
SQLite file the whole batch runs in the writer's own thread on a synchronous connection (one
hand-over per batch, not one per statement); otherwise (PostgreSQL, in-memory SQLite) it runs
through the async session's ``run_sync``. The writer task
takes whatever operations are queued (up to ``max_batch``), runs them in order in **one**
transaction and commits once (group commit); only then are their futures resolved and their
``after`` callbacks called, in queue order. A caller that acknowledges a write to a charger
awaits its future, so nothing acknowledged is lost across a crash, while hundreds of such writes
share one commit. Callers that need no acknowledgement (a close, a push record) enqueue and go on.

Back-pressure: the queue holds at most ``max_pending`` operations; :meth:`Writer.reserve` waits
for room (one waiter woken per freed slot, in arrival order), so a slow database slows ingest
instead of growing memory. Enqueueing itself never awaits, so a caller can change in-memory
state and enqueue the matching operation atomically (queue order = state order).

Hot-path operations write with :func:`update_row` / :func:`update_where` (Core statements
compiled once, no ORM unit of work) and :func:`append_row` (rows of append-only tables, inserted
with one ``executemany`` per table at the end of the batch, inside its transaction). Inside a
batch, :func:`update_row` is deferred and merged: the updates of one row become one (later
values win, exactly as if they had run in order), and all of them are written with one
``executemany`` per table and set of columns just before the batch's next other statement runs
(a ``before_execute`` hook) or at its end — a status change's EVSE and location rows, hundreds
a batch, cost one statement each instead of one round through the SQL layer each.

If an operation raises, the batch is rolled back and its operations are re-run one transaction
each, so one bad operation fails alone. ``flushers`` (pending counters) run at the start of every
batch, and at least every ``flush_interval`` seconds while they report work.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from sqlalchemy import (
    Connection,
    Engine,
    Table,
    Update,
    bindparam,
    create_engine,
    event,
    insert,
)
from sqlalchemy.orm import Session

from .db import Database, _sqlite_pragmas

__all__ = [
    "Flusher",
    "Operation",
    "Writer",
    "WriterClosed",
    "append_row",
    "flush_appends",
    "update_row",
    "update_where",
]

logger = logging.getLogger(__name__)

T = TypeVar("T")

Operation = Callable[[Session], T]


_APPENDS = "ocpplab_appends"
_DEFERRED = "ocpplab_deferred_updates"
_UPDATES: dict[tuple[Table, str], Update] = {}


def append_row(session: Session, table: Table, values: dict[str, Any]) -> None:
    """Insert ``values`` into the append-only ``table`` with the rest of the batch (nothing in
    the batch may read the row back before its end)."""
    session.info.setdefault(_APPENDS, {}).setdefault(table, []).append(values)


def flush_appends(session: Session) -> None:
    """Insert the rows :func:`append_row` collected: one ``executemany`` per table."""
    appends: dict[Table, list[dict[str, Any]]] = session.info.pop(_APPENDS, {})
    if not appends:
        return
    connection = session.connection()
    for table, rows in appends.items():
        connection.execute(insert(table), rows)


def update_where(
    session: Session, table: Table, key: str, value: Any, values: dict[str, Any]
) -> None:
    """``UPDATE table SET values WHERE key = value``, with a statement built once per table and
    key (Core derives the SET clause from the parameters)."""
    session.connection().execute(_update(table, key), {"where_": value, **values})


def _update(table: Table, key: str) -> Update:
    """``UPDATE table … WHERE key = :where_``, built once per table and key (Core derives the
    SET clause from the parameters)."""
    stmt = _UPDATES.get((table, key))
    if stmt is None:
        stmt = _UPDATES[table, key] = table.update().where(table.c[key] == bindparam("where_"))
    return stmt


def update_row(session: Session, table: Table, pk: Any, values: dict[str, Any]) -> None:
    """``UPDATE table SET values WHERE pk = pk`` — in a writer batch deferred and merged with
    the batch's other updates of the row (see the module doc), otherwise at once."""
    connection = session.connection()
    deferred: dict[Table, dict[Any, dict[str, Any]]] | None = connection.info.get(_DEFERRED)
    if deferred is None:
        update_where(session, table, "pk", pk, values)
        return
    rows = deferred.get(table)
    if rows is None:
        rows = deferred[table] = {}
    row = rows.get(pk)
    if row is None:
        rows[pk] = dict(values)
    else:
        row.update(values)


def _defer_updates(connection: Connection) -> None:
    connection.info[_DEFERRED] = {}


def _write_deferred(connection: Connection) -> None:
    """Write the deferred updates: one ``executemany`` per table and set of columns."""
    deferred: dict[Table, dict[Any, dict[str, Any]]] | None = connection.info.get(_DEFERRED)
    if not deferred:
        return
    connection.info[_DEFERRED] = {}  # before executing: the hook below sees nothing pending
    for table, rows in deferred.items():
        shapes: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        for pk, values in rows.items():
            shapes.setdefault(tuple(values), []).append({"where_": pk, **values})
        for params in shapes.values():
            connection.execute(_update(table, "pk"), params)


def _stop_deferring(connection: Connection) -> None:
    connection.info.pop(_DEFERRED, None)


def _before_execute(connection: Connection, *_args: Any) -> None:
    """Any other statement of a batch first writes the updates deferred before it."""
    if connection.info.get(_DEFERRED):
        _write_deferred(connection)


def defer_updates_on(engine: Engine) -> None:
    """Let batches on ``engine`` defer :func:`update_row` (idempotent)."""
    if not event.contains(engine, "before_execute", _before_execute):
        event.listen(engine, "before_execute", _before_execute)


class Flusher:
    """Something with pending writes of its own (e.g. counters) the writer drains: ``take``
    hands over the pending state, ``write`` writes it, ``give_back`` returns it if the
    transaction failed."""

    def dirty(self) -> bool:  # pragma: no cover - interface
        raise NotImplementedError

    def take(self) -> Any:  # pragma: no cover - interface
        raise NotImplementedError

    def write(self, session: Session, state: Any) -> None:  # pragma: no cover - interface
        raise NotImplementedError

    def give_back(self, state: Any) -> None:  # pragma: no cover - interface
        raise NotImplementedError


class WriterClosed(RuntimeError):
    """The writer stopped: the operation was not committed."""


@dataclass
class _Item(Generic[T]):
    op: Operation[T]
    future: asyncio.Future[T]
    after: Callable[[T], None] | None = None
    result: Any = field(default=None)


class Writer:
    """The single writer task of a gateway (see the module doc)."""

    def __init__(
        self,
        db: Database,
        *,
        max_pending: int = 20_000,
        max_batch: int = 1_000,
        flush_interval: float = 1.0,
    ) -> None:
        self._db = db
        self.max_pending = max_pending
        self._max_batch = max_batch
        self._flush_interval = flush_interval
        self._queue: deque[_Item[Any]] = deque()
        self._space: deque[asyncio.Future[None]] = deque()
        self._wake = asyncio.Event()
        self._flushers: list[Flusher] = []
        self._task: asyncio.Task[None] | None = None
        self._closed = False
        self.batches = 0
        self.committed = 0
        self._engine: Engine | None = None
        self._thread: ThreadPoolExecutor | None = None
        url = db.engine.url
        if url.get_backend_name() == "sqlite" and not db.memory:
            self._engine = create_engine(
                url.set(drivername="sqlite+pysqlite"),
                connect_args={"check_same_thread": False},
                pool_size=1,
                max_overflow=0,
            )
            event.listen(self._engine, "connect", _sqlite_pragmas)
            self._thread = ThreadPoolExecutor(1, thread_name_prefix="gateway-writer")
        defer_updates_on(self._engine if self._engine is not None else db.engine.sync_engine)

    def add_flusher(self, flusher: Flusher) -> None:
        self._flushers.append(flusher)

    @property
    def pending(self) -> int:
        """Operations queued and not yet taken by the writer."""
        return len(self._queue)

    @property
    def waiting(self) -> int:
        """Callers waiting in :meth:`reserve` for room in the queue."""
        return sum(1 for waiter in self._space if not waiter.done())

    @property
    def depth(self) -> int:
        """Writes queued and not yet committed."""
        return len(self._queue)

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="gateway-writer")

    async def reserve(self) -> None:
        """Wait until the queue has room for one more operation (back-pressure)."""
        if self._closed:
            raise WriterClosed("writer stopped")
        if len(self._queue) + len(self._space) < self.max_pending and not self._space:
            return
        waiter = asyncio.get_running_loop().create_future()
        self._space.append(waiter)
        try:
            await waiter
        except BaseException:
            if not waiter.cancelled() and waiter.done():
                self._release_space()  # pass the slot on
            raise
        if self._closed:
            raise WriterClosed("writer stopped")

    def enqueue(
        self, op: Operation[T], after: Callable[[T], None] | None = None
    ) -> asyncio.Future[T]:
        """Queue ``op`` (no await: call :meth:`reserve` first to respect the bound); the future
        resolves to its result once committed. ``after`` is called with the result right after
        the commit, in queue order."""
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        if self._closed:
            future.set_exception(WriterClosed("writer stopped"))
            return future
        self._queue.append(_Item(op, future, after))
        self._wake.set()
        return future

    async def submit(self, op: Operation[T], after: Callable[[T], None] | None = None) -> T:
        """Reserve room, queue ``op`` and wait for its commit; its result."""
        await self.reserve()
        return await self.enqueue(op, after)

    async def sync(self) -> None:
        """Wait until everything queued so far (and pending counters) is committed."""
        await self.submit(_noop)

    async def aclose(self) -> None:
        """Commit what is queued, then stop."""
        if self._task is not None and not self._task.done():
            try:
                await self.sync()
            except Exception:
                logger.exception("final write-behind flush failed")
        self._closed = True
        for waiter in self._space:
            if not waiter.done():
                waiter.set_result(None)
        self._space.clear()
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        for item in self._queue:
            if not item.future.done():
                item.future.set_exception(WriterClosed("writer stopped"))
        self._queue.clear()
        if self._thread is not None:
            self._thread.shutdown(wait=True)
        if self._engine is not None:
            self._engine.dispose()

    def _release_space(self) -> None:
        while self._space:
            waiter = self._space.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return

    async def _run(self) -> None:
        while True:
            if not self._queue:
                self._wake.clear()
                timeout = self._flush_interval if any(f.dirty() for f in self._flushers) else None
                try:
                    async with asyncio.timeout(timeout):
                        await self._wake.wait()
                except TimeoutError:
                    pass
            batch: list[_Item[Any]] = []
            while self._queue and len(batch) < self._max_batch:
                batch.append(self._queue.popleft())
            free = self.max_pending - len(self._queue)
            for _ in range(min(len(batch), max(0, free))):
                self._release_space()
            if not batch and not any(f.dirty() for f in self._flushers):
                continue
            try:
                await self._commit(batch)
            except asyncio.CancelledError:
                for item in batch:
                    if not item.future.done():
                        item.future.set_exception(WriterClosed("writer stopped"))
                raise
            except Exception as exc:  # the database itself failed (disk full, connection lost)
                logger.exception("write-behind batch of %d failed", len(batch))
                for item in batch:
                    if not item.future.done():
                        item.future.set_exception(exc)
                await asyncio.sleep(0.1)
                continue
            self.batches += 1
            self.committed += len(batch)
            for item in batch:
                if item.future.done():
                    continue
                if isinstance(item.result, _Failed):
                    item.future.set_exception(item.result.exc)
                    continue
                if item.after is not None:
                    try:
                        item.after(item.result)
                    except Exception:
                        logger.exception("after-commit callback failed")
                item.future.set_result(item.result)
            del batch
            # Let the callers run before the next batch starts (keeps latency fair).
            await asyncio.sleep(0)

    async def _commit(self, batch: list[_Item[Any]]) -> None:
        taken = [(f, f.take()) for f in self._flushers if f.dirty()]
        try:
            await self._in_transaction(self._apply, taken, batch)
            return
        except Exception as exc:
            for flusher, state in taken:
                flusher.give_back(state)
            if len(batch) <= 1:
                if batch:
                    batch[0].result = _Failed(exc)
                    return
                raise
            logger.warning(
                "write-behind batch failed (%s); retrying its operations one by one", exc
            )
        for item in batch:
            try:
                await self._in_transaction(self._apply, [], [item])
            except Exception as exc:
                item.result = _Failed(exc)

    async def _in_transaction(self, fn: Callable[..., None], *args: Any) -> None:
        """Run ``fn(session, *args)`` in one committed transaction, under the database's write
        lock (provisioning and the API write through it too)."""
        if self._engine is None or self._thread is None:
            async with self._db.write() as session:
                await session.run_sync(fn, *args)
            return
        engine = self._engine

        def run() -> None:
            with Session(engine, expire_on_commit=False) as session, session.begin():
                fn(session, *args)

        async with self._db.write_lock():
            await asyncio.get_running_loop().run_in_executor(self._thread, run)

    @staticmethod
    def _apply(session: Session, taken: list[tuple[Flusher, Any]], batch: list[_Item[Any]]) -> None:
        connection = session.connection()
        _defer_updates(connection)
        try:
            for flusher, state in taken:
                flusher.write(session, state)
            for index, item in enumerate(batch, 1):
                item.result = item.op(session)
                if index % 200 == 0:
                    # keep the identity map small in big batches
                    session.flush()
                    session.expunge_all()
            session.flush()
            _write_deferred(connection)
            flush_appends(session)
        finally:
            _stop_deferring(connection)


@dataclass
class _Failed:
    exc: BaseException


def _noop(session: Session) -> None:
    return None
