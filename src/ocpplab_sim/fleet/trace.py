"""A JSONL trace of every OCPP-J frame: one line per frame, shared by a whole fleet.

Each line is ``{"at": epoch seconds, "direction": "out"|"in", "identity": charger, "message":
[OCPP-J array]}`` (``out``: charge point → central system), with ``"note"`` on a CALL sent again
(a transaction message's next attempt, or its resend after a reconnect): the one trace format of
``run --trace`` and ``chargers --trace``, described by ``docs/trace.schema.json``. Lines go
through one buffered file handle, so thousands of charge points cost one descriptor and few
system calls; :meth:`JsonlTrace.close` flushes it.
"""

from __future__ import annotations

import json
import os
from typing import Any

from ocpplab_sim.chargepoint.config import FrameRecord

__all__ = ["JsonlTrace"]


class JsonlTrace:
    """Callable as ``on_frame``; writes each :class:`FrameRecord` as one JSON line."""

    def __init__(self, path: str | os.PathLike[str], *, buffer_bytes: int = 1 << 16) -> None:
        self.path = os.fspath(path)
        self._file: Any = open(self.path, "a", encoding="utf-8", buffering=buffer_bytes)  # noqa: SIM115
        self._dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode
        self.lines = 0

    def __call__(self, record: FrameRecord) -> None:
        if self._file is None:
            return
        note = "" if record.note is None else f',"note":{self._dumps(record.note)}'
        self._file.write(
            f'{{"at":{record.at:.6f},"direction":"{record.direction}","identity":'
            f'{self._dumps(record.identity)},"message":{self._dumps(record.message)}{note}}}\n'
        )
        self.lines += 1

    def flush(self) -> None:
        if self._file is not None:
            self._file.flush()

    def close(self) -> None:
        """Flush and close; later frames are ignored. Idempotent."""
        if self._file is not None:
            self._file.close()
            self._file = None
