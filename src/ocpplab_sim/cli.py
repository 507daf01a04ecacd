"""Command line: ``ocpplab-sim run | validate | schema | gateway serve``. Wiring only; the work is
elsewhere.

Exit codes: 0 every check passed · 1 a check failed · 2 invalid input · 3 the gateway, central
system or OCPI peer could not be used · 70 an internal error (a defect: ``--debug`` or
``OCPPLAB_DEBUG=1`` shows its traceback) · 130 interrupted (teardown still ran, unless a second
interrupt aborted it — the verdict then names what was left) · 141 standard output was closed
(``| head``; teardown still ran).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import signal
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ocpplab_sim import __version__
from ocpplab_sim.chargers import add_parser as add_chargers_parser
from ocpplab_sim.chargers import run as run_chargers
from ocpplab_sim.control.hub import ChargerRegistry
from ocpplab_sim.control.options import add_control_arguments, port_number, serve_control
from ocpplab_sim.errors import InputError, OcpplabError, ScenarioError
from ocpplab_sim.load.cli import (
    add_load_parser,
    add_report_parser,
    run_load_command,
    run_report_command,
)
from ocpplab_sim.terminal import epilog

__all__ = ["main"]

EXIT_INPUT = 2
EXIT_INTERNAL = 70
EXIT_INTERRUPTED = 130
EXIT_BROKEN_PIPE = 141
COMPLETION_SHELLS = ("bash", "zsh", "fish")


def _positive_duration(text: str) -> float:
    """A duration flag: the scenario grammar (``500ms``, ``10s``, ``2m``, ``1h``, seconds), > 0."""
    from ocpplab_sim.scenario.language.types import parse_duration

    try:
        seconds = parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    if seconds <= 0:
        raise argparse.ArgumentTypeError(f"{text!r}: a duration greater than 0 is needed")
    return seconds


def _http_url(text: str) -> str:
    return _url(text, ("http", "https"))


def _ws_url(text: str) -> str:
    return _url(text, ("ws", "wss"))


def _url(text: str, schemes: tuple[str, ...]) -> str:
    """``text`` if it is a URL of one of ``schemes`` with a host and a valid port."""
    from urllib.parse import urlsplit

    try:
        split = urlsplit(text)
        split.port  # noqa: B018 - raises ValueError for a port out of range
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r} is not a valid URL: {exc}") from None
    if split.scheme not in schemes or not split.hostname:
        want = " or ".join(f"{scheme}://" for scheme in schemes)
        raise argparse.ArgumentTypeError(f"{text!r} is not a URL with a host and scheme {want}")
    return text


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ocpplab-sim",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Prove an EV-charging platform end to end: provision a CPO network, drive "
        "simulated OCPP\ncharge points through a scenario, verify the OCPI EVSE status. "
        "`ocpplab-sim COMMAND --help`: one command.",
        epilog=epilog(
            [
                "ocpplab-sim run scenarios/urban.yaml",
                "ocpplab-sim validate scenarios/*.yaml",
                "ocpplab-sim chargers --csms-url ws://127.0.0.1:9000/ocpp --count 20",
                "ocpplab-sim load --csms-url ws://127.0.0.1:9000 --chargers 1000",
                "ocpplab-sim completion bash > ~/.local/share/bash-completion/completions/"
                "ocpplab-sim",
            ],
            [
                (0, "success"),
                (1, "a check (run) or the load verdict failed"),
                (2, "invalid input"),
                (3, "the gateway, central system or OCPI peer could not be used"),
                (70, "an internal error (--debug shows its traceback)"),
                (130, "interrupted"),
                (141, "standard output was closed"),
            ],
        ),
    )
    parser.add_argument("--version", action="version", version=f"ocpplab-sim {__version__}")
    parser.add_argument(
        "--debug",
        action="store_true",
        default=os.environ.get("OCPPLAB_DEBUG", "") not in ("", "0"),
        help="show the Python traceback of an internal error (env OCPPLAB_DEBUG=1)",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = commands.add_parser(
        "run",
        help="run a scenario file",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Run a scenario file: provision its CPO network on a gateway (the embedded "
        "reference gateway unless --gateway-url), drive simulated OCPP charge points through\n"
        "its steps, check the OCPI EVSE status the platform publishes, tear everything down.",
        epilog=epilog(
            [
                "ocpplab-sim run scenarios/urban.yaml",
                "ocpplab-sim run scenarios/highway.yaml --strict --junit report.xml",
                "ocpplab-sim run s.yaml --gateway-url https://gw.example.test --token T",
                "ocpplab-sim run s.yaml --json - | jq .exit_code   # report on stdout",
            ],
            [
                (0, "every check passed"),
                (1, "a check failed (the failing check is named)"),
                (2, "invalid input: the scenario file (file:line:column) or the arguments"),
                (3, "the gateway, central system or OCPI peer could not be reached"),
                (70, "an internal error (--debug shows its traceback)"),
                (130, "interrupted (Ctrl-C or SIGTERM); teardown still ran"),
                (141, "standard output was closed; teardown still ran"),
            ],
        ),
    )
    run.add_argument("scenario", type=Path, help="scenario YAML file")
    run.add_argument(
        "--gateway-url",
        type=_http_url,
        default=os.environ.get("OCPPLAB_GATEWAY_URL"),
        help="Gateway API base URL (env OCPPLAB_GATEWAY_URL); default: start the embedded "
        "reference gateway on a free loopback port",
    )
    run.add_argument(
        "--token",
        default=os.environ.get("OCPPLAB_TOKEN"),
        help="Gateway API bearer token (env OCPPLAB_TOKEN)",
    )
    run.add_argument(
        "--csms-url", type=_ws_url, help="OCPP central system base URL (ws:// or wss://)"
    )
    run.add_argument(
        "--junit", type=Path, metavar="PATH", help="write a JUnit XML report ('-': stdout)"
    )
    run.add_argument("--json", type=Path, metavar="PATH", help="write a JSON report ('-': stdout)")
    run.add_argument(
        "--html", type=Path, metavar="PATH", help="write a self-contained HTML report ('-': stdout)"
    )
    run.add_argument(
        "--trace", type=Path, metavar="PATH", help="write every OCPP frame as JSON Lines"
    )
    run.add_argument("--seed", type=int, default=0, help="seed for repeatable runs (default 0)")
    run.add_argument(
        "--lease",
        type=_positive_duration,
        default=60.0,
        metavar="DURATION",
        help="the provisioned CPO expires this long after the harness last renewed it, where "
        "the gateway offers leases: the most a killed harness leaves behind (default 60s)",
    )
    run.add_argument(
        "--strict",
        action="store_true",
        help="validate every OCPP frame both ways against the official schemas",
    )
    run.add_argument("--no-color", action="store_true", help="plain console output")
    add_control_arguments(run)
    run.add_argument(
        "-v", "--verbose", action="store_true", help="log what the harness and gateway do"
    )

    validate = commands.add_parser(
        "validate",
        help="check scenario files without running them",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Check scenario files without running them: YAML, fields, selectors and "
        "durations;\nevery problem is listed with file:line:column.",
        epilog=epilog(
            ["ocpplab-sim validate scenarios/*.yaml"],
            [(0, "every file is a valid scenario"), (2, "a file is not (each problem listed)")],
        ),
    )
    validate.add_argument("files", type=Path, nargs="+", metavar="FILE")

    schema = commands.add_parser(
        "schema",
        help="print the JSON Schema of the scenario format (or of the JSON report)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Print the JSON Schema of the scenario format (for editors: YAML language "
        "servers) or of\nthe JSON report of `run --json`.",
        epilog=epilog(
            [
                "ocpplab-sim schema > schemas/scenario.schema.json",
                "ocpplab-sim schema report",
            ],
            [(0, "printed"), (2, "an unknown WHICH"), (141, "standard output was closed")],
        ),
    )
    schema.add_argument(
        "which", nargs="?", choices=("scenario", "report"), default="scenario", metavar="WHICH"
    )

    gateway_codes = [
        (0, "stopped by Ctrl-C or SIGTERM"),
        (2, "invalid settings (port, host, database, TLS files, token off loopback)"),
        (70, "an internal error (--debug shows its traceback)"),
    ]
    gateway = commands.add_parser(
        "gateway",
        help="the reference gateway",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="The reference gateway: Gateway API, OCPP central system, OCPI 2.2.1 CPO "
        "side, SQLite.",
        epilog=epilog(["ocpplab-sim gateway serve --port 8080 --token secret"], gateway_codes),
    )
    gateway_commands = gateway.add_subparsers(dest="gateway_command", required=True)
    serve = gateway_commands.add_parser(
        "serve",
        help="serve the reference gateway",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Serve the reference gateway (docs/reference-gateway.md) until Ctrl-C: "
        "Gateway API at /ocpi/cpos,\nOCPP at ws://HOST:PORT/ocpp/{identity}, OCPI 2.2.1 CPO "
        "endpoints.",
        epilog=epilog(
            [
                "ocpplab-sim gateway serve",
                "ocpplab-sim gateway serve --host 0.0.0.0 --port 8080 --token secret \\",
                "    --db postgresql+asyncpg://user:pw@db/ocpplab",
            ],
            gateway_codes,
        ),
    )
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=port_number, default=8080)
    serve.add_argument(
        "--db",
        default="sqlite+aiosqlite:///ocpplab-gateway.db",
        help="database URL (default: sqlite+aiosqlite:///ocpplab-gateway.db)",
    )
    serve.add_argument(
        "--token",
        default=os.environ.get("OCPPLAB_TOKEN", "ocpplab-dev-token"),
        help="bearer token the Gateway API accepts (env OCPPLAB_TOKEN)",
    )
    serve.add_argument("--heartbeat-interval", type=int, default=300, metavar="SECONDS")
    serve.add_argument(
        "--heartbeat-timeout-factor",
        type=float,
        metavar="N",
        help="a charger silent for N x the heartbeat interval (+ grace) goes offline (default 2)",
    )
    serve.add_argument("--heartbeat-grace", type=float, metavar="SECONDS", help="default 30")
    serve.add_argument("--public-base-url", help="base URL written into absolute links")
    serve.add_argument(
        "--expiry-sweep",
        type=_positive_duration,
        metavar="DURATION",
        help="how often expired CPOs are deleted (default 30s)",
    )
    serve.add_argument("--ssl-certfile", help="serve TLS (https, wss) with this certificate")
    serve.add_argument("--ssl-keyfile", help="the certificate's private key")
    serve.add_argument(
        "--log-level",
        choices=("critical", "error", "warning", "info", "debug"),
        default="warning",
        help="server log level (default warning; info lists every connection)",
    )
    add_chargers_parser(commands)
    add_load_parser(commands)
    add_report_parser(commands)

    completion = commands.add_parser(
        "completion",
        help="print a shell completion script (bash, zsh, fish)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Print a completion script of every command and flag for SHELL; load it "
        "from your shell's\nstartup file or its completion folder.",
        epilog=epilog(
            [
                "ocpplab-sim completion bash > ~/.local/share/bash-completion/completions/"
                "ocpplab-sim",
                'eval "$(ocpplab-sim completion bash)"          # this shell only',
                "ocpplab-sim completion zsh > ~/.zfunc/_ocpplab-sim",
                "ocpplab-sim completion fish > ~/.config/fish/completions/ocpplab-sim.fish",
            ],
            [(0, "printed"), (2, "an unknown SHELL"), (141, "standard output was closed")],
        ),
    )
    completion.add_argument("shell", choices=COMPLETION_SHELLS, metavar="SHELL")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``ocpplab-sim`` command; returns the exit code. Never a traceback
    but with ``--debug``: an error of the input or the network is one line naming it, a
    defect one line saying so."""
    args = _parser().parse_args(argv)
    try:
        return _dispatch(args)
    except ScenarioError as exc:
        print(exc, file=sys.stderr)  # file:line:col first, as editors jump to it
        return exc.exit_code
    except OcpplabError as exc:
        print(f"ocpplab-sim: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("ocpplab-sim: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        _silence_stdout()
        return EXIT_BROKEN_PIPE
    except Exception as exc:
        if args.debug:
            raise
        print(
            f"ocpplab-sim: internal error: {type(exc).__name__}: {exc} "
            "(a defect; --debug or OCPPLAB_DEBUG=1 shows the traceback)",
            file=sys.stderr,
        )
        return EXIT_INTERNAL


def _dispatch(args: argparse.Namespace) -> int:
    if args.command == "run":
        return _run(args)
    if args.command == "validate":
        return _validate(args.files)
    if args.command == "schema":
        return _schema(args.which)
    if args.command == "chargers":
        return run_chargers(args)
    if args.command == "load":
        return run_load_command(args)
    if args.command == "report":
        return run_report_command(args)
    if args.command == "completion":
        return _completion(args.shell)
    return _serve(args)


def _silence_stdout() -> None:
    """Standard output is gone (``| head``): later writes, the interpreter's final flush
    included, go nowhere instead of raising BrokenPipeError again."""
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)


