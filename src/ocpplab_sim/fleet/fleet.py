"""Many simulated charge points in one process, started and stopped concurrently."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Callable, Iterator, Sequence

from ocpplab_sim.chargepoint.config import ChargePointConfig, FrameRecord
from ocpplab_sim.errors import CsmsUnreachable
from ocpplab_sim.fleet.chargepoint import SimulatedChargePoint
from ocpplab_sim.fleet.trace import JsonlTrace

__all__ = ["Fleet"]

log = logging.getLogger(__name__)


def _raise_fd_limit(wanted: int) -> None:
    # One file descriptor per charge point; the common default soft limit of 1024 fails past
    # ~1,000 connections with EMFILE while the hard limit is usually far higher.
    try:
        import resource
    except ImportError:  # pragma: no cover - not on POSIX
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or soft >= wanted:
        return
    target = hard if hard == resource.RLIM_INFINITY else min(hard, max(wanted, soft))
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))


class Fleet:
    """A set of :class:`SimulatedChargePoint`, addressed by identity (which must be unique).

    ``max_concurrent_starts`` bounds how many connect-and-boot sequences run at once so that a
    large fleet does not overwhelm the central system (or the local port range) in one burst.
    ``trace`` writes every frame of every charge point to one JSONL file (closed by
    :meth:`stop_all`).
    """

    def __init__(
        self,
        configs: Sequence[ChargePointConfig],
        *,
        on_frame: Callable[[FrameRecord], None] | None = None,
        max_concurrent_starts: int = 100,
        trace: str | os.PathLike[str] | None = None,
    ) -> None:
        if max_concurrent_starts < 1:
            raise ValueError("max_concurrent_starts must be >= 1")
        self.trace = JsonlTrace(trace) if trace is not None else None
        if self.trace is not None:
            writer, observer = self.trace, on_frame

            def both(record: FrameRecord) -> None:
                writer(record)
                if observer is not None:
                    observer(record)

            on_frame = both
        self._points: dict[str, SimulatedChargePoint] = {}
        for config in configs:
            if config.identity in self._points:
                raise ValueError(f"duplicate charge point identity {config.identity!r}")
            self._points[config.identity] = SimulatedChargePoint(config, on_frame=on_frame)
        self._max_concurrent_starts = max_concurrent_starts

    def __getitem__(self, identity: str) -> SimulatedChargePoint:
        return self._points[identity]

    def __iter__(self) -> Iterator[SimulatedChargePoint]:
        return iter(self._points.values())

    def __len__(self) -> int:
        return len(self._points)

    async def start_all(self) -> None:
        """Start every charge point (at most ``max_concurrent_starts`` at a time).

        All are tried. Then, if any failed, raises for the first failing one in configuration
        order: :class:`CsmsUnreachable` naming its identity when it could not connect, or its
        own error (with the identity added as a note) otherwise. Points that did start keep
        running; call :meth:`stop_all` to clean up.
        """
        _raise_fd_limit(len(self._points) + 64)
        gate = asyncio.Semaphore(self._max_concurrent_starts)

        async def start(point: SimulatedChargePoint) -> None:
            async with gate:
                await point.start()

        results = await asyncio.gather(
            *(start(p) for p in self._points.values()), return_exceptions=True
        )
        failures = [
            (point.identity, result)
            for point, result in zip(self._points.values(), results, strict=True)
            if isinstance(result, BaseException)
        ]
        for identity, exc in failures:
            log.warning("charge point %s failed to start: %s", identity, exc)
        if not failures:
            return
        identity, exc = failures[0]
        others = f" ({len(failures) - 1} more failed)" if len(failures) > 1 else ""
        if isinstance(exc, CsmsUnreachable):
            raise CsmsUnreachable(f"charge point {identity}: {exc}{others}") from exc
        if isinstance(exc, Exception):
            exc.add_note(f"charge point {identity} failed to start{others}")
        raise exc

    async def stop_all(self) -> None:
        """Stop every charge point concurrently. Never raises."""
        results = await asyncio.gather(
            *(p.stop() for p in self._points.values()), return_exceptions=True
        )
        for point, result in zip(self._points.values(), results, strict=True):
            if isinstance(result, BaseException):
                log.warning("charge point %s did not stop cleanly: %s", point.identity, result)
        if self.trace is not None:
            self.trace.close()
