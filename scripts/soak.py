#!/usr/bin/env python3
"""Soak the scenario pack: run every scenario N times through the real CLI and tabulate.

    python scripts/soak.py [SCENARIO ...] [--runs 30] [--jobs 2] [--timeout 120] [--out DIR]

Without SCENARIO, every ``scenarios/*.yaml``. Each run is ``python -m ocpplab_sim run FILE --json …
--no-color`` in its own subprocess and process group, with its own embedded gateway on a free port.
A scenario that must fail carries the line ``# soak: expect-fail``: its run ends as expected when
it exits 1 with the scenario's usual failing checks (the set most of its failed runs share).
Runs not as expected are listed with their failing checks (else failed steps, else the verdict)
and the folder keeping their stdout, stderr and JSON report; the others' folders are removed.
Exit 0 when every run ended as expected, 1 otherwise, 2 on bad arguments; Ctrl-C (or SIGTERM)
stops every run (SIGTERM, so each tears down), prints the partial table and exits 130.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

ROOT = Path(__file__).resolve().parents[1]
EXPECT_FAIL = re.compile(r"^#\s*soak:\s*expect-fail\b", re.MULTILINE)
GRACE_S = 15.0  # after SIGTERM, time a run gets to tear down before SIGKILL


class Scenario(NamedTuple):
    name: str
    path: Path
    expect_fail: bool


@dataclass(frozen=True)
class Run:
    scenario: Scenario
    index: int
    folder: Path
    exit_code: int | None  # None: timed out
    failing: frozenset[str]  # names of failed (or errored) checks in the JSON report
    verdict: str
    seconds: float


def parse_args(argv: list[str] | None) -> tuple[argparse.Namespace, list[Scenario]]:
    parser = argparse.ArgumentParser(prog="soak.py", description=__doc__.splitlines()[0])
    parser.add_argument("scenarios", nargs="*", type=Path, metavar="SCENARIO")
    parser.add_argument("--runs", type=int, default=30, help="runs per scenario (default 30)")
    parser.add_argument("--jobs", type=int, default=2, help="runs at once (default 2)")
    parser.add_argument("--timeout", type=float, default=120, help="seconds per run (120)")
    parser.add_argument(
        "--out", type=Path, help="where the run outputs folder is made (default: temp)"
    )
    args = parser.parse_args(argv)
    for flag in ("runs", "jobs", "timeout"):
        if getattr(args, flag) <= 0:
            parser.error(f"--{flag} must be positive, not {getattr(args, flag)}")
    paths = args.scenarios or sorted((ROOT / "scenarios").glob("*.yaml"))
    if not paths:
        parser.error(f"no scenario given and none in {ROOT / 'scenarios'}")
    for path in paths:
        if not path.is_file():
            parser.error(f"{path}: no such scenario file")
    if len({p.name for p in paths}) != len(paths):
        parser.error("two scenarios share a file name (run outputs are named after it)")
    checked = subprocess.run(
        [sys.executable, "-m", "ocpplab_sim", "validate", *map(str, paths)],
        capture_output=True,
        text=True,
        check=False,
    )
    if checked.returncode != 0:
        parser.error(f"ocpplab-sim validate exited {checked.returncode}:\n{checked.stderr.strip()}")
    marked = [bool(EXPECT_FAIL.search(p.read_text("utf-8"))) for p in paths]
    return args, [Scenario(p.name, p.resolve(), m) for p, m in zip(paths, marked, strict=True)]


def read_report(path: Path) -> tuple[frozenset[str], str]:
    """The failed (or errored) checks of a JSON report, and what else went wrong: the steps that
    failed or errored (a hung step is cancelled), or else the verdict."""
    try:
        report = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError):
        return frozenset(), "no JSON report"
    bad = ("failed", "error")
    checks = frozenset(c["name"] for c in report["checks"] if c["outcome"] in bad)
    steps = [
        f"step {s['index'] + 1}: {s['label']} ({s['message']})"
        for s in report["steps"]
        if s["outcome"] in bad
    ]
    return checks, "; ".join(steps) or str(report["verdict"] or "no verdict")


class Soak:
    def __init__(self, args: argparse.Namespace, out: Path) -> None:
        self.runs, self.timeout, self.out = args.runs, args.timeout, out
        self.slots = asyncio.Semaphore(args.jobs)
        self.live: set[asyncio.subprocess.Process] = set()
        self.done: list[Run] = []
        self.total = 0
        ours = ("OCPPLAB_GATEWAY_URL", "OCPPLAB_TOKEN")  # each run starts its embedded gateway
        self.env = {k: v for k, v in os.environ.items() if k not in ours} | {
            "PYTHONUNBUFFERED": "1"
        }

    async def run_once(self, scenario: Scenario, index: int) -> None:
        async with self.slots:
            folder = self.out / f"{scenario.path.stem}-{index:03d}"
            folder.mkdir(parents=True)
            report, started = folder / "report.json", time.monotonic()
            argv = ["run", str(scenario.path), "--json", str(report), "--no-color"]
            with (
                (folder / "stdout.txt").open("wb") as out,
                (folder / "stderr.txt").open("wb") as err,
            ):
                process = await asyncio.create_subprocess_exec(
                    *(sys.executable, "-m", "ocpplab_sim", *argv),
                    cwd=ROOT,
                    env=self.env,
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=err,
                    start_new_session=True,  # its own process group: Ctrl-C is ours to relay
                )
                self.live.add(process)
                try:
                    code: int | None = await asyncio.wait_for(process.wait(), self.timeout)
                except TimeoutError:
                    await self.stop(process)
                    code = None
                except asyncio.CancelledError:
                    await self.stop(process)
                    shutil.rmtree(folder, ignore_errors=True)  # an interrupted run is not shown
                    raise
                finally:
                    self.live.discard(process)
            failing, verdict = read_report(report)
            if code is None:
                verdict = f"timed out after {self.timeout:g}s: {verdict}"
            run = Run(scenario, index, folder, code, failing, verdict, time.monotonic() - started)
            self.done.append(run)
            shown = "timeout" if code is None else f"exit {code}"
            progress = f"[{len(self.done)}/{self.total}] {scenario.name} #{index}"
            print(f"{progress}: {shown} ({run.seconds:.1f}s)", file=sys.stderr, flush=True)

    async def stop(self, process: asyncio.subprocess.Process) -> int:
        """SIGTERM the run's process group (the CLI tears down), SIGKILL it after GRACE_S."""
        for signum in (signal.SIGTERM, signal.SIGKILL):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signum)
            with contextlib.suppress(TimeoutError):
                return await asyncio.wait_for(asyncio.shield(process.wait()), GRACE_S)
        return await process.wait()

    async def main(self, scenarios: list[Scenario]) -> bool:
        """Run everything, interleaved (run 1 of each scenario, then run 2, …); False when
        interrupted."""
        order = [(s, i) for i in range(1, self.runs + 1) for s in scenarios]
        self.total, interrupts = len(order), 0
        tasks = [asyncio.ensure_future(self.run_once(s, i)) for s, i in order]
        gathered = asyncio.gather(*tasks)

        def interrupted() -> None:
            nonlocal interrupts
            interrupts += 1
            if interrupts == 1:
                print("soak: interrupted; stopping every run (again to kill)", file=sys.stderr)
                gathered.cancel()
                return
            for process in list(self.live):  # a second interrupt: no time for teardowns
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)

        for signum in (signal.SIGINT, signal.SIGTERM):
            asyncio.get_running_loop().add_signal_handler(signum, interrupted)
        with contextlib.suppress(asyncio.CancelledError):
            await gathered
        await asyncio.gather(*tasks, return_exceptions=True)  # every stop() has finished
        return interrupts == 0


