"""Bad and hostile scenario files through the real command line: each is answered with exit code
2, a located ``file:line:column: field: reason`` naming the problem in a few lines, and no
traceback. Hostile files (alias bombs, deep nesting, huge inputs) are refused quickly and without
eating memory.

Every case runs ``python -m ocpplab_sim validate FILE`` in a subprocess; the few problems that can
only show once the network is known also run ``run FILE`` on the embedded gateway.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
GATEWAY = "gateway: {template: small-urban-ac, party: {country_code: FR, party_id: ABC}}\n"
HEAD = "name: t\n" + GATEWAY
INLINE = (
    "name: t\n"
    "topology:\n"
    "  chargers:\n"
    "    - {identity: A, ocpp_version: '1.6', evses: 2}\n"
    "    - {identity: B, ocpp_version: '2.0.1'}\n"
    "csms: {url: ws://127.0.0.1:9/ocpp}\n"
)
# What a hostile file may cost on top of starting the command, in CPU seconds of the child (the
# loader's own share is a few milliseconds; CPU time, not wall time: on a busy shared machine the
# wall clock of a child says more about its neighbours than about its work), and at most in memory.
EXTRA_SECONDS = 2.0
MAX_RSS_MB = 300


@dataclass
class Result:
    code: int
    stdout: str
    stderr: str
    seconds: float  # CPU seconds (user + system) of the child
    max_rss_mb: float | None


# The child reports its own peak RSS (VmHWM of its own memory map) at exit. wait4's ru_maxrss
# will not do: the kernel carries the peak of the forked copy of this test process across
# exec, so a big pytest worker would seem to be the child.
_CHILD = """\
import atexit, os, runpy, sys
def _peak():
    with open("/proc/self/status") as status:
        kb = next(int(line.split()[1]) for line in status if line.startswith("VmHWM"))
    with open(os.environ["PEAK_RSS_FILE"], "w") as out:
        out.write(str(kb))
atexit.register(_peak)
sys.argv = ["ocpplab-sim", *sys.argv[1:]]
runpy.run_module("ocpplab_sim", run_name="__main__", alter_sys=True)
"""


def ocpplab(*args: str | Path, timeout: float = 60) -> Result:
    """Run ``ocpplab-sim ARGS``; measure its wall time and peak memory (Linux)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OCPPLAB_")}
    linux = sys.platform.startswith("linux")
    with (
        tempfile.TemporaryFile() as out,
        tempfile.TemporaryFile() as err,
        tempfile.TemporaryDirectory() as peak_dir,
    ):
        peak_file = Path(peak_dir) / "peak"
        env["PEAK_RSS_FILE"] = str(peak_file)
        command = ["-c", _CHILD] if linux else ["-m", "ocpplab_sim"]
        process = subprocess.Popen(
            [sys.executable, *command, *(str(a) for a in args)],
            stdout=out,
            stderr=err,
            cwd=ROOT,
            env=env,
        )
        timer = threading.Timer(timeout, process.kill)
        timer.start()
        try:
            _, status, usage = os.wait4(process.pid, 0)
        finally:
            timer.cancel()
        seconds = usage.ru_utime + usage.ru_stime
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        rss = int(peak_file.read_text()) / 1024 if linux and peak_file.exists() else None
        return Result(
            process.returncode,
            out.read().decode("utf-8", "replace"),
            err.read().decode("utf-8", "replace"),
            seconds,
            rss,
        )


@pytest.fixture(scope="module")
def startup_seconds(tmp_path_factory: pytest.TempPathFactory) -> float:
    """The CPU time ``validate`` takes on a small valid file here: the cost of starting Python."""
    good = tmp_path_factory.mktemp("baseline") / "good.yaml"
    good.write_text(HEAD + "steps:\n  - connect: all\n", encoding="utf-8")
    result = ocpplab("validate", good)
    assert result.code == 0, result.stderr
    return result.seconds


# -- the cases ---------------------------------------------------------------------------------

Content = str | bytes | Callable[[], str | bytes]


@dataclass(frozen=True)
class Case:
    id: str
    content: Content
    needle: str  # a phrase of the reason
    where: str | None  # "line:column: field" expected after the file name (None: file level)
    hostile: bool = False


