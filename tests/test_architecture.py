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
    "chargepoint": {"station", "protocol", "errors"},
    "connection": {"errors"},
    "fleet": {"chargepoint", "station", "protocol", "connection", "errors"},
    "gateway_client": {"errors"},
    "ocpi_client": {"errors"},
    "emsp": {"errors", "asgi_serve"},
    "asgi_serve": {"errors"},
    "control": {"fleet", "chargepoint", "station", "protocol", "asgi_serve", "errors"},
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
    "chargers": {"fleet", "control", "errors"},
    "launcher": {"gateway", "errors"},
    "cli": {"runner", "launcher", "reports", "scenario", "load", "chargers", "control", "errors"},
    "entry": {"cli"},
    "gateway": set(),
    "load": {"fleet", "errors", "launcher", "gateway_client", "ocpi_client", "scenario"},
    "units": {"errors"},
    "vocabulary": set(),
    "terminal": set(),
    "api": {
        "errors",
        "chargepoint",
        "fleet",
        "gateway_client",
        "scenario",
        "reports",
        "runner",
        "launcher",
    },
    "pytest_plugin": {"api", "gateway_client", "errors"},
}
# units, the grammar of typed values (durations, URLs), vocabulary, the shared enums, and
# terminal, the colour and progress decisions, are open to every package but the standalone
# gateway, like errors
_OPEN = {"units", "vocabulary", "terminal"}
for _layer_name, _allowed in ALLOWED.items():
    if _layer_name not in {"gateway", *_OPEN}:
        _allowed.update(_OPEN)


def _layer(path: Path) -> str:
    relative = path.relative_to(SRC)
    return relative.parts[0].removesuffix(".py")


# Every top-level module or package of `ocpplab_sim`, so that `from ocpplab_sim import x` counts
# `x` as a layer only when it is one (and not, say, `__version__` from the package's `__init__`).
TOP_LEVEL = {_layer(p) for p in SRC.rglob("*.py")} - {"__init__"}


def _module_name(path: Path) -> tuple[str, bool]:
    """The dotted name of the module at `path`, and whether it is a package (`__init__.py`)."""
    parts = ("ocpplab_sim", *path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        return ".".join(parts[:-1]), True
    return ".".join(parts), False


def _resolve(node: ast.ImportFrom, module: str, *, is_package: bool) -> str:
    """The absolute name of the module `node` imports from, as Python resolves it inside `module`."""
    if node.level == 0:
        return node.module or ""
    package = module.split(".") if is_package else module.split(".")[:-1]
    if node.level > len(package):
        raise ValueError(
            f"{module}: relative import beyond the top-level package (line {node.lineno})"
        )
    base = package[: len(package) - node.level + 1]
    return ".".join([*base, node.module] if node.module else base)


def _imports(source: str, module: str, *, is_package: bool = False) -> set[str]:
    """Absolute names of everything `source` (the text of `module`) imports.

    `from X import a` yields `X` and `X.a`: `a` may be a submodule (`from ocpplab_sim import fleet`,
    `from . import views`) and the name alone cannot tell.
    """
    found: set[str] = set()
    for node in ast.walk(ast.parse(source, module)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = _resolve(node, module, is_package=is_package)
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names if alias.name != "*")
    return found


def _layers(names: set[str]) -> set[str]:
    """The `ocpplab_sim` layers that the absolute module names `names` reach into."""
    layers = set()
    for name in names:
        parts = name.split(".")
        if parts[0] == "ocpplab_sim" and len(parts) > 1 and parts[1] in TOP_LEVEL:
            layers.add(parts[1])
    return layers


def _imported_layers(path: Path) -> set[str]:
    module, is_package = _module_name(path)
    return _layers(_imports(path.read_text(encoding="utf-8"), module, is_package=is_package))


MODULES = sorted(p for p in SRC.rglob("*.py") if _layer(p) not in {"__init__", "__main__"})


def test_every_module_belongs_to_a_known_layer() -> None:
    unknown = {_layer(p) for p in MODULES} - ALLOWED.keys()
    assert not unknown, f"add these to ARCHITECTURE.md and ALLOWED: {unknown}"


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(SRC)))
def test_imports_follow_the_layers(path: Path) -> None:
    layer = _layer(path)
    illegal = _imported_layers(path) - ALLOWED[layer] - {layer}
    assert not illegal, f"{layer} may not import {sorted(illegal)}"


SYNTHETIC = """
import json
import ocpplab_sim.station.machine
from ocpplab_sim import __version__, fleet
from . import sink
from .shapes import Ramp
from .. import scenario
from ..scenario.loader import load_scenario
from ..errors import *
"""


def test_imports_resolves_relative_and_absolute_forms() -> None:
    names = _imports(SYNTHETIC, "ocpplab_sim.load.worker")
    assert names == {
        "json",
        "ocpplab_sim.station.machine",
        "ocpplab_sim",
        "ocpplab_sim.__version__",
        "ocpplab_sim.fleet",
        "ocpplab_sim.load",
        "ocpplab_sim.load.sink",
        "ocpplab_sim.load.shapes",
        "ocpplab_sim.load.shapes.Ramp",
        "ocpplab_sim.scenario",
        "ocpplab_sim.scenario.loader",
        "ocpplab_sim.scenario.loader.load_scenario",
        "ocpplab_sim.errors",
    }
    assert _layers(names) == {"station", "fleet", "load", "scenario", "errors"}


def test_imports_resolves_relative_forms_inside_a_package_init() -> None:
    source = "from . import views\nfrom .app import create_app\nfrom .. import errors\n"
    names = _imports(source, "ocpplab_sim.gateway", is_package=True)
    assert names == {
        "ocpplab_sim.gateway",
        "ocpplab_sim.gateway.views",
        "ocpplab_sim.gateway.app",
        "ocpplab_sim.gateway.app.create_app",
        "ocpplab_sim",
        "ocpplab_sim.errors",
    }
    assert _layers(names) == {"gateway", "errors"}


def test_module_names_follow_the_source_tree() -> None:
    assert _module_name(SRC / "runner.py") == ("ocpplab_sim.runner", False)
    assert _module_name(SRC / "load" / "__init__.py") == ("ocpplab_sim.load", True)
    assert _module_name(SRC / "load" / "sink.py") == ("ocpplab_sim.load.sink", False)


def test_imports_rejects_a_relative_import_beyond_the_package() -> None:
    with pytest.raises(ValueError, match="beyond the top-level package"):
        _imports("from ... import x\n", "ocpplab_sim.load.worker")
