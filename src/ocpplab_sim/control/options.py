"""``--control-port`` / ``--control-host`` of the commands that run chargers (``run``,
``chargers``), and the server they start. Light to import: the web framework loads only when a
control port is given."""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import AsyncIterator

from ocpplab_sim.control.hub import ChargerRegistry
from ocpplab_sim.errors import ConnectivityError, InputError

__all__ = ["add_control_arguments", "port_number", "serve_control"]


def port_number(text: str) -> int:
    """An argparse type: a TCP port, 0 for any free one."""
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{port} is not a port (0-65535; 0: any free one)")
    return port


def add_control_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--control-port",
        type=port_number,
        metavar="PORT",
        help="serve the control API and web console on this port while the chargers run "
        "(0: any free one; the URL is printed on standard error)",
    )
    parser.add_argument(
        "--control-host",
        default="127.0.0.1",
        metavar="HOST",
        help="address of the control API (default 127.0.0.1; it has no authentication)",
    )


@contextlib.asynccontextmanager
async def serve_control(
    registry: ChargerRegistry, args: argparse.Namespace, prog: str
) -> AsyncIterator[str]:
    """Serve the control API over ``registry`` for the block; yields its URL. A port that
    cannot be bound is an :class:`InputError` naming the flag."""
    from ocpplab_sim.control.server import ControlServer, is_loopback

    server = ControlServer(registry, host=args.control_host, port=args.control_port)
    try:
        await server.start()
    except ConnectivityError as exc:
        raise InputError(f"--control-host/--control-port: {exc}") from exc
    try:
        print(
            f"{prog}: control API and console at {server.url}/ (API: {server.url}/docs)",
            file=sys.stderr,
            flush=True,
        )
        if not is_loopback(args.control_host):
            print(
                f"{prog}: warning: the control API has no authentication and listens on "
                f"{args.control_host}: anyone who reaches it drives the chargers",
                file=sys.stderr,
                flush=True,
            )
        yield server.url
    finally:
        await server.stop()
