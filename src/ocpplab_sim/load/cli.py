"""``ocpplab-sim load`` and ``ocpplab-sim report merge``: argument parsing and wiring only."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from ocpplab_sim.errors import InputError
from ocpplab_sim.fleet import TRANSPORTS
from ocpplab_sim.load.html import to_html
from ocpplab_sim.load.merge import merge_load_reports
from ocpplab_sim.load.metrics import LoadMetrics
from ocpplab_sim.load.ocpi_probe import EvseRef, OcpiProbe
from ocpplab_sim.load.prometheus import PrometheusExporter
from ocpplab_sim.load.runner import LoadRunResult, run_load
from ocpplab_sim.load.shapes import SHAPES, parse_shape
from ocpplab_sim.load.shard import Shard, shard_from_env
from ocpplab_sim.load.template import ProvisionedNetwork, parse_template_params, provisioned
from ocpplab_sim.load.worker import ChargerSpec, WorkerPlan
from ocpplab_sim.ocpi_client import OcpiClient

__all__ = ["add_load_parser", "add_report_parser", "run_load_command", "run_report_command"]


def _duration(text: str) -> float:
    units = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
    for suffix in ("ms", "s", "m", "h"):
        if text.endswith(suffix):
            try:
                return float(text[: -len(suffix)]) * units[suffix]
            except ValueError:
                break
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a duration: {text!r} (e.g. 30s, 2m)") from None


def add_load_parser(commands: Any) -> None:
    """Add ``load`` to a subparsers object."""
    load = commands.add_parser(
        "load",
        help="load-test a central system with many simulated chargers",
        description="Connect a fleet of simulated chargers to a central system along a load "
        "shape; report latencies (HDR histograms) and errors. Loopback or your own hosts only.",
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
    load.add_argument("--gateway-url", help="gateway for --template (default: embedded)")
    load.add_argument(
        "--ocpi-sample",
        type=int,
        default=20,
        metavar="N",
        help="with --template: measure OCPI propagation latency on the EVSEs of N chargers "
        "spread over the fleet (0: off)",
    )
    load.add_argument("--token", default="load-token", help="gateway token for --template")
    load.add_argument("--security-profile", type=int, choices=(0, 1))
    load.add_argument(
        "--chargers", type=int, help="fleet size (all shards together; default 100, or all)"
    )
    load.add_argument("--shape", choices=SHAPES, help="default ramp")
    load.add_argument("--duration", type=_duration, help="e.g. 60s, 5m (default 60s)")
    load.add_argument("--ramp", type=_duration, help="ramp time of the ramp shape")
    load.add_argument("--connect-rate", type=float, help="new connections per second (cap)")
    load.add_argument("--session-rate", type=float, help="sessions started per second (default 0)")
    load.add_argument("--session-length", type=_duration, help="default 30s")
    load.add_argument(
        "--fault-rate", type=float, help="faults injected on idle chargers per second (default 0)"
    )
    load.add_argument("--fault-length", type=_duration, help="how long a fault lasts (10s)")
    load.add_argument("--fault-code", help="1.6 ChargePointErrorCode of a fault (OtherError)")
    load.add_argument("--ocpp-version", choices=("1.6", "2.0.1", "mixed"), default="1.6")
    load.add_argument("--connectors", type=int, default=1)
    load.add_argument("--id-prefix", default="LOAD-")
    load.add_argument("--meter-interval", type=_duration, help="default 60s")
    load.add_argument(
        "--workers", default="auto", help="worker processes: auto (one per core) or N"
    )
    load.add_argument(
        "--shard",
        help="I/N: run slice I (0-based) of N; default from "
        "JOB_COMPLETION_INDEX + OCPPLAB_SHARD_COUNT, else the whole fleet",
    )
    load.add_argument("--seed", type=int, default=0)
    load.add_argument("--report", type=Path, metavar="PATH", help="write the JSON report")
    load.add_argument("--html", type=Path, metavar="PATH", help="write the HTML report")
    load.add_argument("--quiet", action="store_true", help="no live progress")
    load.add_argument(
        "--prometheus",
        type=int,
        metavar="PORT",
        help="serve live metrics for Prometheus on http://127.0.0.1:PORT/metrics (0: any port)",
    )
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
        type=int,
        default=0,
        metavar="N",
        help="bind chargers to 127.0.0.2 … round-robin over N loopback addresses "
        "(past the ephemeral ports of one address; loopback central systems only)",
    )


def add_report_parser(commands: Any) -> None:
    """Add ``report merge`` to a subparsers object."""
    report = commands.add_parser("report", help="work with load reports")
    actions = report.add_subparsers(dest="report_command", required=True)
    merge = actions.add_parser("merge", help="merge shard reports exactly (histograms added)")
    merge.add_argument("reports", type=Path, nargs="+", metavar="REPORT")
    merge.add_argument("--output", "-o", type=Path, help="write the merged JSON here")
    merge.add_argument("--html", type=Path, help="write the merged HTML report here")


def _plan(
    args: argparse.Namespace, chargers: tuple[ChargerSpec, ...] = ()
) -> tuple[WorkerPlan, Shard]:
    if chargers:
        args.chargers = min(args.chargers or len(chargers), len(chargers))
        chargers = chargers[: args.chargers]
    elif args.chargers is None:
        args.chargers = 100
    if args.csms_url is None or not args.csms_url.startswith(("ws://", "wss://")):
        raise InputError(f"--csms-url must start with ws:// or wss://, got {args.csms_url!r}")
    if args.source_addresses < 0 or (args.prometheus is not None and args.prometheus < 0):
        raise InputError("--source-addresses and --prometheus must be ≥ 0")
    if args.connectors < 1 or (args.workers != "auto" and not str(args.workers).isdigit()):
        raise InputError("--connectors must be ≥ 1 and --workers 'auto' or a whole number")
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
    return plan, shard


def _progress(point: dict[str, Any]) -> None:
    faulted = f"  faulted {point['faulted']:>4}" if point.get("faulted") else ""
    print(
        f"  t={point['t']:>4}s  connected {point['connected']:>6}  booted {point['booted']:>6}"
        f"  charging {point['charging']:>5}{faulted}  sessions {point['sessions']:>6}"
        f"  errors {point['errors']:>4}  {point['messages']:>7} msg/s"
        f"  p50 {point['p50_s'] * 1000:7.1f} ms  p99 {point['p99_s'] * 1000:7.1f} ms",
        flush=True,
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
    from ocpplab_sim.scenario.loader import load_scenario

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
    return tuple(
        ChargerSpec(
            identity=charger.identity,
            ocpp_version=charger.ocpp_version,
            evse_count=charger.evses if isinstance(charger.evses, int) else len(charger.evses),
        )
        for charger in scenario.topology.chargers
    )


def run_load_command(args: argparse.Namespace) -> int:
    """Run ``load``; exit 0 when every call was answered and no error was counted, else 1."""
    inline: tuple[ChargerSpec, ...] = ()
    if args.scenario is not None:
        inline = _from_scenario(args)
    for name, value in _DEFAULTS.items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    if inline:
        return _run(args, inline)
    if args.template is None:
        if args.csms_url is None:
            raise InputError("give --csms-url URL or --template NAME")
        return _run(args)
    if args.csms_url is not None:
        raise InputError("--csms-url and --template exclude each other")
    params = parse_template_params(args.template_param)
    return asyncio.run(_run_template(args, params))


async def _run_template(args: argparse.Namespace, params: dict[str, Any]) -> int:
    print(f"▶ provisioning template {args.template} {params or ''}".rstrip(), flush=True)
    async with provisioned(
        args.template,
        params,
        gateway_url=args.gateway_url,
        token=args.token,
        security_profile=args.security_profile,
    ) as network:
        print(
            f"  CPO {network.cpo_id} ready: {len(network.chargers)} chargers at {network.csms_url}",
            flush=True,
        )
        args.csms_url = network.csms_url
        used = network.chargers[: args.chargers] if args.chargers else network.chargers
        probe = await _ocpi_probe(network, used, args.ocpi_sample)
        if probe is None:
            # the run blocks; the embedded gateway keeps serving on this loop meanwhile
            return await asyncio.to_thread(_run, args, network.chargers)
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        polling = asyncio.create_task(probe.run(stop))

        def observe(snapshot: dict[str, Any]) -> None:
            if snapshot.get("statuses"):
                loop.call_soon_threadsafe(probe.feed, snapshot["statuses"])

        try:
            result = await asyncio.to_thread(
                _execute, args, network.chargers, watch=probe.watched, observe=observe
            )
            stop.set()
            await asyncio.wait_for(polling, 30)
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
            print(f"  OCPI: {miss}")
        _write(result.report, args.report, args.html)
        return _summary(result.report)


async def _ocpi_probe(
    network: ProvisionedNetwork, chargers: tuple[ChargerSpec, ...], sample: int
) -> OcpiProbe | None:
    """The OCPI handshake and a probe over ``sample`` of the chargers' EVSEs (None: off)."""
    if sample <= 0 or not chargers or network.topology is None:
        return None
    if network.ocpi_versions_url is None or network.token_a is None or network.party is None:
        print("  (no OCPI credentials from the gateway: OCPI propagation not measured)")
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
    print(f"  OCPI {ocpi.version}: probing {len(evses)} EVSEs of {len(picked)} chargers")
    return OcpiProbe(ocpi, evses)


