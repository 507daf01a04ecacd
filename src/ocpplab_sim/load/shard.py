"""Deterministic shards of a fleet: shard I of N takes a fixed slice, identities never collide."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["Shard", "shard_from_env", "synthetic_identity"]


@dataclass(frozen=True)
class Shard:
    """Shard ``index`` (0-based) of ``count``."""

    index: int = 0
    count: int = 1

    def __post_init__(self) -> None:
        if self.count < 1 or not 0 <= self.index < self.count:
            raise ValueError(f"shard {self.index}/{self.count}: need 0 ≤ I < N and N ≥ 1")

    @classmethod
    def parse(cls, text: str) -> Shard:
        """``"I/N"`` with I 0-based; ``ValueError`` otherwise."""
        try:
            index, count = (int(part) for part in text.split("/"))
        except ValueError as exc:
            raise ValueError(f"--shard takes I/N (e.g. 0/4), got {text!r}") from exc
        return cls(index, count)

    def slice(self, total: int) -> range:
        """The global charger numbers this shard owns out of ``total``: contiguous, disjoint,
        covering ``range(total)`` across all shards, sizes differing by at most one."""
        base, extra = divmod(total, self.count)
        start = self.index * base + min(self.index, extra)
        return range(start, start + base + (1 if self.index < extra else 0))


def shard_from_env(env: Mapping[str, str] | None = None) -> Shard | None:
    """A Kubernetes Indexed Job's shard: ``JOB_COMPLETION_INDEX`` of ``OCPPLAB_SHARD_COUNT``
    (or ``JOB_COMPLETIONS``); ``None`` when not running as one."""
    env = os.environ if env is None else env
    index = env.get("JOB_COMPLETION_INDEX")
    if index is None:
        return None
    count = env.get("OCPPLAB_SHARD_COUNT") or env.get("JOB_COMPLETIONS")
    if count is None:
        raise ValueError("JOB_COMPLETION_INDEX is set but OCPPLAB_SHARD_COUNT is not")
    return Shard(int(index), int(count))


def synthetic_identity(prefix: str, number: int) -> str:
    """The identity of global charger ``number``: the same in every shard layout."""
    return f"{prefix}{number:06d}"