def judge(runs: list[Run]) -> tuple[frozenset[str] | None, list[Run], list[Run]]:
    """The expected failing set (expect-fail scenarios), runs as expected, the others."""
    if not runs or not runs[0].scenario.expect_fail:
        good = [r for r in runs if r.exit_code == 0]
        return None, good, [r for r in runs if r.exit_code != 0]
    sets = Counter(r.failing for r in runs if r.exit_code == 1 and r.failing)
    usual = sets.most_common(1)[0][0] if sets else None
    good = [r for r in runs if r.exit_code == 1 and usual is not None and r.failing == usual]
    return usual, good, [r for r in runs if r not in good]


def print_table(scenarios: list[Scenario], runs: list[Run], complete: bool) -> bool:
    rows = [("scenario", "runs", "as expected", "failed", "pass rate")]
    bad: list[Run] = []
    notes: list[str] = []
    for scenario in scenarios:
        mine = sorted((r for r in runs if r.scenario == scenario), key=lambda r: r.index)
        usual, good, others = judge(mine)
        bad += others
        rate = f"{100 * len(good) / len(mine):.0f}%" if mine else "-"
        label = scenario.name + (" (expect-fail)" if scenario.expect_fail else "")
        rows.append((label, str(len(mine)), str(len(good)), str(len(others)), rate))
        if scenario.expect_fail:
            checks = "; ".join(sorted(usual)) if usual else "none (no run failed a check)"
            notes.append(f"{scenario.name}: expected failing checks: {checks}")
        for run in good:
            shutil.rmtree(run.folder, ignore_errors=True)
    widths = [max(len(row[c]) for row in rows) for c in range(len(rows[0]))]
    print("\nsoak results" + ("" if complete else " (PARTIAL: interrupted)"))
    for row in rows:
        cells = [row[0].ljust(widths[0])] + [
            v.rjust(w) for v, w in zip(row[1:], widths[1:], strict=True)
        ]
        print("  ".join(cells))
    if notes:
        print(*notes, sep="\n")
    if bad:
        print("\nruns not as expected:")
    for run in sorted(bad, key=lambda r: (r.scenario.name, r.index)):
        code = "timeout" if run.exit_code is None else f"exit {run.exit_code}"
        why = "; ".join(sorted(run.failing)) or run.verdict
        print(f"  {run.scenario.name} #{run.index}: {code}: {why}\n    kept in {run.folder}")
    return complete and not bad and bool(runs)


def main(argv: list[str] | None = None) -> int:
    args, scenarios = parse_args(argv)
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
    out = Path(tempfile.mkdtemp(prefix="ocpplab-soak-", dir=args.out)).resolve()
    soak, started = Soak(args, out), time.monotonic()
    print(f"soak: {len(scenarios)} scenario(s) x {args.runs} run(s), {args.jobs} at once, "
          f"outputs in {out}", file=sys.stderr, flush=True)  # fmt: skip
    complete = asyncio.run(soak.main(scenarios))
    ok = print_table(scenarios, soak.done, complete)
    print(f"\n{len(soak.done)} run(s) in {time.monotonic() - started:.0f}s")
    with contextlib.suppress(OSError):
        out.rmdir()  # only when nothing was kept
    return 130 if not complete else 0 if ok else 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:  # before or after the runs: nothing is running
        sys.exit(130)
