"""``ocpplab-sim load`` and ``ocpplab-sim report merge``: argument parsing and wiring only."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import math
import os
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from ocpplab_sim.errors import InputError
from ocpplab_sim.fleet import TRANSPORTS
from ocpplab_sim.load.html import to_html
from ocpplab_sim.load.merge import merge_load_reports, read_report
from ocpplab_sim.load.metrics import LoadMetrics
from ocpplab_sim.load.ocpi_probe import EvseRef, OcpiProbe
from ocpplab_sim.load.prometheus import PrometheusExporter, bind_address, pushgateway_url
from ocpplab_sim.load.runner import LOAD_REPORT_KIND, LOAD_REPORT_VERSION, LoadRunResult, run_load
from ocpplab_sim.load.shapes import SHAPES, parse_shape
from ocpplab_sim.load.shard import Shard, shard_from_env
from ocpplab_sim.load.stop import EXIT_STDOUT_CLOSED, Console, Interrupts, StopFlag
from ocpplab_sim.load.template import ProvisionedNetwork, parse_template_params, provisioned
from ocpplab_sim.load.thresholds import Threshold, evaluate, parse_threshold
from ocpplab_sim.load.verdict import summary_lines, verdict
from ocpplab_sim.load.worker import ChargerSpec, WorkerPlan
from ocpplab_sim.ocpi_client import OcpiClient
from ocpplab_sim.terminal import colored, epilog, use_color
from ocpplab_sim.units import DURATION_EXAMPLES, parse_duration, parse_url

__all__ = ["add_load_parser", "add_report_parser", "run_load_command", "run_report_command"]

# Bounds of the numbers a load run takes: beyond them a run would exhaust memory or time before
# it measured anything.
_MAX_CHARGERS = 10_000_000  # all shards together
_MAX_CONNECTORS = 100  # EVSEs per charger
_MAX_WORKERS = 256
_MAX_SOURCE_ADDRESSES = 2**24 - 3  # 127.0.0.2 … 127.255.255.254

_console = Console()  # standard output that a closed pipe stops the run through, no traceback


def _duration(text: str) -> float:
    """An argparse type: the one duration grammar (``ocpplab_sim.units``)."""
    try:
        return parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _rate(*, positive: bool = False) -> Callable[[str], float]:
    """An argparse type: a finite number of events per second, ≥ 0 (or > 0)."""

    def rate(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number per second") from None
        if not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"{text!r}: a rate must be a finite number")
        if value < 0 or (positive and value == 0):
            raise argparse.ArgumentTypeError(f"{text}: must be {'> 0' if positive else '≥ 0'}")
        return value

    return rate


def _whole(low: int, high: int) -> Callable[[str], int]:
    """An argparse type: a whole number from ``low`` to ``high``."""

    def whole(text: str) -> int:
        value = text.strip()
        digits = value.removeprefix("-")
        if not (digits.isascii() and digits.isdigit()):
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number")
        number = int(value)
        if number < low:
            raise argparse.ArgumentTypeError(f"must be at least {low}, got {number}")
        if number > high:
            raise argparse.ArgumentTypeError(f"must be at most {high:,}, got {number:,}")
        return number

    return whole


def _workers(text: str) -> int | str:
    """An argparse type: ``auto`` or a number of worker processes."""
    if text == "auto":
        return text
    value = text.strip()
    if not (value.isascii() and value.isdigit()) or not 1 <= int(value) <= _MAX_WORKERS:
        raise argparse.ArgumentTypeError(
            f"takes auto or a whole number from 1 to {_MAX_WORKERS}, got {text!r}"
        )
    return int(value)


def _threshold(text: str) -> Threshold:
    """An argparse type: one ``--threshold`` (``load.thresholds``)."""
    try:
        return parse_threshold(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _fault_code(text: str) -> str:
    if not 1 <= len(text) <= 50 or not text.isprintable():
        raise argparse.ArgumentTypeError(f"{text!r}: 1 to 50 printable characters")
    return text


def add_load_parser(commands: Any) -> None:
    """Add ``load`` to a subparsers object."""
    load = commands.add_parser(
        "load",
        help="load-test a central system with many simulated chargers",
        usage="%(prog)s [SCENARIO] [--csms-url URL | --template NAME] [options]  (--help: all)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Connect a fleet of simulated chargers to a central system along a load "
        "shape; report\nlatencies (HDR histograms) and errors. Loopback or your own hosts only. "
        "Durations: " + DURATION_EXAMPLES + ".",
        epilog=epilog(
            [
                "ocpplab-sim load --csms-url ws://127.0.0.1:9000 --chargers 1000 --duration 2m",
                "ocpplab-sim load scenarios/network-load.yaml --report load.json --html load.html",
                "ocpplab-sim load --template large-network --template-param locations=10",
                "ocpplab-sim load --csms-url ws://127.0.0.1:9000 --threshold 'p99<500ms' \\",
                "    --threshold 'errors==0' --threshold 'Heartbeat:p95<=200ms'",
            ],
            [
                (0, "every call answered, nothing failed, every --threshold held"),
                (1, "errors, unanswered calls, nothing connected or a failed threshold"),
                (2, "invalid input (a bad --threshold is named)"),
                (3, "the gateway could not be used"),
                (130, "stopped by SIGINT or SIGTERM (summary and report of what was measured)"),
                (141, "standard output was closed (same, quietly)"),
            ],
        ),
    )
    load.add_argument(
        "scenario",
        nargs="?",
        type=Path,
        help="a scenario file: its chargers (gateway template or inline topology at csms.url) "
        "and its load: block; flags override the block",
    )
    load.add_argument("--csms-url", help="central system base URL (ws:// or wss://)")
    load.add_argument(
        "--template",
        help="take the chargers from this template, provisioned on a gateway for the run "
        "(instead of --csms-url)",
    )
    load.add_argument(
        "--template-param", action="append", metavar="NAME=VALUE", help="template parameter"
    )
    load.add_argument(
        "--gateway-url",
        help="gateway for --template (env OCPPLAB_GATEWAY_URL; default: the embedded one)",
    )
    load.add_argument(
        "--ocpi-sample",
        type=_whole(0, _MAX_CHARGERS),
        default=20,
        metavar="N",
        help="with --template: measure OCPI propagation latency on the EVSEs of N chargers "
        "spread over the fleet (0: off)",
    )
    load.add_argument(
        "--token", help="gateway token for --template (env OCPPLAB_TOKEN; default load-token)"
    )
    load.add_argument("--security-profile", type=int, choices=(0, 1))
    load.add_argument(
        "--chargers",
        type=_whole(1, _MAX_CHARGERS),
        help="fleet size (all shards together; default 100, or all)",
    )
    load.add_argument("--shape", choices=SHAPES, help="default ramp")
    load.add_argument("--duration", type=_duration, help="e.g. 60s, 5m (default 60s)")
    load.add_argument("--ramp", type=_duration, help="ramp time of the ramp shape")
    load.add_argument(
        "--connect-rate", type=_rate(positive=True), help="new connections per second (cap)"
    )
    load.add_argument(
        "--session-rate", type=_rate(), help="sessions started per second (default 0)"
    )
    load.add_argument("--session-length", type=_duration, help="default 30s")
    load.add_argument(
        "--fault-rate", type=_rate(), help="faults injected on idle chargers per second (default 0)"
    )
    load.add_argument("--fault-length", type=_duration, help="how long a fault lasts (10s)")
    load.add_argument(
        "--fault-code", type=_fault_code, help="1.6 ChargePointErrorCode of a fault (OtherError)"
    )
    load.add_argument("--ocpp-version", choices=("1.6", "2.0.1", "mixed"), default="1.6")
    load.add_argument(
        "--connectors", type=_whole(1, _MAX_CONNECTORS), default=1, help="EVSEs per charger"
    )
    load.add_argument("--id-prefix", default="LOAD-")
    load.add_argument("--meter-interval", type=_duration, help="default 60s")
    load.add_argument(
        "--workers",
        type=_workers,
        default="auto",
        help="worker processes: auto (one per core) or N",
    )
    load.add_argument(
        "--shard",
        help="I/N: run slice I (0-based) of N; default from "
        "JOB_COMPLETION_INDEX + OCPPLAB_SHARD_COUNT, else the whole fleet",
    )
    load.add_argument("--seed", type=_whole(-(2**63), 2**63 - 1), default=0)
    load.add_argument(
        "--report",
        type=Path,
        metavar="PATH",
        help="write the JSON report ('-': to standard output, the rest then goes to stderr)",
    )
    load.add_argument("--html", type=Path, metavar="PATH", help="write the HTML report")
    load.add_argument(
        "--threshold",
        type=_threshold,
        action="append",
        default=[],
        metavar="RULE",
        help="pass/fail rule on the final metrics, repeatable: [ACTION:]METRIC OP VALUE, e.g. "
        "'p99<500ms', 'errors==0', 'Heartbeat:p95<=200ms', 'calls_per_s>=100' (metrics p50 "
        "p90 p95 p99 p999 pN max errors unanswered connected calls calls_per_s; OP < <= > >= "
        "== !=); a failed one exits 1",
    )
    load.add_argument("--quiet", action="store_true", help="no live progress")
    load.add_argument(
        "--no-color",
        action="store_true",
        help="plain output (also NO_COLOR=1; FORCE_COLOR=1 colours when not a terminal)",
    )
    load.add_argument(
        "--prometheus",
        type=bind_address,
        metavar="[HOST:]PORT",
        help="serve live metrics for Prometheus on http://HOST:PORT/metrics (default host "
        "127.0.0.1; 0.0.0.0 in a container; port 0: any)",
    )
    load.add_argument(
        "--pushgateway",
        type=pushgateway_url,
        metavar="URL",
        help="push the final metrics to this Prometheus Pushgateway at the end of the run "
        "(grouped by --pushgateway-job and instance shard-I)",
    )
    load.add_argument("--pushgateway-job", default="ocpplab_load", metavar="NAME")
    load.add_argument(
        "--transport",
        choices=TRANSPORTS,
        default="picows",
        help="websocket library of the chargers (default picows: compiled, about half the CPU "
        "per connect and per message of websockets)",
    )
    load.add_argument(
        "--validation",
        choices=("strict", "lenient", "off"),
        help="schema checks of every frame (default: lenient, violations logged)",
    )
    load.add_argument(
        "--source-addresses",
        type=_whole(0, _MAX_SOURCE_ADDRESSES),
        default=0,
        metavar="N",
        help="bind chargers to 127.0.0.2 … round-robin over N loopback addresses "
        "(past the ephemeral ports of one address; loopback central systems only)",
    )


def add_report_parser(commands: Any) -> None:
    """Add ``report merge`` to a subparsers object."""
    merge_codes = [
        (0, "the merged run passed"),
        (1, "the merged run failed (the summary says why)"),
        (2, "not one complete set of shard reports of one run, or an unwritable output"),
    ]
    merge_examples = [
        "ocpplab-sim report merge shard-*.json --output merged.json --html merged.html",
        "ocpplab-sim report merge shard-*.json | jq .metrics.counters",
    ]
    report = commands.add_parser(
        "report",
        help="work with load reports",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Work with the JSON reports of `ocpplab-sim load`.",
        epilog=epilog(merge_examples, merge_codes),
    )
    actions = report.add_subparsers(dest="report_command", required=True)
    merge = actions.add_parser(
        "merge",
        help="merge shard reports exactly (histograms added)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Merge the shard reports of one load run: one report of every shard, "
        "of the same plan and\nshard count, histograms added exactly. Anything else is refused "
        "(exit 2). Without --output\nthe merged report is printed on standard output, "
        "messages on standard error.",
        epilog=epilog(merge_examples, merge_codes),
    )
    merge.add_argument("reports", type=Path, nargs="+", metavar="REPORT")
    merge.add_argument(
        "--output",
        "-o",
        type=Path,
        help="write the merged JSON here (default, or '-': standard output, nothing else there)",
    )
    merge.add_argument("--html", type=Path, help="write the merged HTML report here")
    merge.add_argument(
        "--threshold",
        type=_threshold,
        action="append",
        default=[],
        metavar="RULE",
        help="a pass/fail rule on the merged metrics, as `load --threshold` takes it",
    )
    merge.add_argument(
        "--allow-partial",
        action="store_true",
        help="merge even when shards are missing: say which, and record them in the merged "
        "report (shard.complete, shard.missing)",
    )


def _plan(
    args: argparse.Namespace, chargers: tuple[ChargerSpec, ...] = ()
) -> tuple[WorkerPlan, Shard]:
    if chargers:
        args.chargers = min(args.chargers or len(chargers), len(chargers))
        chargers = chargers[: args.chargers]
    elif args.chargers is None:
        args.chargers = 100
    try:
        parse_url(args.csms_url, ("ws", "wss"), what=getattr(args, "csms_url_from", "--csms-url"))
    except ValueError as exc:
        raise InputError(str(exc)) from exc
    if not chargers:
        _check_identity_prefix(args.id_prefix)
    if args.meter_interval <= 0:
        raise InputError("--meter-interval must be > 0")
    try:
        shape = parse_shape(
            args.shape,
            chargers=args.chargers,
            duration_s=args.duration,
            ramp_s=args.ramp,
            session_rate=args.session_rate,
            connect_rate=args.connect_rate,
        )
        shard = Shard.parse(args.shard) if args.shard else shard_from_env() or Shard()
    except ValueError as exc:
        raise InputError(str(exc)) from exc
    plan = WorkerPlan(
        csms_url=args.csms_url,
        first=0,
        last=args.chargers,
        total=args.chargers,
        shape=shape,
        ocpp_version=args.ocpp_version,
        connectors=args.connectors,
        id_prefix=args.id_prefix,
        session_s=args.session_length,
        seed=args.seed,
        meter_interval_s=args.meter_interval,
        validation=args.validation,
        source_addresses=args.source_addresses,
        chargers=chargers,
        transport=args.transport,
        fault_rate=args.fault_rate,
        fault_s=args.fault_length,
        fault_code=args.fault_code,
    )
    # every charger's configuration is checked here, not in a worker where it would fail late
    for number in range(len(chargers)) if chargers else (0, args.chargers - 1):
        try:
            plan.config(number)
        except ValueError as exc:
            raise InputError(f"charger {number}: {exc}") from exc
    return plan, shard


def _check_identity_prefix(prefix: str) -> None:
    """Identities are a path segment of the websocket URL: nothing that would end or escape it."""
    bad = sorted({ch for ch in prefix if ch in "/?#%\\" or ch.isspace() or not ch.isprintable()})
    if bad:
        raise InputError(
            f"--id-prefix {prefix!r}: {' '.join(repr(ch) for ch in bad)} cannot be in a "
            "charger identity (it is a path segment of the websocket URL)"
        )


def _progress(point: dict[str, Any]) -> None:
    faulted = f"  faulted {point['faulted']:>4}" if point.get("faulted") else ""
    _console.say(
        f"  t={point['t']:>4}s  connected {point['connected']:>6}  booted {point['booted']:>6}"
        f"  charging {point['charging']:>5}{faulted}  sessions {point['sessions']:>6}"
        f"  errors {point['errors']:>4}  {point['messages']:>7} msg/s"
        f"  p50 {point['p50_s'] * 1000:7.1f} ms  p99 {point['p99_s'] * 1000:7.1f} ms"
    )


# Defaults of the flags a scenario's load: block may also set (flag > block > default).
_DEFAULTS: dict[str, Any] = {
    "shape": "ramp",
    "duration": 60.0,
    "session_rate": 0.0,
    "session_length": 30.0,
    "fault_rate": 0.0,
    "fault_length": 10.0,
    "fault_code": "OtherError",
    "meter_interval": 60.0,
    "security_profile": 0,
}


def _from_scenario(args: argparse.Namespace) -> tuple[ChargerSpec, ...]:
    """Fill what the flags left open from the scenario file; its inline chargers, if any."""
    from ocpplab_sim.scenario.language.loader import load_scenario

    scenario = load_scenario(args.scenario)  # ScenarioError (exit 2) names file, line, field
    spec = scenario.load
    if spec is not None:
        block = {
            "chargers": spec.chargers,
            "shape": spec.shape,
            "duration": spec.duration,
            "ramp": spec.ramp,
            "connect_rate": spec.connect_rate,
            "meter_interval": spec.meter_interval,
            "session_rate": spec.sessions.rate,
            "session_length": spec.sessions.length,
            "fault_rate": spec.faults.rate,
            "fault_length": spec.faults.length,
            "fault_code": spec.faults.error_code,
        }
        for name, value in block.items():
            if getattr(args, name) is None:
                setattr(args, name, value)
    if scenario.gateway is not None:
        if args.csms_url is not None:
            raise InputError(f"{args.scenario}: the scenario provisions a gateway; no --csms-url")
        gateway = scenario.gateway
        args.template = args.template or gateway.template
        given = parse_template_params(args.template_param)
        args.template_param = [f"{k}={v}" for k, v in {**gateway.template_params, **given}.items()]
        if args.security_profile is None:
            args.security_profile = gateway.ocpp_security_profile
        return ()
    assert scenario.topology is not None  # the loader requires gateway or topology
    if args.csms_url is None:
        if scenario.csms is None:
            raise InputError(
                f"{args.scenario}: an inline topology needs csms.url (or --csms-url) for a load run"
            )
        args.csms_url = scenario.csms.url
        args.csms_url_from = f"{args.scenario}: csms.url"
    return tuple(
        ChargerSpec(
            identity=charger.identity,
            ocpp_version=charger.ocpp_version,
            evse_count=charger.evses if isinstance(charger.evses, int) else len(charger.evses),
        )
        for charger in scenario.topology.chargers
    )


def run_load_command(args: argparse.Namespace) -> int:
    """Run ``load``: 0 when chargers connected, every call was answered and nothing failed, else
    1 (the summary says why); 130 after SIGINT or SIGTERM and 141 after a closed standard
    output — the run stops, the summary and the report of what was measured still come (marked
    interrupted), a template's CPO is deleted."""
    _quiet_embedded_gateway()
    _console.to_stderr = False  # until a report given as `-` takes standard output
    interrupts = Interrupts("ocpplab-sim load")

    def stdout_closed() -> None:
        interrupts.request("closed standard output", EXIT_STDOUT_CLOSED)

    _console.on_closed = stdout_closed
    try:
        with interrupts.installed():
            code = _load(args, interrupts)
            _console.flush()  # a closed pipe shows here, not in the interpreter's last flush
    finally:
        _console.on_closed = None
    return interrupts.exit_code if interrupts.exit_code is not None else code


