"""ocpplab-sim: end-to-end harness for EV-charging platforms (OCPP chargers, OCPI roaming).

The Python API (``docs/python-api.md``) is imported on first use, so ``import ocpplab_sim``
stays cheap::

    from ocpplab_sim import ReferenceGateway, provision, start_charger, run_scenario_file
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ocpplab_sim.errors import OcpplabError, WaitTimeout

if TYPE_CHECKING:
    from ocpplab_sim.api import (
        Charger,
        Fleet,
        Network,
        ReferenceGateway,
        ScenarioResult,
        format_frames,
        provision,
        run_scenario_file,
        start_charger,
        start_fleet,
    )

__version__ = "0.1.0"

_API = frozenset(
    {
        "Charger",
        "Fleet",
        "Network",
        "ReferenceGateway",
        "ScenarioResult",
        "format_frames",
        "provision",
        "run_scenario_file",
        "start_charger",
        "start_fleet",
    }
)

__all__ = [
    "Charger",
    "Fleet",
    "Network",
    "OcpplabError",
    "ReferenceGateway",
    "ScenarioResult",
    "WaitTimeout",
    "__version__",
    "format_frames",
    "provision",
    "run_scenario_file",
    "start_charger",
    "start_fleet",
]


def __getattr__(name: str) -> Any:
    if name in _API:
        from ocpplab_sim import api

        value = getattr(api, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'ocpplab_sim' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | _API)