def _run(args: argparse.Namespace, chargers: tuple[ChargerSpec, ...] = ()) -> int:
    result = _execute(args, chargers)
    _write(result.report, args.report, args.html)
    return _summary(result.report)


def _execute(
    args: argparse.Namespace,
    chargers: tuple[ChargerSpec, ...] = (),
    *,
    watch: frozenset[str] = frozenset(),
    observe: Callable[[dict[str, Any]], None] | None = None,
) -> LoadRunResult:
    plan, shard = _plan(args, chargers)
    plan = replace(plan, watch=watch)
    for path in (args.report, args.html):
        if path is not None and not path.parent.exists():
            raise InputError(f"{path}: the folder {path.parent} does not exist")
    print(
        f"▶ load: {args.chargers} chargers ({args.ocpp_version}), shape {args.shape}, "
        f"{args.duration:g}s, shard {shard.index}/{shard.count}, workers {args.workers}",
        flush=True,
    )
    exporter: PrometheusExporter | None = None
    if args.prometheus is not None:
        exporter = PrometheusExporter(args.prometheus)
        try:
            port = exporter.start()
        except OSError as exc:
            raise InputError(str(exc)) from exc
        print(f"  Prometheus metrics on http://127.0.0.1:{port}/metrics", flush=True)

    def progress(point: dict[str, Any]) -> None:
        if exporter is not None:
            exporter.update(point)
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
        )
    finally:
        if exporter is not None:
            exporter.close()
    return result


