"""Incoming OCPP payloads checked by validators compiled from the ``ocpp`` package's official
JSON schemas (fastjsonschema, compiled once per action and cached for the process).

The ``ocpp`` library validates with jsonschema, and by default hands every validation to a
thread (two per CALL: request and response); on the gateway's hot path that was most of the
library's cost. A payload the compiled validator accepts is valid; one it refuses is handed to
the library's own validation, whose verdict and OCPP-J error code stand.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from importlib import resources
from typing import Any

import fastjsonschema

__all__ = ["request_validator"]

_FOLDERS = {"1.6": "v16", "2.0.1": "v201"}


@functools.cache
def request_validator(version: str, action: str) -> Callable[[Any], Any] | None:
    """The compiled validator of ``action``'s request in ``version``; None if there is none."""
    if version not in _FOLDERS or not action.isalnum() or len(action) > 64:
        return None
    name = f"{action}.json" if version == "1.6" else f"{action}Request.json"
    path = resources.files("ocpp") / _FOLDERS[version] / "schemas" / name
    if not path.is_file():
        return None
    schema = json.loads(path.read_text(encoding="utf-8-sig"))
    compiled: Callable[[Any], Any] = fastjsonschema.compile(schema)
    return compiled