def _laughs(depth: int = 9, width: int = 10) -> str:
    lines = ["name: t", "vars:", "  a0: &a0 [" + ", ".join(["lol"] * width) + "]"]
    for level in range(1, depth):
        lines.append(f"  a{level}: &a{level} [" + ", ".join([f"*a{level - 1}"] * width) + "]")
    return "\n".join(lines) + "\n" + GATEWAY + "steps:\n  - connect: all\n"


def _nested_parallel_block(levels: int = 300) -> str:
    lines = [HEAD + "steps:"]
    for level in range(levels):
        lines.append("  " * (level + 1) + "- parallel:")
    lines.append("  " * (levels + 1) + "- wait: 1s")
    return "\n".join(lines) + "\n"


def _nested_parallel_flow(levels: int = 300) -> str:
    return HEAD + "steps:\n  - " + "parallel: [" * levels + "{wait: 1s}" + "]" * levels + "\n"


def _deep_alias() -> str:
    # Each anchor is 40 levels deep and holds the one before: 80, 120 … once expanded.
    def deep(inner: str) -> str:
        return "[" * 39 + inner + "]" * 39

    return (
        f"name: t\nvars:\n  a: &a {deep('1')}\n  b: &b {deep('*a')}\n  c: {deep('*b')}\n"
        + GATEWAY
        + "steps:\n  - wait: 1s\n"
    )


def _string_doubling() -> str:
    lines = ["name: t", "vars:", "  v0: " + "x" * 100]
    lines += [f'  v{i}: "${{v{i - 1}}}${{v{i - 1}}}"' for i in range(1, 30)]
    return "\n".join(lines) + "\n" + GATEWAY + "steps:\n  - wait: 1s\n"


def _variable_chain(length: int = 40) -> str:
    lines = ["name: t", "vars:"]
    lines += [f'  v{i}: "${{v{i + 1}}}"' for i in range(length)] + [f"  v{length}: 1s"]
    return "\n".join(lines) + "\n" + GATEWAY + "steps:\n  - wait: ${v0}\n"


