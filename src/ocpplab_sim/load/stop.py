"""Stopping a load run early: SIGINT, SIGTERM or a closed standard output, and the one small
integer that every part of the run polls.

A signal handler (or a write to a closed standard output) raises the level; the workers' shape
loops read it once per tick. A plain ``ctypes.c_int`` serves one process, a ``multiprocessing``
``RawValue`` the worker processes: neither takes a lock, so a signal handler may set it at any
moment. The first interrupt stops the run (wind down, summary, report, teardown); a second one
stops waiting for the chargers to close. Exit codes: 130 after SIGINT or SIGTERM (the report
names which), 141 after a closed standard output.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any, Protocol, TextIO

__all__ = [
    "ABORT",
    "EXIT_INTERRUPTED",
    "EXIT_STDOUT_CLOSED",
    "RUNNING",
    "STOP",
    "Console",
    "Either",
    "Interrupts",
    "StopFlag",
    "new_flag",
]

#: the exit code of a run stopped by SIGINT or SIGTERM (the shell's 128 + SIGINT)
EXIT_INTERRUPTED = 130
#: the exit code of a run whose standard output was closed (128 + SIGPIPE)
EXIT_STDOUT_CLOSED = 141

#: keep going
RUNNING = 0
#: end the shape now, wind down (close every charger), report what was measured
STOP = 1
#: stop waiting for the wind-down too (a second interrupt)
ABORT = 2


class StopFlag(Protocol):
    """What a run polls: ``value`` is ``RUNNING``, ``STOP`` or ``ABORT``."""

    value: int


def new_flag() -> ctypes.c_int:
    """A flag for one process (``RUNNING``)."""
    return ctypes.c_int(RUNNING)


class Either:
    """The higher level of two flags (a worker process's own signals and its parent's word)."""

    def __init__(self, first: StopFlag, second: StopFlag) -> None:
        self._first = first
        self._second = second

    @property
    def value(self) -> int:
        return max(self._first.value, self._second.value)

    @value.setter
    def value(self, level: int) -> None:
        self._first.value = level


class Interrupts:
    """SIGINT and SIGTERM (while :meth:`installed`) and other reasons to stop, as a
    :class:`StopFlag` (``flag``) and the first ``reason`` with its ``exit_code``."""

    def __init__(self, command: str = "ocpplab-sim") -> None:
        self.command = command
        #: when this command began (epoch seconds)
        self.began = time.time()
        self.flag = new_flag()
        self.reason: str | None = None
        self.exit_code: int | None = None
        #: when the first request came (epoch seconds)
        self.at: float | None = None
        #: called after the first request (from a signal handler: keep it to a flag or a
        #: ``loop.call_soon_threadsafe``)
        self.on_stop: Callable[[], None] | None = None

    def request(self, reason: str, exit_code: int) -> bool:
        """Stop (the first request: True) or, after that, abort the wind-down (False)."""
        if self.reason is None:
            self.reason, self.exit_code, self.at = reason, exit_code, time.time()
            self.flag.value = STOP
            if self.on_stop is not None:
                self.on_stop()
            return True
        self.flag.value = ABORT
        return False

    def _signalled(self, signum: int, frame: object) -> None:
        name = signal.Signals(signum).name
        if self.request(name, EXIT_INTERRUPTED):
            text = (
                f"{self.command}: {name}: stopping; the summary and the report follow "
                "(again: stop waiting for the chargers to close)\n"
            )
        else:
            text = f"{self.command}: {name} again: not waiting for the chargers to close\n"
        with contextlib.suppress(OSError):
            os.write(2, text.encode())  # not print(): a signal handler may interrupt a print

    @contextlib.contextmanager
    def installed(self) -> Iterator[None]:
        """Handle SIGINT and SIGTERM meanwhile (main thread only; elsewhere nothing changes)."""
        previous: dict[signal.Signals, Any] = {}
        try:
            for signum in (signal.SIGINT, signal.SIGTERM):
                try:
                    previous[signum] = signal.signal(signum, self._signalled)
                except ValueError:  # not the main thread
                    break
            yield
        finally:
            for number, handler in previous.items():
                signal.signal(number, handler)


class Console:
    """Standard output that a closed pipe (``| head``) cannot break: the first failed write
    sends the rest to ``/dev/null`` (the interpreter's last flush included) and calls
    ``on_closed``, once."""

    def __init__(self) -> None:
        self.closed = False
        self.on_closed: Callable[[], None] | None = None
        #: what is said goes to standard error instead (standard output carries a document)
        self.to_stderr = False

    @property
    def stream(self) -> TextIO:
        return sys.stderr if self.to_stderr else sys.stdout

    def say(self, text: str = "") -> None:
        if self.closed:
            return
        try:
            print(text, file=self.stream, flush=True)
        except BrokenPipeError:
            self._gone()

    def document(self, text: str) -> None:
        """``text`` on standard output, whatever ``to_stderr`` says (a report given as ``-``)."""
        if self.closed:
            return
        try:
            print(text, file=sys.stdout, flush=True)
        except BrokenPipeError:
            self._gone()

    def flush(self) -> None:
        if self.closed or sys.stdout is None:
            return
        try:
            sys.stdout.flush()
        except BrokenPipeError:
            self._gone()

    def _gone(self) -> None:
        self.closed = True
        with contextlib.suppress(OSError, ValueError, AttributeError):
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            os.close(devnull)
        if self.on_closed is not None:
            self.on_closed()
