"""`scenario.language` (what a scenario says, its steps' handlers included) does not import
`scenario.execution` (how it runs) at module level, and the module paths from before the split
still import the same modules."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

SCENARIO = Path(__file__).resolve().parents[2] / "src" / "ocpplab_sim" / "scenario"
LANGUAGE = sorted((SCENARIO / "language").rglob("*.py"))
MOVED = sorted(p.stem for p in SCENARIO.glob("*.py") if p.stem != "__init__")


@pytest.mark.parametrize("path", LANGUAGE, ids=lambda p: str(p.relative_to(SCENARIO)))
def test_the_language_does_not_import_the_execution(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    imported = [
        node.module or ""
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.col_offset == 0
    ]
    assert not [m for m in imported if m.startswith("ocpplab_sim.scenario.execution")]


@pytest.mark.parametrize("name", MOVED)
def test_the_old_module_paths_import_the_moved_modules(name: str) -> None:
    old = importlib.import_module(f"ocpplab_sim.scenario.{name}")
    assert old.__name__.startswith(
        ("ocpplab_sim.scenario.language.", "ocpplab_sim.scenario.execution.")
    )
    assert importlib.import_module(old.__name__) is old