def _load(args: argparse.Namespace, interrupts: Interrupts) -> int:
    inline: tuple[ChargerSpec, ...] = ()
    if args.scenario is not None:
        inline = _from_scenario(args)
    for name, value in _DEFAULTS.items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    _check_outputs(args)
    if _is_stdout(args.report):
        _console.to_stderr = True  # standard output carries the report, and nothing else
    if inline or args.template is None:
        if not inline and args.csms_url is None:
            raise InputError("give --csms-url URL, --template NAME or a scenario file")
        for flag, value in (
            ("--gateway-url", args.gateway_url),
            ("--token", args.token),
            ("--template-param", args.template_param),
        ):
            if value is not None:
                raise InputError(f"{flag} goes with --template (or a scenario with a gateway)")
        return _finish(_execute(args, inline, stop=interrupts.flag).report, args, interrupts)
    if args.csms_url is not None:
        raise InputError("--csms-url and --template exclude each other")
    params = parse_template_params(args.template_param)
    _gateway_from_env(args)
    try:
        return asyncio.run(_run_template(args, params, interrupts))
    except asyncio.CancelledError:
        if interrupts.reason is None:
            raise
    # stopped while provisioning: nothing was measured; a CPO that was created is deleted
    _console.say(f"  {interrupts.reason} before the run began: nothing measured")
    return _finish(_unstarted_report(args, params, interrupts.began), args, interrupts)


