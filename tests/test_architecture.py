"""The layering of ARCHITECTURE.md, enforced: each package imports only what its row allows."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "ocpplab_sim"

ALLOWED: dict[str, set[str]] = {
    "errors": set(),
    "topology": set(),
    "station": {"errors"},
    "protocol": {"station", "errors"},
    "connection": {"protocol", "errors"},
    "fleet": {"station", "protocol", "connection", "errors"},
    "gateway_client": {"errors"},
    "ocpi_client": {"errors"},
    "emsp": {"errors"},
    "scenario": {"topology", "errors"},
    "reports": {"scenario", "errors"},
    "runner": {
        "errors",
        "topology",
        "fleet",
        "gateway_client",
        "ocpi_client",
        "emsp",
        "scenario",
        "reports",
        "launcher",
        "runner_adapters",
    },
    "runner_adapters": {"errors", "topology", "gateway_client", "ocpi_client", "emsp", "scenario"},
    "chargers": {"fleet", "errors"},
    "launcher": {"gateway", "errors"},
    "cli": {"runner", "launcher", "reports", "scenario", "load", "chargers", "errors"},
    "gateway": set(),
    "load": {"fleet", "errors", "launcher", "gateway_client", "ocpi_client", "scenario"},
}


def _layer(path: Path) -> str:
    relative = path.relative_to(SRC)
    return relative.parts[0].removesuffix(".py")


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    found = set()
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        for name in names:
            parts = name.split(".")
            if parts[0] == "ocpplab_sim" and len(parts) > 1:
                found.add(parts[1])
    return found


MODULES = sorted(p for p in SRC.rglob("*.py") if _layer(p) not in {"__init__", "__main__"})


def test_every_module_belongs_to_a_known_layer() -> None:
    unknown = {_layer(p) for p in MODULES} - ALLOWED.keys()
    assert not unknown, f"add these to ARCHITECTURE.md and ALLOWED: {unknown}"


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(SRC)))
def test_imports_follow_the_layers(path: Path) -> None:
    layer = _layer(path)
    illegal = _imports(path) - ALLOWED[layer] - {layer}
    assert not illegal, f"{layer} may not import {sorted(illegal)}"
