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
        parts = text.split("/")
        if len(parts) != 2 or not all(p.strip().isascii() and p.strip().isdigit() for p in parts):
            raise ValueError(f"--shard takes I/N with whole numbers (e.g. 0/4), got {text!r}")
        index, count = (int(part) for part in parts)
        if count < 1 or index >= count:
            raise ValueError(f"--shard {text}: need 0 ≤ I < N and N ≥ 1 (I counts from 0)")
        return cls(index, count)

    def slice(self, total: int) -> range:
        """The global charger numbers this shard owns out of ``total``: contiguous, disjoint,
        covering ``range(total)`` across all shards, sizes differing by at most one."""
        base, extra = divmod(total, self.count)
        start = self.index * base + min(self.index, extra)
        return range(start, start + base + (1 if self.index < extra else 0))


def shard_from_env(env: Mapping[str, str] | None = None) -> Shard | None:
    """A Kubernetes Indexed Job's shard: ``JOB_COMPLETION_INDEX`` of ``OCPPLAB_SHARD_COUNT``
    (or ``JOB_COMPLETIONS``); ``None`` when not running as one. ``ValueError`` names the
    variable that is missing or not a whole number in range."""
    env = os.environ if env is None else env
    index_text = env.get("JOB_COMPLETION_INDEX")
    if index_text is None:
        return None
    index = _whole("JOB_COMPLETION_INDEX", index_text, minimum=0)
    count_name = "OCPPLAB_SHARD_COUNT" if env.get("OCPPLAB_SHARD_COUNT") else "JOB_COMPLETIONS"
    count_text = env.get(count_name)
    if not count_text:
        raise ValueError(
            "JOB_COMPLETION_INDEX is set but OCPPLAB_SHARD_COUNT (or JOB_COMPLETIONS) is not"
        )
    count = _whole(count_name, count_text, minimum=1)
    if index >= count:
        raise ValueError(
            f"JOB_COMPLETION_INDEX={index} must be below {count_name}={count} "
            "(shards are numbered from 0)"
        )
    return Shard(index, count)


def _whole(name: str, text: str, *, minimum: int) -> int:
    value = text.strip()
    if not value.isascii() or not value.isdigit() or int(value) < minimum:
        raise ValueError(f"{name} must be a whole number ≥ {minimum}, got {text!r}")
    return int(value)


def synthetic_identity(prefix: str, number: int) -> str:
    """The identity of global charger ``number``: the same in every shard layout."""
    return f"{prefix}{number:06d}"
