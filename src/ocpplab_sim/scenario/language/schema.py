"""The JSON Schema of the scenario file format, generated from the models.

It describes the file as written — a step is ``{ACTION: params}`` plus ``name``/``timeout``, with
the short forms (``wait: 2s``, ``plug_in: 0``, ``parallel: [...]``) — so an editor with a YAML
language server autocompletes action names and their fields. ``ocpplab-sim schema`` prints it.
The loader stays the authority: it checks what a schema cannot (one action per step, references,
selectors against the topology).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from ocpplab_sim.scenario.language.base import first_paragraph, step_specs
from ocpplab_sim.scenario.language.model import (
    CsmsSpec,
    Each,
    GatewaySpec,
    InlineTopology,
    LoadSpec,
    OcpiSpec,
    Repeat,
    Settings,
)
from ocpplab_sim.scenario.language.types import _POSITIVE_DURATION_SCHEMA, _SELECTOR_SCHEMA

__all__ = ["SCHEMA_ID", "scenario_schema", "steps_reference"]

SCHEMA_ID = "https://ocpplab.dev/schemas/ocpplab-sim-scenario.json"
_REF = "#/$defs/{model}"
_STEPS = {"$ref": "#/$defs/StepList"}


def scenario_schema() -> dict[str, Any]:
    """The schema (JSON Schema draft 2020-12) as a dict."""
    specs = step_specs()
    actions = [spec.model for spec in specs if not spec.block]
    header: list[type[BaseModel]] = [
        GatewaySpec,
        InlineTopology,
        CsmsSpec,
        OcpiSpec,
        Settings,
        LoadSpec,
    ]
    wanted: list[tuple[type[BaseModel], Literal["validation"]]] = [
        (model, "validation") for model in (*header, *actions)
    ]
    keyed, top = models_json_schema(wanted, ref_template=_REF)
    defs: dict[str, Any] = dict(top.get("$defs", {}))
    # A step is one object whose keys are known: the action names plus `name` and `timeout`.
    # Written as properties (not an anyOf of one schema per action) so that an editor reports an
    # unknown action as a key that is not allowed, listing the valid ones (`propertyNames`), and
    # checks a known action's parameters against its own schema only. "Exactly one action" is
    # said without anyOf/oneOf, whose errors editors report by their first alternative: `not`
    # (no action at all) and, per action, `dependentSchemas` (no second action beside it).
    actions_by_key: dict[str, Any] = {}
    for spec in specs:
        cls = spec.model
        params = _block_params(cls) if spec.block else keyed[(cls, "validation")]
        forms = [params]
        if spec.shorthand is not None:
            field = spec.shorthand
            short = _STEPS if spec.block else _field_schema(defs, cls.__name__, field)
            forms.append(short)
        if not any(f.get("required") for f in (params, defs.get(cls.__name__, {}))):
            forms.append({"type": "null"})
        described = {"title": spec.name, "description": spec.doc}
        actions_by_key[cls.key] = (
            {**described, "anyOf": forms}
            if len(forms) > 1
            else {
                **forms[0],
                **described,
            }
        )
    extra = ["name", "timeout"]
    defs["Step"] = {
        "title": "step",
        "description": "one step: exactly one action key ("
        + ", ".join(actions_by_key)
        + "), with an optional name and timeout",
        "type": "object",
        "properties": {
            **actions_by_key,
            "name": {"type": "string", "description": "label in reports"},
            "timeout": _POSITIVE_DURATION_SCHEMA,
        },
        "propertyNames": {
            "title": "step key",
            "description": "an action name, name or timeout",
            "type": "string",
            "enum": [*actions_by_key, *extra],
        },
        "not": {
            "title": "a step without an action",
            "propertyNames": {"enum": extra},
        },
        "dependentSchemas": {
            key: {
                "title": f"one action per step: {key} and nothing but name and timeout",
                "propertyNames": {"type": "string", "enum": [key, *extra]},
            }
            for key in actions_by_key
        },
    }
    defs["StepList"] = {"type": "array", "items": {"$ref": "#/$defs/Step"}, "minItems": 1}
    defs["Selector"] = _SELECTOR_SCHEMA
    ref = {model.__name__: {"$ref": _REF.format(model=model.__name__)} for model in header}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "ocpplab-sim scenario",
        "description": "A scenario: provision (gateway) or describe (topology) a network, then "
        "drive its chargers through steps and check what the platform publishes.",
        "type": "object",
        "properties": {
            "name": {"type": "string", "minLength": 1},
            "description": {"type": "string"},
            "vars": {
                "description": "values for ${name} references anywhere below",
                "type": "object",
                "additionalProperties": {"type": ["string", "number", "boolean"]},
            },
            "gateway": ref["GatewaySpec"],
            "topology": ref["InlineTopology"],
            "csms": ref["CsmsSpec"],
            "ocpi": ref["OcpiSpec"],
            "settings": ref["Settings"],
            "load": {**ref["LoadSpec"], "description": first_paragraph(LoadSpec)},
            "setup": {**_STEPS, "description": "steps run first; a failure skips the rest"},
            "steps": _STEPS,
            "phases": {
                "type": "array",
                "minItems": 1,
                "items": {
                    "type": "object",
                    "properties": {"name": {"type": "string", "minLength": 1}, "steps": _STEPS},
                    "required": ["name", "steps"],
                    "additionalProperties": False,
                },
            },
            "teardown": {**_STEPS, "description": "steps that run last, even after failures"},
        },
        "required": ["name"],
        "allOf": [
            {"oneOf": [{"required": ["gateway"]}, {"required": ["topology"]}]},
            {"oneOf": [{"required": ["steps"]}, {"required": ["phases"]}]},
        ],
        "additionalProperties": False,
        "$defs": defs,
    }


def _field_schema(defs: dict[str, Any], model: str, field: str) -> dict[str, Any]:
    schema = defs.get(model, {}).get("properties", {}).get(field, {})
    return dict(schema) or {}


def _block_params(cls: type) -> dict[str, Any]:
    common = {"name": {"type": "string"}, "timeout": _POSITIVE_DURATION_SCHEMA, "steps": _STEPS}
    if cls is Repeat:
        extra: dict[str, Any] = {"times": {"type": "integer", "minimum": 1, "maximum": 10_000}}
        required = ["times", "steps"]
    elif cls is Each:
        extra = {"evse": _SELECTOR_SCHEMA, "charger": _SELECTOR_SCHEMA}
        required = ["steps"]
    else:
        extra, required = {}, ["steps"]
    return {
        "type": "object",
        "description": first_paragraph(cls),
        "properties": {**extra, **common},
        "required": required,
        "additionalProperties": False,
    }


def steps_reference() -> str:
    """The table of every registered step (``docs/steps.md``): its action name, short form,
    fields and first documentation paragraph."""
    lines = [
        "# Scenario steps",
        "",
        "Generated from the step registry (`ocpplab_sim.scenario.registry`); regenerate with",
        "`OCPPLAB_UPDATE_SCHEMAS=1 pytest tests/scenario/test_shipped_schema.py`. Every step also",
        "takes `name` (its label in reports) and `timeout`.",
        "",
        "| step | short form | fields | what it does |",
        "| --- | --- | --- | --- |",
    ]
    for spec in step_specs():
        fields = [
            f"`{info.alias or name}`" + ("" if info.is_required() else "?")
            for name, info in spec.model.model_fields.items()
            if name not in ("name", "timeout")
        ]
        short = f"`{spec.name}: {spec.shorthand.upper()}`" if spec.shorthand else ""
        doc = " ".join(spec.doc.split()).replace("``", "`").replace("|", "\\|")
        lines.append(f"| `{spec.name}` | {short} | {', '.join(fields)} | {doc} |")
    return "\n".join(lines) + "\n"
