"""The ``ocpplab-sim`` command's entry point. While the command line is imported an interrupt is
only noted (a KeyboardInterrupt raised inside the import machinery can be swallowed there, and
the command would run on); once imported, it is answered in one line, not a traceback."""

from __future__ import annotations

import signal
import sys
from types import FrameType

__all__ = ["main"]


def main() -> int:
    interrupted = False

    def note(_signum: int, _frame: FrameType | None) -> None:
        nonlocal interrupted
        interrupted = True

    previous = signal.getsignal(signal.SIGINT)
    if previous is signal.default_int_handler:
        signal.signal(signal.SIGINT, note)
    try:
        from ocpplab_sim.cli import main as cli_main
    finally:
        if previous is signal.default_int_handler:
            signal.signal(signal.SIGINT, previous)
    if interrupted:
        print("ocpplab-sim: interrupted", file=sys.stderr)
        code = 130
    else:
        try:
            code = cli_main()
        except KeyboardInterrupt:
            print("ocpplab-sim: interrupted", file=sys.stderr)
            code = 130
    if code == 130:
        # a second Ctrl-C while the interpreter shuts down changes nothing
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    return code
