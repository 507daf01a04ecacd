"""The trace format's JSON Schema (docs/trace.schema.json): one validator for both writers,
``run --trace`` and ``chargers --trace``."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema

SCHEMA = Path(__file__).resolve().parents[1] / "docs" / "trace.schema.json"


def trace_validator() -> jsonschema.Draft202012Validator:
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)
