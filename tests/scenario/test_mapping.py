"""The harness's mapping tables match the gateway's wire contract (docs/reference-gateway.md)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ocpplab_sim.scenario.mapping import (
    PROFILES,
    MappingError,
    ocpi_status_for,
    profiles_giving,
)

DOC = Path(__file__).resolve().parents[2] / "docs" / "reference-gateway.md"
_ROWS = {
    "Preparing": "Preparing",
    "Finishing": "Finishing",
    "Reserved": "Reserved",
    "Unavailable": "Unavailable",
    "Faulted": "Faulted",
    "Occupied (2.0.1)": "Occupied",
    "offline / never reported": "offline",
}


def test_the_alternative_profiles_match_the_documented_table() -> None:
    text = DOC.read_text(encoding="utf-8")
    header = re.search(r"\| OCPP status \| `citrineos` \| `evserver` \| `greenflux` \|", text)
    assert header is not None
    rows = text[header.end() :].split("\n\n", 1)[0].strip().splitlines()[1:]
    seen = set()
    for row in rows:
        cells = [cell.strip() for cell in row.strip("|").split("|")]
        ocpp = _ROWS.get(cells[0])
        if ocpp is None:
            continue
        seen.add(ocpp)
        for profile, cell in zip(("citrineos", "evserver", "greenflux"), cells[1:], strict=True):
            documented = cell.split()[0]
            if documented == "keeps":
                with pytest.raises(MappingError):
                    ocpi_status_for(ocpp, profile)
            else:
                assert ocpi_status_for(ocpp, profile) == documented, (ocpp, profile)
    assert seen == set(_ROWS.values())


def test_the_default_profile_matches_the_documented_table() -> None:
    for ocpp, ocpi in {
        "Available": "AVAILABLE",
        "Preparing": "CHARGING",
        "Charging": "CHARGING",
        "SuspendedEV": "CHARGING",
        "SuspendedEVSE": "CHARGING",
        "Finishing": "CHARGING",
        "Occupied": "CHARGING",
        "Reserved": "RESERVED",
        "Unavailable": "INOPERATIVE",
        "Faulted": "OUTOFORDER",
        "offline": "UNKNOWN",
    }.items():
        assert ocpi_status_for(ocpp, None) == ocpi == ocpi_status_for(ocpp, "default")


def test_unknown_names_are_refused_and_mismatches_explained() -> None:
    with pytest.raises(MappingError, match="unknown mapping profile 'acme'"):
        ocpi_status_for("Available", "acme")
    assert profiles_giving("Preparing", "AVAILABLE") == ["evserver", "greenflux"]
    assert set(PROFILES) == {"default", "citrineos", "evserver", "greenflux"}