CASES = [
    # 1. hostile YAML: limits on what the file controls
    Case("billion-laughs", _laughs, "more than 100,000 values once aliases are expanded",
         "7:47: vars.a4[7]", hostile=True),
    Case("alias-flood", lambda: HEAD + "steps:\n  - &w {wait: 1s}\n" + "  - *w\n" * 60_000,
         "the alias *w makes the document hold more than 100,000 values",
         "33332:5: steps[33328]", hostile=True),
    Case("too-many-values", lambda: HEAD + "x: [" + "0," * 120_000 + "0]\nsteps: [{wait: 1s}]\n",
         "the document holds more than 100,000 values", "3:199975: x[99985]", hostile=True),
    Case("recursive-alias", HEAD + "x: &a [1, *a]\nsteps: [{wait: 1s}]\n",
         "the alias *a is inside the anchor &a", "3:11: x[1]", hostile=True),
    Case("300-nested-parallel-blocks", _nested_parallel_block, "nested deeper than 64 levels",
         "35:67: steps[0].parallel[0].parallel[0].parallel[0]…", hostile=True),
    Case("300-nested-parallel-flow", _nested_parallel_flow, "nested deeper than 64 levels",
         "4:346: steps[0].parallel[0].parallel[0].parallel[0]…", hostile=True),
    Case("5000-brackets", "name: t\nx: " + "[" * 5000 + "]" * 5000 + "\n",
         "nested deeper than 64 levels of [ and { brackets", None, hostile=True),
    Case("a-million-brackets", lambda: "name: t\nx: " + "[" * 1_000_000 + "\n",
         "nested deeper than 64 levels of [ and { brackets", None, hostile=True),
    Case("alias-nests-too-deep", _deep_alias, "nest deeper than 64 levels once expanded",
         "4:48: vars.b[0][0][0][0][0][0]…", hostile=True),
    Case("file-over-1-MiB", lambda: HEAD + "steps:\n" + "  - wait: 1s\n" * 90_000,
         "larger than 1,048,576 bytes (1 MiB)", None, hostile=True),
    Case("string-doubling-vars", _string_doubling, "more than 1,000,000 characters",
         "16:8: vars.v13", hostile=True),
    Case("variable-chain-too-deep", _variable_chain, "variables refer to variables more than 32",
         "34:8: vars.v31", hostile=True),
    Case("control-character", HEAD + 'description: "a\x01b"\nsteps: [{wait: 1s}]\n',
         "the character U+0001", "3:16", hostile=True),
    Case("not-utf8", HEAD.encode() + b"description: caf\xe9\nsteps: [{wait: 1s}]\n",
         "not UTF-8 text (byte 0xe9", "3:17", hostile=True),
    Case("5000-digit-number", HEAD + "description: " + "7" * 5000 + "\nsteps: [{wait: 1s}]\n",
         "Exceeds the limit (4300 digits)", "3:14: description", hostile=True),
    Case("impossible-date", HEAD + "description: 2001-02-30\nsteps: [{wait: 1s}]\n",
         "day is out of range for month", "3:14: description"),
    Case("bad-bool-tag", HEAD + "description: !!bool maybe\nsteps: [{wait: 1s}]\n",
         "not a valid bool", "3:14: description"),
    Case("bad-int-tag", HEAD + "steps: [{wait: !!int soon}]\n",
         "invalid literal for int()", "3:16: steps[0].wait"),
    # 2. values that must be more than 0
    Case("meter-interval-0s", HEAD + "settings: {meter_interval: 0s}\nsteps: [{connect: all}]\n",
         "must be longer than 0, got '0s'", "3:28: settings.meter_interval"),
    Case("poll-interval-0", HEAD + "settings: {poll_interval: 0}\nsteps: [{connect: all}]\n",
         "must be longer than 0", "3:27: settings.poll_interval"),
    Case("step-timeout-setting-0ms", HEAD + "settings: {step_timeout: 0ms}\nsteps: [{wait: 1s}]\n",
         "must be longer than 0", "3:26: settings.step_timeout"),
    Case("step-timeout-0s", HEAD + "steps:\n  - wait: 1s\n    timeout: 0s\n",
         "must be longer than 0", "5:14: steps[0].timeout"),
    Case("ready-timeout-0", "name: t\ngateway: {template: t, party: {country_code: FR, "
         "party_id: ABC}, ready_timeout: 0}\nsteps: [{wait: 1s}]\n",
         "must be longer than 0", "2:81: gateway.ready_timeout"),
    Case("load-duration-0s", HEAD + "load: {duration: 0s}\nsteps: [{wait: 1s}]\n",
         "must be longer than 0", "3:18: load.duration"),
    Case("answer-within-0s", HEAD + "steps:\n  - remote_start: {evse: 0, answer_within: 0s}\n",
         "must be longer than 0", "4:44: steps[0].remote_start.answer_within"),
    Case("wait-nan", HEAD + "steps: [{wait: .nan}]\n", "a duration must be a number",
         "3:16: steps[0].wait"),
    Case("wait-infinite", HEAD + "steps: [{wait: .inf}]\n", "at most 365 days",
         "3:16: steps[0].wait"),
    Case("wait-huge-number", HEAD + "steps: [{wait: " + "9" * 400 + "}]\n", "at most 365 days",
         "3:16: steps[0].wait"),
    Case("within-a-year-and-more", HEAD + "settings: {within: 9000h}\nsteps: [{wait: 1s}]\n",
         "at most 365 days", "3:20: settings.within"),
    # 5. the duration grammar
    Case("unit-days", HEAD + "steps: [{wait: 1d}]\n", "unknown unit 'd' in the duration",
         "3:16: steps[0].wait"),
    Case("compound-duration", HEAD + "steps: [{wait: 1h30m}]\n",
         "one number and one unit (90m, not 1h30m)", "3:16: steps[0].wait"),
    Case("negative-duration", HEAD + "steps: [{wait: -5s}]\n", "cannot be negative",
         "3:16: steps[0].wait"),
    Case("not-a-duration", HEAD + "steps: [{wait: soon}]\n", "expected a duration such as 500ms",
         "3:16: steps[0].wait"),
    # 3. connect, disconnect and network_loss in an order that cannot run
    Case("connect-after-disconnect", HEAD + "steps:\n  - connect: all\n  - disconnect: all\n"
         "  - connect: all\n", "closed by the disconnect at line 5: disconnect is final",
         "6:5: steps[2].connect"),
    Case("connect-charger-after-disconnect-all", HEAD + "steps:\n  - connect: all\n"
         "  - disconnect: all\n  - connect: {chargers: {charger: CP-9}}\n",
         "charger CP-9 was closed by the disconnect at line 5", "6:5: steps[2].connect"),
    Case("plug-in-after-disconnect", HEAD + "setup: [{connect: all}]\nsteps:\n  - disconnect: all"
         "\n  - plug_in: 0\n", "a closed charger cannot run plug_in", "6:5: steps[1].plug_in"),
    Case("connect-while-offline", HEAD + "steps:\n  - connect: all\n  - network_loss: all\n"
         "  - connect: all\n", "use reconnect to bring it back", "6:5: steps[2].connect"),
    Case("repeat-connect-disconnect", HEAD + "steps:\n  - repeat:\n      times: 2\n      steps:\n"
         "        - connect: all\n        - disconnect: all\n",
         "closed by the disconnect at line 8", "7:11: steps[0].repeat.steps[0].connect"),
    Case("inline-connect-after-disconnect", INLINE + "steps:\n  - connect: all\n"
         "  - disconnect: 2\n  - connect: {chargers: {charger: B}}\n",
         "charger B was closed by the disconnect at line 9", "10:5: steps[2].connect"),
    # 4. variables
    Case("variable-cycle", "name: t\nvars: {a: '${b}', b: '${a}'}\n" + GATEWAY
         + "steps: [{wait: '${a}'}]\n", "variables refer to each other in a cycle: a → b → a",
         "2:22: vars.b"),
    Case("variable-refers-to-itself", "name: t\nvars:\n  a: 'more ${a}'\n" + GATEWAY
         + "steps: [{wait: 1s, name: '${a}'}]\n", "cycle: a → a", "3:6: vars.a"),
    Case("unknown-variable-in-variable", "name: t\nvars: {a: '${nope}', b: '${a}'}\n" + GATEWAY
         + "steps: [{wait: '${b}'}]\n", "unknown variable ${nope}; defined in vars: a, b",
         "2:11: vars.a"),
    # similar: what validate could not see before the run
    Case("inline-duplicate-identity", "name: t\ntopology:\n  chargers:\n"
         "    - {identity: A, ocpp_version: '1.6'}\n    - {identity: A, ocpp_version: '1.6'}\n"
         "csms: {url: ws://127.0.0.1:9/ocpp}\nsteps: [{wait: 1s}]\n",
         "charger identity 'A' is used twice", "5:18: topology.chargers[1].identity"),
    Case("inline-duplicate-evse-uid", "name: t\ntopology:\n  chargers:\n"
         "    - {identity: A, ocpp_version: '1.6', evses: 2}\n"
         "    - {identity: B, ocpp_version: '1.6', evses: [{uid: A-2}]}\n"
         "csms: {url: ws://127.0.0.1:9/ocpp}\nsteps: [{wait: 1s}]\n",
         "EVSE uid 'A-2' is used twice", "5:56: topology.chargers[1].evses[0].uid"),
    Case("inline-index-out-of-range", INLINE + "steps:\n  - connect: all\n  - plug_in: 7\n",
         "index 7 is out of range: the topology has 3 EVSEs", "9:5: steps[1].plug_in"),
]  # fmt: skip


