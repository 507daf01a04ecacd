"""``--trace PATH``: every OCPP frame of the run as JSON Lines, in the order the harness saw them.

One object per line: ``{"at": <epoch seconds>, "direction": "out"|"in", "identity": "...",
"message": [...]}`` — ``out`` is charge point → central system — with ``"note"`` on a CALL sent
again: the one trace format of ``run --trace`` and ``chargers --trace``, described by
``docs/trace.schema.json``.
"""

from __future__ import annotations

import json
from pathlib import Path
from types import TracebackType
from typing import Self

from ocpplab_sim.errors import InputError
from ocpplab_sim.scenario.execution.ports import FrameLike

__all__ = ["TraceWriter"]


class TraceWriter:
    """A frame hook writing JSONL to ``path``; use as a context manager (or call :meth:`close`).

    Raises InputError when the file cannot be opened.
    """

    def __init__(self, path: Path) -> None:
        try:
            # Line-buffered: a trace must survive an interrupted run up to its last frame.
            self._file = path.open("w", encoding="utf-8", buffering=1)
        except OSError as exc:
            raise InputError(f"--trace {path}: {exc.strerror or exc}") from exc
        self.frames = 0

    def __call__(self, frame: FrameLike) -> None:
        record: dict[str, object] = {
            "at": frame.at,
            "direction": frame.direction,
            "identity": frame.identity,
            "message": frame.message,
        }
        note = getattr(frame, "note", None)
        if note is not None:
            record["note"] = note
        self._file.write(json.dumps(record, ensure_ascii=False, default=str) + "\n")
        self.frames += 1

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