def _quiet_embedded_gateway() -> None:
    """Warnings to stderr; the embedded gateway's own (an eMSP check of the OCPI probe's
    placeholder address, say) concern a real gateway only, so they stay quiet."""
    logging.basicConfig(
        level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr
    )
    logging.getLogger("ocpplab_sim.gateway").setLevel(logging.ERROR)


def _check_outputs(args: argparse.Namespace) -> None:
    """The report files can be written: checked before anything is provisioned or run."""
    seen: dict[Path, str] = {}
    if _is_stdout(args.html):
        raise InputError("--html -: the HTML report goes to a file; --report - writes JSON")
    for flag, path in (("--report", args.report), ("--html", args.html)):
        if path is None or _is_stdout(path):
            continue
        if path.is_dir():
            raise InputError(f"{flag} {path}: is a folder; give a file name")
        if not path.parent.is_dir():
            raise InputError(f"{flag} {path}: the folder {path.parent} does not exist")
        if not os.access(path.parent, os.W_OK):
            raise InputError(f"{flag} {path}: the folder {path.parent} is not writable")
        where = path.resolve()
        if where in seen:
            raise InputError(f"{flag} {path}: the same file as {seen[where]}")
        seen[where] = flag


def _gateway_from_env(args: argparse.Namespace) -> None:
    """``--gateway-url`` / ``--token``, else ``OCPPLAB_GATEWAY_URL`` / ``OCPPLAB_TOKEN`` (as
    ``run`` reads them), else the embedded gateway with the token ``load-token``."""
    source = "--gateway-url"
    if args.gateway_url is None and os.environ.get("OCPPLAB_GATEWAY_URL", "").strip():
        args.gateway_url, source = os.environ["OCPPLAB_GATEWAY_URL"].strip(), "OCPPLAB_GATEWAY_URL"
    if args.gateway_url is not None:
        try:
            parse_url(args.gateway_url, ("http", "https"), what=source)
        except ValueError as exc:
            raise InputError(str(exc)) from exc
    if args.token is None:
        args.token = os.environ.get("OCPPLAB_TOKEN") or "load-token"


