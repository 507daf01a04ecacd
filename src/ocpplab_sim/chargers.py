"""``ocpplab-sim chargers``: a fleet of live simulated charge points against any central system.

They connect to ``{csms_url}/{identity}``, boot, report status, heartbeat and answer whatever the
central system sends, until ``--duration`` ends or SIGINT/SIGTERM; then a summary: messages by
action, errors, reconnects. Exit codes: 0 done, 2 bad input, 3 the central system is unreachable
(or accepted no charger before the duration ended), 130 stopped by SIGINT or SIGTERM (after the
teardown and the summary; a second signal stops waiting for the chargers to close), 141 standard
output closed (``| head``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import math
import os
import signal
import ssl
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from ocpplab_sim.control.hub import ChargerRegistry
from ocpplab_sim.control.options import add_control_arguments, serve_control
from ocpplab_sim.errors import CsmsUnreachable, InputError, OcpplabError
from ocpplab_sim.fleet import ChargePointConfig, Fleet, FrameRecord
from ocpplab_sim.fleet.chargepoint import ssl_context_for
from ocpplab_sim.fleet.trace import JsonlTrace
from ocpplab_sim.terminal import epilog, progress_wanted
from ocpplab_sim.units import DURATION_EXAMPLES, parse_duration, parse_url

__all__ = ["Summary", "add_parser", "run", "run_async"]

EXIT_OK, EXIT_INPUT, EXIT_UNREACHABLE = 0, 2, 3
EXIT_INTERRUPTED, EXIT_STDOUT_CLOSED = 130, 141
_MAX_COUNT = 1_000_000
_MAX_CONNECTORS = 100
_START_GRACE_S = 2.0
_TEARDOWN_S = 10.0  # the longest wait for the chargers to close


def _duration(text: str) -> float:
    """An argparse type: the one duration grammar (``ocpplab_sim.units``). A negative number is
    let through, for ``--duration must be > 0`` to refuse it with the other input checks."""
    try:
        if text.strip().startswith("-"):
            return -parse_duration(text.strip()[1:])
        return parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_parser(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the ``chargers`` command to the CLI's subcommands."""
    parser = subparsers.add_parser(
        "chargers",
        help="run live simulated charge points against a central system",
        usage="%(prog)s --csms-url URL [--count N] [options]  (--help: all)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Run N simulated OCPP charge points against any central system until the "
        "duration ends or\nCtrl-C/SIGTERM, then print a summary. Durations: "
        + DURATION_EXAMPLES
        + ".",
        epilog=epilog(
            [
                "ocpplab-sim chargers --csms-url ws://127.0.0.1:9000/ocpp --count 20",
                "ocpplab-sim chargers --csms-url wss://csms.example.test/ocpp --ca ca.pem \\",
                "    --ocpp-version 2.0.1 --connectors 2 --duration 10m --progress",
            ],
            [
                (0, "done"),
                (2, "invalid input"),
                (3, "the central system could not be used (or accepted no charger in time)"),
                (130, "stopped by SIGINT or SIGTERM (teardown and summary first)"),
                (141, "standard output was closed"),
            ],
        ),
    )
    parser.add_argument("--csms-url", required=True, help="ws:// or wss:// base URL")
    parser.add_argument("--count", type=int, default=1, help="number of charge points")
    parser.add_argument("--ocpp-version", choices=["1.6", "2.0.1"], default="1.6")
    parser.add_argument("--connectors", type=int, default=1, help="EVSEs per charge point")
    parser.add_argument(
        "--duration",
        type=_duration,
        help="how long to run once the fleet is up, e.g. 90s or 10m (default: until "
        "interrupted); a fleet still starting when it has passed stops too",
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
    parser.add_argument(
        "--progress",
        action="store_true",
        help="live progress on standard error every second (default: on a terminal, or with "
        "FORCE_COLOR)",
    )
    add_control_arguments(parser)
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
    frames: int = 0  # every frame, both ways: the progress line's messages per second

    def __call__(self, record: FrameRecord) -> None:
        self.frames += 1
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


async def _progress(fleet: Fleet, summary: Summary, out: TextIO, every_s: float = 1.0) -> None:
    """One line per ``every_s`` on ``out`` while the fleet runs: connected and booted chargers,
    messages per second, errors, like ``load``'s progress."""
    began = time.monotonic()
    frames = summary.frames
    while True:
        await asyncio.sleep(every_s)
        now = summary.frames
        rate = (now - frames) / every_s
        frames = now
        connected = sum(cp.connected for cp in fleet)
        booted = sum(cp.protocol.registered for cp in fleet)
        errors = sum(summary.errors.values())
        with contextlib.suppress(OSError, ValueError):
            print(
                f"  t={time.monotonic() - began:>4.0f}s  connected {connected:>6}/{summary.count}"
                f"  booted {booted:>6}  {rate:>7.0f} msg/s  errors {errors:>4}",
                file=out,
                flush=True,
            )


def _configs(args: argparse.Namespace) -> list[ChargePointConfig]:
    try:
        parse_url(args.csms_url, ("ws", "wss"), what="--csms-url")
    except ValueError as exc:
        raise InputError(str(exc)) from exc
    if not 1 <= args.count <= _MAX_COUNT:
        raise InputError(f"--count must be from 1 to {_MAX_COUNT:,}, got {args.count}")
    if not 1 <= args.connectors <= _MAX_CONNECTORS:
        raise InputError(f"--connectors must be from 1 to {_MAX_CONNECTORS}, got {args.connectors}")
    if args.duration is not None and not (args.duration > 0 and math.isfinite(args.duration)):
        raise InputError("--duration must be > 0")
    bad = sorted(
        {ch for ch in args.id_prefix if ch in "/?#%\\" or not ch.isprintable() or ch.isspace()}
    )
    if bad:
        raise InputError(
            f"--id-prefix {args.id_prefix!r}: {' '.join(map(repr, bad))} cannot be in a charger "
            "identity (it is a path segment of the websocket URL)"
        )
    if (args.cert is None) != (args.key is None):
        raise InputError("--cert and --key go together")
    for flag, path in (("--ca", args.ca), ("--cert", args.cert), ("--key", args.key)):
        if path is not None and not path.is_file():
            raise InputError(f"{flag} {path}: no such file")
    if args.trace is not None:
        if args.trace.is_dir():
            raise InputError(f"--trace {args.trace}: is a folder; give a file name")
        if not args.trace.parent.is_dir():
            raise InputError(f"{args.trace}: the folder {args.trace.parent} does not exist")
        if not os.access(args.trace.parent, os.W_OK):
            raise InputError(
                f"--trace {args.trace}: the folder {args.trace.parent} is not writable"
            )
    width = max(4, len(str(args.count)))
    try:
        configs = [
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
    _check_tls(configs[0])
    return configs


def _check_tls(config: ChargePointConfig) -> None:
    """The CA bundle and client certificate load (every charger reads the same files)."""
    try:
        ssl_context_for(config)
    except (ssl.SSLError, OSError) as exc:
        files = " ".join(
            f"{flag} {path}"
            for flag, path in (
                ("--ca", config.ca_file),
                ("--cert", config.cert_file),
                ("--key", config.key_file),
            )
            if path is not None
        )
        reason = getattr(exc, "reason", None) or exc.strerror or str(exc)
        raise InputError(
            f"{files}: not a usable PEM CA bundle / certificate and key: {reason}"
        ) from exc


async def run_async(
    args: argparse.Namespace, *, stop: asyncio.Event | None = None, out: TextIO = sys.stdout
) -> int:
    """The command inside a running loop; ``stop`` ends it early (signals set it too, and the
    exit code is then 130)."""
    try:
        configs = _configs(args)
    except InputError as exc:
        print(f"ocpplab-sim chargers: {exc}", file=sys.stderr)
        return EXIT_INPUT
    summary = Summary(count=len(configs))
    trace = JsonlTrace(args.trace) if args.trace is not None else None
    registry = ChargerRegistry() if getattr(args, "control_port", None) is not None else None

    def observe(record: FrameRecord) -> None:
        summary(record)
        if trace is not None:
            trace(record)
        if registry is not None:
            registry(record)

    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    signals: list[signal.Signals] = []
    abort = asyncio.Event()

    def interrupted(signum: signal.Signals) -> None:
        signals.append(signum)
        if len(signals) == 1:
            print(f"ocpplab-sim chargers: {signum.name}: stopping", file=sys.stderr, flush=True)
            stop.set()
        else:
            print(
                f"ocpplab-sim chargers: {signum.name} again: not waiting for the chargers to close",
                file=sys.stderr,
                flush=True,
            )
            abort.set()

    handled: list[signal.Signals] = []
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(signum, interrupted, signum)
            handled.append(signum)
    fleet = Fleet(configs, on_frame=observe)
    progress: asyncio.Future[None] | None = None
    if progress_wanted(sys.stderr, flag=getattr(args, "progress", False)):
        progress = asyncio.ensure_future(_progress(fleet, summary, sys.stderr))
    began = time.monotonic()
    code = EXIT_OK
    control = contextlib.AsyncExitStack()
    try:
        if registry is not None:
            registry.add(fleet)
            try:
                await control.enter_async_context(
                    serve_control(registry, args, "ocpplab-sim chargers")
                )
            except InputError as exc:
                print(f"ocpplab-sim chargers: {exc}", file=sys.stderr)
                return EXIT_INPUT
        starting = asyncio.ensure_future(fleet.start_all())
        stopping = asyncio.ensure_future(stop.wait())
        try:
            await asyncio.wait(
                {starting, stopping}, timeout=args.duration, return_when=asyncio.FIRST_COMPLETED
            )
            if starting.done():
                starting.result()  # CsmsUnreachable, or another failure of a charger
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stopping, args.duration)
            elif not stop.is_set():  # the duration passed while the fleet was still starting
                booted = sum(cp.protocol.registered for cp in fleet)
                print(
                    "ocpplab-sim chargers: the duration ended while the fleet was starting "
                    f"({booted}/{len(configs)} booted: BootNotification accepted)",
                    file=sys.stderr,
                )
                if booted == 0:
                    code = EXIT_UNREACHABLE
        except CsmsUnreachable as exc:
            print(f"ocpplab-sim chargers: central system unreachable: {exc}", file=sys.stderr)
            return EXIT_UNREACHABLE
        except OcpplabError as exc:
            print(f"ocpplab-sim chargers: {exc}", file=sys.stderr)
            code = exc.exit_code
        finally:
            if stop.is_set() and not starting.done():
                # a signal while the fleet boots: the boots under way get a moment to finish,
                # so the summary says who was there
                await asyncio.wait({starting}, timeout=_START_GRACE_S)
            for task in (starting, stopping):
                task.cancel()
            await asyncio.gather(starting, stopping, return_exceptions=True)
    finally:
        if progress is not None:
            progress.cancel()
            await asyncio.gather(progress, return_exceptions=True)
        summary.connected = sum(cp.connected for cp in fleet)
        summary.reconnects = sum(cp.reconnects for cp in fleet)
        with contextlib.suppress(Exception):
            await control.aclose()  # no new action while the chargers close
        closing = asyncio.ensure_future(fleet.stop_all())
        aborting = asyncio.ensure_future(abort.wait())
        await asyncio.wait({closing, aborting}, timeout=_TEARDOWN_S, return_when="FIRST_COMPLETED")
        for task in (closing, aborting):
            task.cancel()
        await asyncio.gather(closing, aborting, return_exceptions=True)
        summary.seconds = time.monotonic() - began
        for signum in handled:
            loop.remove_signal_handler(signum)
        if trace is not None:
            trace.close()
    try:
        summary.print(out)
        out.flush()
    except BrokenPipeError:
        _silence(out)
        return EXIT_STDOUT_CLOSED
    return EXIT_INTERRUPTED if signals else code


def _silence(out: TextIO) -> None:
    """``out`` is a closed pipe: what is still buffered, and the interpreter's last flush, go to
    /dev/null instead of raising BrokenPipeError again."""
    with contextlib.suppress(OSError, ValueError, AttributeError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, out.fileno())
        os.close(devnull)


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
