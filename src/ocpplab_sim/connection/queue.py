"""Offline queue for transaction-related messages (OCPP 1.6 §4.7/§4.8/§4.10; 2.0.1 Part 2, E04).

The queue stores whatever item type its owner chooses; the charge point stores version-neutral
station intents, which are plain frozen dataclasses, so a durable implementation only needs to
serialize them. Items leave the queue only after the central system answered them
(:meth:`OfflineQueue.pop` after delivery), which gives at-least-once delivery in order.
"""

from __future__ import annotations

from collections import deque
from typing import Generic, Protocol, TypeVar

__all__ = ["MemoryOfflineQueue", "OfflineQueue"]

T = TypeVar("T")


class OfflineQueue(Protocol[T]):
    """FIFO contract shared by the in-memory queue and any later durable one."""

    def __len__(self) -> int: ...

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

    def append(self, item: T) -> None:
        self._items.append(item)

    def peek(self) -> T:
        return self._items[0]

    def pop(self) -> T:
        return self._items.popleft()