async def _run_template(
    args: argparse.Namespace, params: dict[str, Any], interrupts: Interrupts
) -> int:
    """Provision, run, delete the CPO. An interrupt while provisioning cancels this task (the
    CPO is deleted on the way out); during the run the workers stop themselves."""
    main = asyncio.current_task()
    assert main is not None
    loop = asyncio.get_running_loop()
    phase = "provisioning"

    def cancel_provisioning() -> None:
        if phase == "provisioning":
            main.cancel()

    def stopped() -> None:  # from a signal handler or the run's thread
        loop.call_soon_threadsafe(cancel_provisioning)

    interrupts.on_stop = stopped
    if interrupts.flag.value:  # before this loop ran
        cancel_provisioning()
    try:
        _console.say(f"▶ provisioning template {args.template} {params or ''}".rstrip())
        async with provisioned(
            args.template,
            params,
            gateway_url=args.gateway_url,
            token=args.token,
            security_profile=args.security_profile,
        ) as network:
            _console.say(
                f"  CPO {network.cpo_id} ready: {len(network.chargers)} chargers at "
                f"{network.csms_url}"
            )
            args.csms_url = network.csms_url
            args.csms_url_from = "the gateway's central system URL"
            used = network.chargers[: args.chargers] if args.chargers else network.chargers
            probe = await _ocpi_probe(network, used, args.ocpi_sample)
            phase = "running"
            report = await _run_with_probe(args, network.chargers, probe, interrupts)
            phase = "teardown"
            failure = _record(report, args, interrupts)
        _console.say(f"  CPO {network.cpo_id} deleted")
    finally:
        interrupts.on_stop = None
    return _conclude(report, args, failure)


