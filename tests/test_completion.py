"""`ocpplab-sim completion SHELL` prints a completion script a real shell loads."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def completion(shell: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ocpplab_sim", "completion", shell],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_each_shell_gets_a_script_naming_the_commands(shell: str) -> None:
    result = completion(shell)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    for word in ("ocpplab-sim", "run", "validate", "load", "chargers", "--csms-url"):
        assert word in result.stdout


def test_an_unknown_shell_exits_2() -> None:
    result = completion("powershell")
    assert result.returncode == 2
    assert "invalid choice" in result.stderr


def _in_bash(script: Path, words: str, cword: int) -> str:
    """What bash completes for the command line ``words`` with the script sourced."""
    program = f"""
set -e
source {script}
complete -p ocpplab-sim
spec=$(complete -p ocpplab-sim)
function=$(sed -E 's/.* -F ([^ ]+) .*/\\1/' <<<"$spec")
COMP_WORDS=({words})
COMP_CWORD={cword}
COMP_LINE="{words}"
COMP_POINT=${{#COMP_LINE}}
"$function" ocpplab-sim "${{COMP_WORDS[COMP_CWORD]}}" "${{COMP_WORDS[COMP_CWORD-1]}}"
printf 'REPLY %s\\n' "${{COMPREPLY[@]}}"
"""
    result = subprocess.run(
        ["bash", "--norc", "--noprofile", "-c", program],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


@pytest.mark.skipif(shutil.which("bash") is None, reason="bash is not installed")
def test_bash_sources_the_script_and_completes(tmp_path: Path) -> None:
    script = tmp_path / "ocpplab-sim.bash"
    script.write_text(completion("bash").stdout, encoding="utf-8")
    out = _in_bash(script, "ocpplab-sim lo", 1)
    assert out.startswith("complete ")
    assert "ocpplab-sim" in out.splitlines()[0]
    assert "REPLY load" in out
    flags = _in_bash(script, "ocpplab-sim load --thr", 2)
    assert "REPLY --threshold" in flags
    shells = _in_bash(script, "ocpplab-sim completion ", 2)
    assert {"REPLY bash", "REPLY zsh", "REPLY fish"} <= set(shells.split("\n"))


@pytest.mark.skipif(shutil.which("zsh") is None, reason="zsh is not installed")
def test_zsh_loads_the_script(tmp_path: Path) -> None:
    script = tmp_path / "_ocpplab-sim"
    script.write_text(completion("zsh").stdout, encoding="utf-8")
    result = subprocess.run(
        ["zsh", "-f", "-c", f"autoload -U compinit && compinit -u && source {script}"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.skipif(shutil.which("fish") is None, reason="fish is not installed")
def test_fish_loads_the_script(tmp_path: Path) -> None:
    script = tmp_path / "ocpplab-sim.fish"
    script.write_text(completion("fish").stdout, encoding="utf-8")
    result = subprocess.run(
        ["fish", "--no-config", "-c", f"source {script}; complete -C 'ocpplab-sim lo'"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "load" in result.stdout
