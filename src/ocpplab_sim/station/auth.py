"""Local authorization: the local authorization list and the authorization cache.

OCPP 1.6 §3.5 (Local Authorization & Offline Behavior), §5.15 SendLocalList, §5.10
GetLocalListVersion, §5.4 ClearCache; OCPP 2.0.1 Part 2, C13/C14 (list) and C10-C12 (cache),
D01-D02. The list takes precedence over the cache; entries with a status other than Accepted are
kept so that a locally known token is refused without asking the central system.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

__all__ = ["AuthEntry", "AuthStore"]


@dataclass(frozen=True, slots=True)
class AuthEntry:
    """An authorization status and, optionally, when it stops being valid (epoch seconds)."""

    status: str
    expires_at: float | None = None

    def valid(self, now: float) -> bool:
        return self.expires_at is None or now < self.expires_at


@dataclass
class AuthStore:
    """The local list (with its version) and the cache of one station."""

    list_version: int = 0
    local_list: dict[str, AuthEntry] = field(default_factory=dict)
    cache: dict[str, AuthEntry] = field(default_factory=dict)
    max_list_length: int = 1000

    def send_local_list(
        self,
        version: int,
        update_type: Literal["Full", "Differential"],
        entries: list[tuple[str, AuthEntry | None]],
    ) -> Literal["Accepted", "Failed", "VersionMismatch"]:
        """Apply a SendLocalList. ``None`` as entry removes the token in a differential
        update. A differential update must carry a newer version (1.6 §5.15; 2.0.1 D01.FR.19)."""
        if update_type == "Differential" and version <= self.list_version:
            return "VersionMismatch"
        if update_type == "Full":
            new = {token: e for token, e in entries if e is not None}
        else:
            new = dict(self.local_list)
            for token, entry in entries:
                if entry is None:
                    new.pop(token, None)
                else:
                    new[token] = entry
        if len(new) > self.max_list_length:
            return "Failed"
        self.local_list = new
        self.list_version = version
        return "Accepted"

    def lookup(
        self, token: str, now: float, *, use_list: bool = True, use_cache: bool = True
    ) -> str | None:
        """The locally known status of ``token`` (list first, then cache), or None."""
        entry = self.local_list.get(token) if use_list else None
        if entry is None and use_cache:
            entry = self.cache.get(token)
        if entry is None:
            return None
        return entry.status if entry.valid(now) else "Expired"

    def remember(self, token: str, status: str, expires_at: float | None = None) -> None:
        """Cache the central system's answer (1.6 §3.5.1; 2.0.1 C10)."""
        self.cache[token] = AuthEntry(status, expires_at)

    def clear_cache(self) -> None:
        self.cache.clear()