def _write(tmp_path: Path, case: Case) -> Path:
    content = case.content() if callable(case.content) else case.content
    path = tmp_path / f"{case.id}.yaml"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def _assert_refused(result: Result, path: Path, case: Case) -> None:
    assert result.code == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert 1 <= len(lines) <= 3, result.stderr
    located = [line for line in lines if line.startswith(f"{path}:")]
    assert located, result.stderr
    first = located[0]
    if case.where is not None:
        assert first.startswith(f"{path}:{case.where}"), first
    else:
        assert re.match(rf"{re.escape(str(path))}(:\d+:\d+)?: ", first), first
    assert case.needle in first, first


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_bad_scenario_is_a_located_input_error(
    case: Case, tmp_path: Path, startup_seconds: float
) -> None:
    path = _write(tmp_path, case)
    result = ocpplab("validate", path)
    _assert_refused(result, path, case)
    if case.hostile:
        assert result.seconds < startup_seconds + EXTRA_SECONDS, (result.seconds, startup_seconds)
        if result.max_rss_mb is not None:
            assert result.max_rss_mb < MAX_RSS_MB


def test_the_case_list_is_long_enough() -> None:
    assert len({case.id for case in CASES}) == len(CASES) >= 30


def test_dev_zero_is_too_big_not_endless() -> None:
    if not Path("/dev/zero").exists():
        pytest.skip("no /dev/zero here")
    result = ocpplab("validate", "/dev/zero", timeout=30)
    assert result.code == 2
    assert result.stderr.startswith("/dev/zero: the file is larger than 1,048,576 bytes")
    assert "Traceback" not in result.stderr