def _validate(files: Sequence[Path]) -> int:
    from ocpplab_sim.scenario.language.loader import load_scenario

    worst = 0
    for path in files:
        try:
            scenario = load_scenario(path)
        except InputError as exc:
            print(exc, file=sys.stderr)
            worst = exc.exit_code
            continue
        count = len(scenario.all_steps())
        print(f"{path}: ok ({scenario.name!r}, {count} steps)")
    return worst


def _schema(which: str) -> int:
    if which == "report":
        from ocpplab_sim.reports import report_schema

        schema = report_schema()
    else:
        from ocpplab_sim.scenario.language.schema import scenario_schema

        schema = scenario_schema()
    print(json.dumps(schema, indent=2, ensure_ascii=False))
    sys.stdout.flush()  # a closed pipe shows here, not at exit
    return 0


def _completion(shell: str) -> int:
    """The completion script of the whole command line for ``shell``, made by shtab from the
    argument parser itself (so it never lags behind a new flag)."""
    import shtab

    print(shtab.complete(_parser(), shell=shell), end="")
    sys.stdout.flush()  # a closed pipe shows here, not at exit
    return 0


def _run(args: argparse.Namespace) -> int:
    from ocpplab_sim.reports import (
        ConsoleReporter,
        RunRecord,
        TraceWriter,
        to_html,
        to_json,
        to_junit_xml,
    )
    from ocpplab_sim.runner import RunControl, RunOptions, run_scenario
    from ocpplab_sim.scenario.execution.events import Event
    from ocpplab_sim.scenario.language.loader import load_scenario

    _configure_logging(verbose=args.verbose)
    scenario = load_scenario(args.scenario)
    to_stdout = [
        flag
        for flag, path in (("--junit", args.junit), ("--json", args.json), ("--html", args.html))
        if _is_stdout(path)
    ]
    if len(to_stdout) > 1:
        raise InputError(
            f"{' and '.join(to_stdout)}: only one report can go to standard output ('-')"
        )
    if _is_stdout(args.trace):
        raise InputError("--trace -: the trace goes to a file")
    for report in (args.junit, args.json, args.html, args.trace):
        if report is None or _is_stdout(report):
            continue
        if report.is_dir():
            raise InputError(f"{report}: is a folder; give a file path for the report")
        if not report.parent.is_dir():
            raise InputError(f"{report}: the folder {report.parent} does not exist")
        if not os.access(report.parent, os.W_OK):
            raise InputError(f"{report}: the folder {report.parent} is not writable")
    trace = TraceWriter(args.trace) if args.trace is not None else None
    registry = ChargerRegistry() if args.control_port is not None else None
    options = RunOptions(
        gateway_url=args.gateway_url,
        token=args.token,
        csms_url=args.csms_url,
        seed=args.seed,
        strict=args.strict,
        on_frame=_frames_to(trace, registry),
        lease_s=args.lease,
        on_fleet=registry.add if registry is not None else None,
    )
    # a report on standard output (`-`) is the only thing there: the console goes to stderr
    console = ConsoleReporter(
        sys.stderr if to_stdout else None, color=False if args.no_color else None
    )
    record = RunRecord()

    control = RunControl()
    stdout_closed = False

    def emit(event: Event) -> None:
        nonlocal stdout_closed
        record(event)
        if stdout_closed:
            return
        try:
            console(event)
        except BrokenPipeError:
            # `| head` closed the console: the run stops, tears down, and the reports still
            # get written
            stdout_closed = True
            _silence_stdout()
            control.interrupt()

    def interrupted() -> None:
        what = control.interrupt()
        if what == "cancel":
            print(
                "ocpplab-sim: interrupted; tearing down (interrupt again to abort the teardown)",
                file=sys.stderr,
            )
        elif what == "abort-teardown":
            print("ocpplab-sim: aborting the teardown", file=sys.stderr)

    async def main_task() -> int:
        # SIGTERM takes the same road as Ctrl-C: cancel, tear down, report; a second one of
        # either aborts the teardown.
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, interrupted)
        if registry is None:
            return await run_scenario(scenario, options, emit, control)
        async with serve_control(registry, args, "ocpplab-sim run"):
            return await run_scenario(scenario, options, emit, control)

    try:
        exit_code = asyncio.run(main_task())
    finally:
        if trace is not None:
            trace.close()
    for path, render in ((args.junit, to_junit_xml), (args.json, to_json), (args.html, to_html)):
        if path is None:
            continue
        if _is_stdout(path):
            try:
                sys.stdout.write(render(record))
                sys.stdout.flush()
            except BrokenPipeError:
                _silence_stdout()
                stdout_closed = True
            continue
        try:
            path.write_text(render(record), encoding="utf-8")
        except OSError as exc:
            raise InputError(f"{path}: the report could not be written: {exc.strerror}") from exc
    return EXIT_BROKEN_PIPE if stdout_closed else exit_code


