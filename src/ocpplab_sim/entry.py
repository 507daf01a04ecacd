"""The ``ocpplab-sim`` command's entry point: imports the command line only once Ctrl-C has a
plain answer, so an interrupt while Python is still loading prints one line, not a traceback."""

from __future__ import annotations

import signal
import sys

__all__ = ["main"]


def main() -> int:
    try:
        from ocpplab_sim.cli import main as cli_main

        code = cli_main()
    except KeyboardInterrupt:
        print("ocpplab-sim: interrupted", file=sys.stderr)
        code = 130
    if code == 130:
        # interrupted: a second Ctrl-C while the interpreter shuts down changes nothing
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    return code