def test_what_should_work_does(tmp_path: Path) -> None:
    """The forms the errors above point to: every duration unit, variables that use variables
    (in any order), connect twice, network_loss then reconnect, disconnect in teardown."""
    path = tmp_path / "good.yaml"
    path.write_text(
        "name: t\n"
        "vars: {deadline: '${base}', base: 10s, label: 'wait ${short}', short: 500ms}\n"
        + GATEWAY
        + "settings: {within: '${deadline}', meter_interval: 2.5, poll_interval: '0.5s'}\n"
        "setup: [{connect: {chargers: {charger: CP-1}}}, {connect: all}]\n"
        "steps:\n"
        "  - wait: '${short}'\n    name: '${label}'\n"
        "  - wait: 10s\n  - wait: 2m\n  - wait: 1h\n  - wait: 3\n  - wait: '7'\n"
        "  - network_loss: all\n  - reconnect: all\n  - connect: all\n"
        "teardown: [{disconnect: all}]\n",
        encoding="utf-8",
    )
    result = ocpplab("validate", path)
    assert result.code == 0, result.stderr
    assert "ok ('t', 12 steps)" in result.stdout


# -- what only the network shows: `run` refuses before any charger connects ---------------------


def test_run_refuses_a_reconnect_that_validate_cannot_see(tmp_path: Path) -> None:
    """`disconnect: 0` then `connect: [0, 1]`: which chargers those are is known once the gateway
    provisioned the network; the run then stops with exit 2 before anything connects."""
    path = tmp_path / "reconnect.yaml"
    path.write_text(
        HEAD + "steps:\n  - connect: all\n  - disconnect: 0\n  - connect: [0, 1]\n",
        encoding="utf-8",
    )
    assert ocpplab("validate", path).code == 0
    result = ocpplab("run", path, "--no-color", timeout=90)
    assert result.code == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert f"{path}:6:5: steps[2].connect: charger " in result.stdout
    assert "was closed by the disconnect at line 5: disconnect is final" in result.stdout
    assert "step 1" not in result.stdout  # refused before the first step


def test_run_refuses_a_zero_meter_interval_before_starting_anything(tmp_path: Path) -> None:
    path = tmp_path / "meter.yaml"
    path.write_text(
        HEAD + "settings: {meter_interval: 0s}\nsteps: [{connect: all}]\n", encoding="utf-8"
    )
    result = ocpplab("run", path, "--no-color", timeout=60)
    assert result.code == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert "internal error" not in result.stdout + result.stderr
    assert f"{path}:3:28: settings.meter_interval: must be longer than 0" in result.stderr


def test_run_connects_twice_as_validate_promised(tmp_path: Path) -> None:
    """`connect` on a connected charger does nothing: one charger first, then all of them."""
    path = tmp_path / "twice.yaml"
    path.write_text(
        HEAD
        + "settings: {within: 15s}\n"
        + "steps:\n  - connect: 0\n  - connect: all\n  - connect: all\n"
        + "  - expect_ocpi: {evse: all, status: AVAILABLE}\n  - disconnect: all\n",
        encoding="utf-8",
    )
    assert ocpplab("validate", path).code == 0
    result = ocpplab("run", path, "--no-color", timeout=90)
    assert result.code == 0, result.stdout + result.stderr
    assert "✓ step 3: connect all" in result.stdout
