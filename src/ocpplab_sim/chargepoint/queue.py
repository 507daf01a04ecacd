"""Offline queue for transaction-related messages (OCPP 1.6 §4.7/§4.8/§4.10; 2.0.1 Part 2, E04).

The queue stores whatever item type its owner chooses; the charge point stores version-neutral
station intents, which are plain frozen dataclasses, so a durable implementation only needs to
serialize them. Items leave the queue only after the central system answered them
(:meth:`OfflineQueue.pop` after delivery), which gives at-least-once delivery in order.
"""

from __future__ import annotations

import json
import os
from collections import deque
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Generic, Literal, Protocol, TypeVar

__all__ = ["FileOfflineQueue", "MemoryOfflineQueue", "OfflineQueue"]

T = TypeVar("T")


class OfflineQueue(Protocol[T]):
    """FIFO contract shared by the in-memory queue and any later durable one."""

    def __len__(self) -> int: ...

    def __iter__(self) -> Iterator[T]: ...

    def append(self, item: T) -> None: ...

    def peek(self) -> T:
        """The oldest item, left in place. Raises IndexError when empty."""
        ...

    def pop(self) -> T:
        """Remove and return the oldest item, once it has been delivered."""
        ...


class MemoryOfflineQueue(Generic[T]):
    """An unbounded in-memory FIFO; lost when the process ends."""

    def __init__(self) -> None:
        self._items: deque[T] = deque()

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[T]:
        return iter(self._items)

    def append(self, item: T) -> None:
        self._items.append(item)

    def peek(self) -> T:
        return self._items[0]

    def pop(self) -> T:
        return self._items.popleft()


class FileOfflineQueue(Generic[T]):
    """A FIFO kept in an append-only journal file, so that it survives a restart.

    Each :meth:`append` writes ``+`` and the encoded item, each :meth:`pop` writes ``-``; both
    are flushed to the operating system before returning (``fsync=True`` also forces them to
    the disk). Opening the same path again replays the journal. The file is emptied whenever
    the queue becomes empty, so it stays small. The file is opened per write: thousands of
    queues cost no file descriptors while idle.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        encode: Callable[[T], Any],
        decode: Callable[[Any], T],
        *,
        fsync: bool = False,
    ) -> None:
        self._path = Path(path)
        self._encode = encode
        self._fsync = fsync
        self._items: deque[T] = deque()
        if self._path.exists():
            with self._path.open(encoding="utf-8") as journal:
                for line in journal:
                    if line.startswith("+"):
                        try:
                            self._items.append(decode(json.loads(line[1:])))
                        except ValueError:
                            break  # a torn last line: the write never completed
                    elif line.startswith("-") and self._items:
                        self._items.popleft()
        self._path.parent.mkdir(parents=True, exist_ok=True)
        self._rewrite()

    @property
    def path(self) -> Path:
        return self._path

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[T]:
        return iter(self._items)

    def append(self, item: T) -> None:
        line = "+" + json.dumps(self._encode(item), separators=(",", ":")) + "\n"
        self._write(line, "a")
        self._items.append(item)

    def peek(self) -> T:
        return self._items[0]

    def pop(self) -> T:
        item = self._items.popleft()
        if self._items:
            self._write("-\n", "a")
        else:
            self._write("", "w")
        return item

    def _rewrite(self) -> None:
        body = "".join(
            "+" + json.dumps(self._encode(i), separators=(",", ":")) + "\n" for i in self._items
        )
        self._write(body, "w")

    def _write(self, text: str, mode: Literal["a", "w"]) -> None:
        with self._path.open(mode, encoding="utf-8") as journal:
            journal.write(text)
            if self._fsync:
                journal.flush()
                os.fsync(journal.fileno())