async def _run_with_probe(
    args: argparse.Namespace,
    chargers: tuple[ChargerSpec, ...],
    probe: OcpiProbe | None,
    interrupts: Interrupts,
) -> dict[str, Any]:
    """The run in a thread (the embedded gateway keeps serving on this loop meanwhile), the
    OCPI probe polling beside it; the report with the probe's measurements added."""
    if probe is None:
        result = await asyncio.to_thread(_execute, args, chargers, stop=interrupts.flag)
        return result.report
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    polling = asyncio.create_task(probe.run(stop))

    def observe(snapshot: dict[str, Any]) -> None:
        if snapshot.get("statuses"):
            loop.call_soon_threadsafe(probe.feed, snapshot["statuses"])

    try:
        result = await asyncio.to_thread(
            _execute, args, chargers, watch=probe.watched, observe=observe, stop=interrupts.flag
        )
        stop.set()
        deadline = loop.time() + 30  # the last statuses' propagation, unless interrupted
        while not polling.done() and loop.time() < deadline and not interrupts.flag.value:
            await asyncio.wait({polling}, timeout=0.1)
    finally:
        polling.cancel()
        with contextlib.suppress(BaseException):
            await polling
        await probe.close()
    totals = LoadMetrics.from_dict(result.report["metrics"])
    totals.merge(probe.metrics)
    result.report["metrics"] = totals.to_dict()
    result.report["ocpi_misses"] = probe.misses
    for miss in probe.misses:
        _console.say(f"  OCPI: {miss}")
    return result.report