def _is_stdout(path: Path | None) -> bool:
    """``-`` as a report path: standard output."""
    return path is not None and str(path) == "-"


def _frames_to(*observers: Callable[[Any], None] | None) -> Callable[[Any], None] | None:
    """One ``on_frame`` observer calling each of ``observers`` that is given."""
    given = [o for o in observers if o is not None]
    if len(given) < 2:
        return given[0] if given else None

    def each(record: Any) -> None:
        for observer in given:
            observer(record)

    return each


def _configure_logging(*, verbose: bool) -> None:
    """Warnings to stderr; with ``--verbose`` everything from INFO. The embedded gateway's own
    warnings concern the platform under test only when it is a real one, so they stay quiet."""
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    if not verbose:
        logging.getLogger("ocpplab_sim.gateway").setLevel(logging.ERROR)


def _serve(args: argparse.Namespace) -> int:
    from ocpplab_sim.launcher import serve_gateway

    serve_gateway(
        host=args.host,
        port=args.port,
        db_url=args.db,
        token=args.token,
        heartbeat_interval=args.heartbeat_interval,
        heartbeat_timeout_factor=args.heartbeat_timeout_factor,
        heartbeat_grace=args.heartbeat_grace,
        public_base_url=args.public_base_url,
        expiry_sweep_interval=args.expiry_sweep,
        ssl_certfile=args.ssl_certfile,
        ssl_keyfile=args.ssl_keyfile,
        log_level=args.log_level,
    )
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