def run_report_command(args: argparse.Namespace) -> int:
    reports = []
    for path in args.reports:
        try:
            reports.append(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError) as exc:
            raise InputError(f"{path}: cannot read a JSON report: {exc}") from exc
    try:
        merged = merge_load_reports(reports)
    except ValueError as exc:
        raise InputError(str(exc)) from exc
    _write(merged, args.output, args.html)
    if args.output is None:
        print(json.dumps(merged["metrics"]["counters"], indent=2))
    return _summary(merged)


def _write(report: dict[str, Any], json_path: Path | None, html_path: Path | None) -> None:
    if json_path is not None:
        json_path.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    if html_path is not None:
        html_path.write_text(to_html(report), encoding="utf-8")


def _summary(report: dict[str, Any]) -> int:
    metrics = report["metrics"]
    counters: dict[str, int] = metrics["counters"]
    errors = {k: v for k, v in counters.items() if k.startswith("errors.")}
    if counters.get("reconnects"):
        errors["connections dropped by the central system (reconnects)"] = counters["reconnects"]
    unanswered = counters.get("unanswered", 0)
    calls = sum(v["count"] for k, v in metrics["latency_s"].items() if k != "connect+boot")
    print(f"  calls answered: {calls}, unanswered: {unanswered}")
    names = ("connect+boot", "Heartbeat", "BootNotification", "StatusNotification")
    for name in (*names, "ocpi_propagation"):
        if name in metrics["latency_s"]:
            lat = metrics["latency_s"][name]
            print(
                f"  {name:<20} n={lat['count']:<7} p50 {lat['p50'] * 1000:.1f} ms  "
                f"p99 {lat['p99'] * 1000:.1f} ms  max {lat['max'] * 1000:.1f} ms"
            )
    for name, value in sorted(errors.items()):
        print(f"  {name}: {value}")
    ok = not errors and unanswered == 0
    print(("✓ PASSED" if ok else "✗ ERRORS") + f" ({len(errors)} error kind(s))")
    return 0 if ok else 1
