"""The chargers a control server drives, and the frames they exchange.

:class:`ChargerRegistry` maps identities to live :class:`SimulatedChargePoint` objects (a
scenario's chargers join once its fleet exists). It is also the ``on_frame`` observer of
those chargers: it keeps each charger's last frames in a ring and hands every new one to the
subscribers of that charger (the live frame stream). A subscriber never slows a charger: its
queue is bounded, and one that falls behind is cut off with an ``overflow`` marker.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Iterable, Iterator
from typing import Any

from ocpplab_sim.chargepoint import FrameRecord
from ocpplab_sim.fleet import SimulatedChargePoint

__all__ = ["ChargerRegistry", "Subscription", "frame_json"]

#: frames kept per charger for a new subscriber and for ``frames/recent``
DEFAULT_HISTORY = 50
#: frames a subscriber may fall behind before it is cut off
SUBSCRIBER_QUEUE = 1000
#: live streams per charger, and in all
MAX_SUBSCRIBERS_PER_CHARGER = 16
MAX_SUBSCRIBERS = 256


def frame_json(record: FrameRecord) -> dict[str, Any]:
    """A frame as the control API shows it (the field names of ``run --trace``)."""
    out: dict[str, Any] = {
        "at": record.at,
        "direction": record.direction,
        "identity": record.identity,
        "message": record.message,
    }
    if record.note is not None:
        out["note"] = record.note
    return out


class Subscription:
    """One live stream of a charger's frames: iterate :meth:`next` until it returns None."""

    def __init__(self, registry: ChargerRegistry, identity: str) -> None:
        self.identity = identity
        self.overflowed = False
        self._closed = False
        self._registry = registry
        self._queue: asyncio.Queue[FrameRecord | None] = asyncio.Queue(SUBSCRIBER_QUEUE)

    def push(self, record: FrameRecord | None) -> None:
        try:
            self._queue.put_nowait(record)
        except asyncio.QueueFull:
            self.overflowed = True
            self.close()

    def close(self) -> None:
        """End the stream (its reader sees None next, after what is queued)."""
        self._registry._unsubscribe(self)
        if self._closed:
            return
        self._closed = True
        try:
            self._queue.put_nowait(None)
        except asyncio.QueueFull:  # cut off: the oldest frame makes room for the end marker
            self._queue.get_nowait()
            self._queue.put_nowait(None)

    async def next(self, within_s: float) -> FrameRecord | bool | None:
        """The next frame, None at the end, False when ``within_s`` passed without one."""
        try:
            return await asyncio.wait_for(self._queue.get(), within_s)
        except TimeoutError:
            return False


class ChargerRegistry:
    """The chargers of one control server, by identity (see the module docstring)."""

    def __init__(self, *, history: int = DEFAULT_HISTORY) -> None:
        if history < 0:
            raise ValueError("history must be >= 0")
        self.history = history
        self._points: dict[str, SimulatedChargePoint] = {}
        self._frames: dict[str, deque[FrameRecord]] = {}
        self._subscribers: dict[str, set[Subscription]] = {}
        self._subscriber_count = 0
        self.closed = False

    # -- chargers --------------------------------------------------------------------------

    def add(self, points: Iterable[SimulatedChargePoint]) -> None:
        """Make ``points`` reachable (a later charger of the same identity replaces one)."""
        for point in points:
            self._points[point.identity] = point

    def get(self, identity: str) -> SimulatedChargePoint | None:
        return self._points.get(identity)

    def __iter__(self) -> Iterator[SimulatedChargePoint]:
        return iter(list(self._points.values()))

    def __len__(self) -> int:
        return len(self._points)

    # -- frames ----------------------------------------------------------------------------

    def __call__(self, record: FrameRecord) -> None:
        """``on_frame`` of the chargers: remember the frame, hand it to its subscribers."""
        if self.history:
            ring = self._frames.get(record.identity)
            if ring is None:
                ring = self._frames[record.identity] = deque(maxlen=self.history)
            ring.append(record)
        subscribers = self._subscribers.get(record.identity)
        if subscribers:
            for subscription in list(subscribers):
                subscription.push(record)

    def recent(self, identity: str, limit: int | None = None) -> list[FrameRecord]:
        """The charger's last frames, oldest first (at most ``limit``)."""
        ring = self._frames.get(identity)
        if not ring:
            return []
        frames = list(ring)
        return frames if limit is None else frames[len(frames) - limit :] if limit else []

    def subscribe(self, identity: str) -> Subscription | None:
        """A live stream of the charger's frames; None when too many streams are open."""
        subscribers = self._subscribers.setdefault(identity, set())
        if (
            self.closed
            or len(subscribers) >= MAX_SUBSCRIBERS_PER_CHARGER
            or self._subscriber_count >= MAX_SUBSCRIBERS
        ):
            return None
        subscription = Subscription(self, identity)
        subscribers.add(subscription)
        self._subscriber_count += 1
        return subscription

    def _unsubscribe(self, subscription: Subscription) -> None:
        subscribers = self._subscribers.get(subscription.identity)
        if subscribers is not None and subscription in subscribers:
            subscribers.discard(subscription)
            self._subscriber_count -= 1

    def close(self) -> None:
        """End every live stream (the server is stopping); no new one opens."""
        self.closed = True
        for subscribers in list(self._subscribers.values()):
            for subscription in list(subscribers):
                subscription.close()
