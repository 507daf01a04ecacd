"""``ocpplab-sim chargers``: a fleet of live simulated charge points against any central system.

They connect to ``{csms_url}/{identity}``, boot, report status, heartbeat and answer whatever the
central system sends, until ``--duration`` ends or SIGINT/SIGTERM; then a summary: messages by
action, errors, reconnects. Exit codes: 0 done, 2 bad input, 3 the central system is unreachable.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from ocpplab_sim.errors import CsmsUnreachable, InputError
from ocpplab_sim.fleet import ChargePointConfig, Fleet, FrameRecord
from ocpplab_sim.fleet.trace import JsonlTrace

__all__ = ["Summary", "add_parser", "run", "run_async"]

EXIT_OK, EXIT_INPUT, EXIT_UNREACHABLE = 0, 2, 3


def add_parser(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the ``chargers`` command to the CLI's subcommands."""
    parser = subparsers.add_parser(
        "chargers",
        help="run live simulated charge points against a central system",
        description="Run N simulated OCPP charge points against any central system until the "
        "duration ends or Ctrl-C/SIGTERM, then print a summary.",
    )
    parser.add_argument("--csms-url", required=True, help="ws:// or wss:// base URL")
    parser.add_argument("--count", type=int, default=1, help="number of charge points")
    parser.add_argument("--ocpp-version", choices=["1.6", "2.0.1"], default="1.6")
    parser.add_argument("--connectors", type=int, default=1, help="EVSEs per charge point")
    parser.add_argument(
        "--duration", type=float, help="seconds to run (default: until interrupted)"
    )
    parser.add_argument("--id-prefix", default="SIM-", help="identities are PREFIX0001, ...")
    parser.add_argument("--password", help="HTTP Basic password (security profile 1/2)")
    parser.add_argument("--ca", type=Path, help="CA bundle that verifies a wss central system")
    parser.add_argument("--cert", type=Path, help="client certificate (security profile 3)")
    parser.add_argument("--key", type=Path, help="private key of --cert")
    parser.add_argument("--trace", type=Path, help="write every OCPP frame as JSON Lines")
    parser.add_argument(
        "--strict", action="store_true", help="refuse frames that violate the official schemas"
    )
    parser.set_defaults(handler=run)


@dataclass
class Summary:
    """Counts gathered from every frame of the fleet."""

    sent: Counter[str] = field(default_factory=Counter)
    received: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    reconnects: int = 0
    connected: int = 0
    count: int = 0
    seconds: float = 0.0

    def __call__(self, record: FrameRecord) -> None:
        message = record.message
        if message[0] == 2:
            (self.sent if record.direction == "out" else self.received)[message[2]] += 1
        elif message[0] == 4:
            self.errors[f"{record.direction}:{message[2]}"] += 1

    def print(self, out: TextIO) -> None:
        print(
            f"chargers: {self.connected}/{self.count} connected at the end, "
            f"{self.seconds:.1f} s, {self.reconnects} reconnects, "
            f"{sum(self.errors.values())} errors",
            file=out,
        )
        for title, counter in (("sent", self.sent), ("received", self.received)):
            for action, n in sorted(counter.items()):
                print(f"  {title:8} {action:32} {n}", file=out)
        for code, n in sorted(self.errors.items()):
            print(f"  error    {code:32} {n}", file=out)


def _configs(args: argparse.Namespace) -> list[ChargePointConfig]:
    if args.count < 1 or args.connectors < 1:
        raise InputError("--count and --connectors must be at least 1")
    if args.duration is not None and args.duration <= 0:
        raise InputError("--duration must be > 0")
    if (args.cert is None) != (args.key is None):
        raise InputError("--cert and --key go together")
    for path in (args.ca, args.cert, args.key):
        if path is not None and not path.is_file():
            raise InputError(f"{path}: no such file")
    if args.trace is not None and not args.trace.parent.exists():
        raise InputError(f"{args.trace}: the folder {args.trace.parent} does not exist")
    width = max(4, len(str(args.count)))
    try:
        return [
            ChargePointConfig(
                identity=f"{args.id_prefix}{n:0{width}d}",
                ocpp_version=args.ocpp_version,
                evse_count=args.connectors,
                csms_url=args.csms_url,
                seed=n,
                strict=args.strict,
                password=args.password,
                ca_file=None if args.ca is None else str(args.ca),
                cert_file=None if args.cert is None else str(args.cert),
                key_file=None if args.key is None else str(args.key),
            )
            for n in range(1, args.count + 1)
        ]
    except ValueError as exc:
        raise InputError(str(exc)) from exc


async def run_async(
    args: argparse.Namespace, *, stop: asyncio.Event | None = None, out: TextIO = sys.stdout
) -> int:
    """The command inside a running loop; ``stop`` ends it early (signals set it too)."""
    try:
        configs = _configs(args)
    except InputError as exc:
        print(f"ocpplab-sim chargers: {exc}", file=sys.stderr)
        return EXIT_INPUT
    summary = Summary(count=len(configs))
    trace = JsonlTrace(args.trace) if args.trace is not None else None

    def observe(record: FrameRecord) -> None:
        summary(record)
        if trace is not None:
            trace(record)

    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    handled: list[signal.Signals] = []
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(signum, stop.set)
            handled.append(signum)
    fleet = Fleet(configs, on_frame=observe)
    began = time.monotonic()
    try:
        try:
            await fleet.start_all()
        except CsmsUnreachable as exc:
            print(f"ocpplab-sim chargers: central system unreachable: {exc}", file=sys.stderr)
            return EXIT_UNREACHABLE
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), args.duration)
    finally:
        summary.connected = sum(cp.connected for cp in fleet)
        summary.reconnects = sum(cp.reconnects for cp in fleet)
        await fleet.stop_all()
        summary.seconds = time.monotonic() - began
        for signum in handled:
            loop.remove_signal_handler(signum)
        if trace is not None:
            trace.close()
    summary.print(out)
    return EXIT_OK


def run(args: argparse.Namespace) -> int:
    """Run the ``chargers`` command; returns the exit code."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    return asyncio.run(run_async(args))


def main(argv: list[str] | None = None) -> int:
    """Stand-alone entry point: ``python -m ocpplab_sim.chargers --csms-url ...``."""
    parser = argparse.ArgumentParser(prog="ocpplab-sim")
    add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["chargers", *(sys.argv[1:] if argv is None else argv)])
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