async def _ocpi_probe(
    network: ProvisionedNetwork, chargers: tuple[ChargerSpec, ...], sample: int
) -> OcpiProbe | None:
    """The OCPI handshake and a probe over ``sample`` of the chargers' EVSEs (None: off)."""
    if sample <= 0 or not chargers or network.topology is None:
        return None
    if network.ocpi_versions_url is None or network.token_a is None or network.party is None:
        _console.say("  (no OCPI credentials from the gateway: OCPI propagation not measured)")
        return None
    step = max(1, len(chargers) // sample)
    picked = {spec.identity for spec in chargers[::step][:sample]}
    evses = {
        (e.charger_identity, e.ocpp_number): EvseRef(e.location_id, e.evse_uid)
        for e in network.topology.evses
        if e.charger_identity in picked
    }
    ocpi = OcpiClient(network.ocpi_versions_url, network.token_a, party=network.party)
    try:
        await ocpi.handshake()
    except BaseException:
        await ocpi.aclose()
        raise
    _console.say(f"  OCPI {ocpi.version}: probing {len(evses)} EVSEs of {len(picked)} chargers")
    return OcpiProbe(ocpi, evses)


def _execute(
    args: argparse.Namespace,
    chargers: tuple[ChargerSpec, ...] = (),
    *,
    watch: frozenset[str] = frozenset(),
    observe: Callable[[dict[str, Any]], None] | None = None,
    stop: StopFlag | None = None,
) -> LoadRunResult:
    plan, shard = _plan(args, chargers)
    plan = replace(plan, watch=watch)
    _console.say(
        f"▶ load: {args.chargers} chargers ({args.ocpp_version}), shape {args.shape}, "
        f"{args.duration:g}s, shard {shard.index}/{shard.count}, workers {args.workers}"
    )
    exporter: PrometheusExporter | None = None
    if args.prometheus is not None or args.pushgateway:
        plan = replace(plan, live_metrics=True)
        host, port = args.prometheus or ("127.0.0.1", 0)
        exporter = PrometheusExporter(port, host, shard=shard.index)
        observe = exporter.observe if observe is None else _both(exporter.observe, observe)
    if exporter is not None and args.prometheus is not None:
        try:
            exporter.start()
        except OSError as exc:
            raise InputError(f"--prometheus {':'.join(map(str, args.prometheus))}: {exc}") from exc
        _console.say(f"  Prometheus metrics on {exporter.url()}")

    def progress(point: dict[str, Any]) -> None:
        if not args.quiet:
            _progress(point)

    try:
        result = run_load(
            plan,
            shard=shard,
            workers=args.workers,
            progress=progress,
            settings={"argv": sys.argv[1:]},
            observe=observe,
            stop=stop,
        )
    finally:
        if exporter is not None:
            exporter.close()
    if exporter is not None and args.pushgateway:
        instance = f"shard-{shard.index}"
        try:
            exporter.push(args.pushgateway, args.pushgateway_job, instance)
            _console.say(f"  metrics pushed to {args.pushgateway} (instance {instance})")
        except OSError as exc:  # the run's verdict stands; the missing push is said
            print(f"warning: --pushgateway {args.pushgateway}: {exc}", file=sys.stderr)
    return result


def _both(
    first: Callable[[dict[str, Any]], None], second: Callable[[dict[str, Any]], None]
) -> Callable[[dict[str, Any]], None]:
    def both(snapshot: dict[str, Any]) -> None:
        first(snapshot)
        second(snapshot)

    return both


def _unstarted_report(
    args: argparse.Namespace, params: dict[str, Any], began: float
) -> dict[str, Any]:
    """The report of a run stopped before it began (while provisioning): nothing measured."""
    return {
        "kind": LOAD_REPORT_KIND,
        "version": LOAD_REPORT_VERSION,
        "started_at": began,
        "duration_s": time.time() - began,
        "shard": {"index": 0, "count": 1},
        "workers": 0,
        "plan": {"template": args.template, "template_params": params, "total": 0},
        "settings": {"argv": sys.argv[1:]},
        "metrics": LoadMetrics().to_dict(),
        "timeline": [],
    }


def _finish(report: dict[str, Any], args: argparse.Namespace, interrupts: Interrupts) -> int:
    return _conclude(report, args, _record(report, args, interrupts))


def _record(
    report: dict[str, Any], args: argparse.Namespace, interrupts: Interrupts
) -> OSError | None:
    """Mark an interrupted run, add the verdict, write the report files (the error, if any)."""
    if interrupts.reason is not None:
        started = float(report.get("started_at") or time.time())
        report["interrupted"] = {
            "reason": interrupts.reason,
            "exit_code": interrupts.exit_code,
            "after_s": round(max(0.0, (interrupts.at or started) - started), 3),
        }
        counters = report["metrics"]["counters"]
        counters["interrupted"] = 1  # counters add up in `report merge`: shards interrupted
        report["metrics"]["counters"] = dict(sorted(counters.items()))
    thresholds: list[Threshold] = getattr(args, "threshold", None) or []
    if thresholds:
        report["thresholds"] = evaluate(thresholds, report)
    outcome = verdict(report)
    report["verdict"] = {"passed": outcome.passed, "reasons": list(outcome.reasons)}
    try:
        _write(report, args.report, args.html)
    except OSError as exc:
        return exc
    return None


def _conclude(report: dict[str, Any], args: argparse.Namespace, failure: OSError | None) -> int:
    """The summary; then an error for a report file that could not be written."""
    code = _summary(report, no_color=getattr(args, "no_color", False))
    if failure is not None:
        where = failure.filename or args.report or args.html
        raise InputError(f"{where}: cannot write the report: {failure.strerror or failure}")
    return code


def run_report_command(args: argparse.Namespace) -> int:
    """Run ``report merge``: exit 2 (InputError) for anything but the shard reports of one run
    (or part of them, with ``--allow-partial``) and writable outputs; else like ``load``."""
    _console.to_stderr = False
    if args.output is None:
        args.output = Path("-")
    _check_merge_outputs(args.reports, {"--output": args.output, "--html": args.html})
    if _is_stdout(args.output):
        _console.to_stderr = True  # standard output carries the merged report, nothing else
    reports = [read_report(path) for path in args.reports]
    result = merge_load_reports(
        reports, sources=[str(path) for path in args.reports], allow_partial=args.allow_partial
    )
    for warning in result.warnings:
        print(f"ocpplab-sim: warning: {warning}", file=sys.stderr, flush=True)
    merged = result.report
    if args.threshold:
        merged["thresholds"] = evaluate(args.threshold, merged)
    try:
        _write(merged, args.output, args.html)
    except OSError as exc:
        where = exc.filename or args.output or args.html
        raise InputError(f"{where}: cannot write the merged report: {exc.strerror or exc}") from exc
    return _summary(merged)


def _check_merge_outputs(reports: list[Path], outputs: dict[str, Path | None]) -> None:
    """Refuse, before reading anything, outputs that cannot be written or would overwrite an
    input or each other."""
    inputs = {path.resolve(): path for path in reports}
    seen: dict[Path, str] = {}
    if _is_stdout(outputs.get("--html")):
        raise InputError("--html -: the HTML report goes to a file; --output - writes JSON")
    for flag, path in outputs.items():
        if path is None or _is_stdout(path):
            continue
        where = path.resolve()
        if not path.parent.exists():
            raise InputError(f"{flag} {path}: the folder {path.parent} does not exist")
        if not path.parent.is_dir():
            raise InputError(f"{flag} {path}: {path.parent} is not a folder")
        if path.is_dir():
            raise InputError(f"{flag} {path}: is a folder; give a file name")
        if where in inputs:
            raise InputError(f"{flag} {path}: would overwrite the report {inputs[where]}")
        if where in seen:
            raise InputError(f"{flag} {path}: the same file as {seen[where]}")
        seen[where] = flag


def _is_stdout(path: Path | None) -> bool:
    """``-`` as a report path: standard output."""
    return path is not None and str(path) == "-"


def _write(report: dict[str, Any], json_path: Path | None, html_path: Path | None) -> None:
    if _is_stdout(json_path):
        _console.document(json.dumps(report, indent=1))
    elif json_path is not None:
        json_path.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    if html_path is not None:
        html_path.write_text(to_html(report), encoding="utf-8")


def _summary(report: dict[str, Any], *, no_color: bool = False) -> int:
    """Print the summary of a load report (a merged one too); 0 when it passed, else 1. The
    marks are coloured as ``terminal.use_color`` decides (``--no-color``, ``NO_COLOR``,
    ``FORCE_COLOR``, a terminal)."""
    color = use_color(_console.stream, no_color=no_color)
    for line in summary_lines(report):
        mark = line.lstrip()[:1]
        _console.say(colored(line, mark, color) if mark in "✓✗" else line)
    return 0 if verdict(report).passed else 1
