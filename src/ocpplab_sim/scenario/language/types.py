"""The value types of the scenario language: durations, OCPI statuses, selectors, connector specs.

Each type accepts every form a person writes (``10s``, ``0``, ``{charger: CP-1}``) and publishes a
JSON Schema of those written forms, so ``ocpplab-sim schema`` describes the file, not the model.
"""

from __future__ import annotations

import math
import re
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema

from ocpplab_sim.vocabulary import EvseStatus

__all__ = [
    "MAX_DURATION_S",
    "ChargerSelection",
    "ConnectorSpec",
    "Duration",
    "EvseSelection",
    "EvseStatus",
    "IdToken",
    "PositiveDuration",
    "Selector",
    "Strict",
    "parse_duration",
    "parse_positive_duration",
]

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}
_NUMBER_AND_WORD = re.compile(r"^\s*[-+]?\d+(?:\.\d+)?\s*([A-Za-z]+)\s*$")
_COMPOUND = re.compile(r"^\s*(?:\d+(?:\.\d+)?\s*(?:ms|s|m|h)\s*){2,}$")
_EXAMPLES = "500ms, 10s, 2m, 1h or a number of seconds"
#: The longest duration a scenario may write (365 days): anything longer is a typo, and an
#: unbounded one overflows the event loop's timers.
MAX_DURATION_S = 365 * 24 * 3600.0
#: An id token presented at a charger (OCPP 1.6's IdToken: at most 20 characters).
IdToken = Annotated[str, Field(min_length=1, max_length=20)]
# A reference such as ${deadline} may stand for any value; the loader substitutes it first.
_REFERENCE_PATTERN = r"\$\{[^}]+\}"


def parse_duration(value: Any) -> float:
    """``"10s"``, ``"500ms"``, ``"2m"``, ``"1h"`` or a number of seconds → seconds (float ≥ 0).

    One number and one unit (``ms``, ``s``, ``m``, ``h``; none: seconds). ``ValueError`` says
    what is wrong: not a duration, an unknown unit, negative, not finite, or longer than
    :data:`MAX_DURATION_S`.
    """
    if isinstance(value, bool):
        raise ValueError(f"expected a duration such as {_EXAMPLES}, got {value!r}")
    if isinstance(value, int | float):
        try:
            seconds = float(value)
        except OverflowError:
            seconds = math.inf
    elif isinstance(value, str) and (match := _DURATION.match(value)):
        seconds = float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
    elif isinstance(value, str) and value.strip().startswith("-"):
        raise ValueError(f"a duration cannot be negative, got {value!r}")
    elif isinstance(value, str) and _COMPOUND.match(value):
        raise ValueError(f"a duration is one number and one unit (90m, not 1h30m), got {value!r}")
    elif isinstance(value, str) and (unit := _NUMBER_AND_WORD.match(value)):
        raise ValueError(
            f"unknown unit {unit.group(1)!r} in the duration {value!r}; the units are ms, s, m "
            "and h"
        )
    else:
        raise ValueError(f"expected a duration such as {_EXAMPLES}, got {value!r}")
    if math.isnan(seconds):
        raise ValueError(f"a duration must be a number, got {value!r}")
    if seconds < 0:
        raise ValueError(f"a duration cannot be negative, got {value!r}")
    if seconds > MAX_DURATION_S:
        raise ValueError(f"a duration is at most 365 days (8760h), got {value!r}")
    return seconds


def parse_positive_duration(value: Any) -> float:
    """:func:`parse_duration`, refusing 0 (an interval or a timeout must be longer than 0)."""
    seconds = parse_duration(value)
    if seconds <= 0:
        raise ValueError(f"must be longer than 0, got {value!r}")
    return seconds


_DURATION_SCHEMA: dict[str, Any] = {
    "description": "a duration: 500ms, 10s, 2m, 1h, or a number of seconds (at most 365 days)",
    "anyOf": [
        {"type": "number", "minimum": 0, "maximum": MAX_DURATION_S},
        {"type": "string", "pattern": r"^\s*\d+(\.\d+)?\s*(ms|s|m|h)?\s*$"},
        {"type": "string", "pattern": _REFERENCE_PATTERN},
    ],
}
_POSITIVE_DURATION_SCHEMA: dict[str, Any] = {
    "description": "a duration longer than 0: 500ms, 10s, 2m, 1h, or a number of seconds",
    "anyOf": [
        {"type": "number", "exclusiveMinimum": 0, "maximum": MAX_DURATION_S},
        {
            "type": "string",
            "pattern": r"^\s*(?=[\d.]*[1-9])\d+(\.\d+)?\s*(ms|s|m|h)?\s*$",
        },
        {"type": "string", "pattern": _REFERENCE_PATTERN},
    ],
}

Duration = Annotated[float, BeforeValidator(parse_duration), WithJsonSchema(_DURATION_SCHEMA)]
#: A duration that must be longer than 0: intervals (``meter_interval``, ``poll_interval``) and
#: timeouts, where 0 would mean a busy loop or an immediate failure.
PositiveDuration = Annotated[
    float,
    BeforeValidator(parse_positive_duration),
    WithJsonSchema(_POSITIVE_DURATION_SCHEMA),
]


class Strict(BaseModel):
    """Base of every scenario model: unknown fields are errors, values are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


SelectorKind = Literal[
    "all", "index", "evse_uid", "charger", "location", "ocpp_version", "topology_id", "sample"
]


class Selector(Strict):
    """Which EVSEs (or, for charger-level actions, whose chargers) a step acts on.

    Written as ``all``; an index or list of indexes into the topology's EVSE list (0-based, in
    provisioning order); an ``evse_uid`` string; a mapping with exactly one of ``index``,
    ``evse_uid``, ``charger``, ``location``, ``ocpp_version``, ``topology_id``; or
    ``{sample: {n: K, of: SELECTOR}}``, K EVSEs drawn from another selection with the run's seed
    (the same sample expression picks the same EVSEs everywhere in one run).
    """

    kind: SelectorKind
    values: tuple[str | int, ...] = ()
    of: Selector | None = None

    KEYS: ClassVar[tuple[str, ...]] = (
        "index",
        "evse_uid",
        "charger",
        "location",
        "ocpp_version",
        "topology_id",
        "sample",
    )

    def describe(self) -> str:
        if self.kind == "all":
            return "all"
        if self.kind == "sample" and self.of is not None:
            return f"sample {self.values[0]} of ({self.of.describe()})"
        shown = ", ".join(str(v) for v in self.values)
        return f"{self.kind} {shown}"

    @property
    def deferred(self) -> bool:
        """True when a value is a ``${...}`` reference bound only while the run executes."""
        own = any(isinstance(v, str) and "${" in v for v in self.values)
        return own or (self.of is not None and self.of.deferred)

    @classmethod
    def parse(cls, raw: Any) -> Selector:
        """Accept every written form; ``ValueError`` names the allowed forms."""
        if isinstance(raw, Selector):
            return raw
        if raw == "all":
            return cls(kind="all")
        if isinstance(raw, bool):
            raise ValueError(_SELECTOR_HELP)
        if isinstance(raw, int):
            return cls(kind="index", values=(_index(raw),))
        if isinstance(raw, str) and raw:
            return cls(kind="evse_uid", values=(raw,))
        if isinstance(raw, list) and raw and all(isinstance(v, int) for v in raw):
            return cls(kind="index", values=tuple(_index(v) for v in raw))
        if isinstance(raw, dict) and len(raw) == 1:
            ((key, value),) = raw.items()
            if key == "sample":
                return cls._sample(value)
            if key in cls.KEYS:
                values = tuple(value) if isinstance(value, list) else (value,)
                if not values:
                    raise ValueError(f"{key} needs at least one value")
                if key == "index":
                    return cls(kind="index", values=tuple(_index(v) for v in values))
                if not all(isinstance(v, str) and v for v in values):
                    raise ValueError(f"{key} takes a string or a list of strings")
                if key == "ocpp_version" and not set(values) <= {"1.6", "2.0.1"}:
                    raise ValueError("ocpp_version is '1.6' or '2.0.1'")
                return cls(kind=key, values=values)
        raise ValueError(_SELECTOR_HELP)

    @classmethod
    def _sample(cls, value: Any) -> Selector:
        if not isinstance(value, dict) or set(value) - {"n", "of"} or "n" not in value:
            raise ValueError("sample is {n: COUNT, of: SELECTOR} (of defaults to all)")
        n = value["n"]
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ValueError(f"sample.n is a whole number ≥ 1, got {n!r}")
        inner = cls.parse(value.get("of", "all"))
        return cls(kind="sample", values=(n,), of=inner)


_SELECTOR_HELP = (
    "expected a selector: all, an index (0), a list of indexes ([0, 2]), an evse_uid string, "
    "or a mapping with one of index, evse_uid, charger, location, ocpp_version, topology_id, "
    "sample"
)


def _index(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"an index is a whole number ≥ 0, got {value!r}")
    return value


_STRINGS: dict[str, Any] = {
    "anyOf": [
        {"type": "string", "minLength": 1},
        {"type": "array", "items": {"type": "string", "minLength": 1}, "minItems": 1},
    ]
}
_INDEXES: dict[str, Any] = {
    "anyOf": [
        {"type": "integer", "minimum": 0},
        {"type": "array", "items": {"type": "integer", "minimum": 0}, "minItems": 1},
    ]
}
_SELECTOR_KEYS = (
    "index",
    "evse_uid",
    "charger",
    "location",
    "topology_id",
    "ocpp_version",
    "sample",
)
# One alternative per JSON type, each titled and described, and the object form with its keys
# listed (`propertyNames`): an editor then reports a wrong selector by the form it resembles
# (an unknown key names the known ones) instead of the first alternative ('Value must be "all"').
_SELECTOR_SCHEMA: dict[str, Any] = {
    "title": "selector",
    "description": _SELECTOR_HELP,
    "type": ["string", "integer", "array", "object"],
    "anyOf": [
        {
            "title": '"all" or an evse_uid',
            "description": '"all" (every EVSE or charger), an evse_uid, or ${evse}',
            "type": "string",
            "minLength": 1,
            "examples": ["all"],
        },
        {"title": "an index", "type": "integer", "minimum": 0},
        {
            "title": "a list of indexes",
            "type": "array",
            "items": {"type": "integer", "minimum": 0},
            "minItems": 1,
        },
        {
            "title": "{" + "|".join(_SELECTOR_KEYS) + ": …}",
            "description": "one key: " + ", ".join(_SELECTOR_KEYS),
            "type": "object",
            "properties": {
                "index": _INDEXES,
                **{key: _STRINGS for key in ("evse_uid", "charger", "location", "topology_id")},
                "ocpp_version": {
                    "anyOf": [
                        {"enum": ["1.6", "2.0.1"]},
                        {"type": "array", "items": {"enum": ["1.6", "2.0.1"]}, "minItems": 1},
                    ]
                },
                "sample": {
                    "type": "object",
                    "properties": {
                        "n": {"type": "integer", "minimum": 1},
                        "of": {"description": "the selection to draw from (default all)"},
                    },
                    "required": ["n"],
                    "additionalProperties": False,
                },
            },
            "propertyNames": {
                "title": "selector key",
                "type": "string",
                "enum": list(_SELECTOR_KEYS),
            },
            "minProperties": 1,
            "maxProperties": 1,
        },
    ],
}

EvseSelection = Annotated[
    Selector, BeforeValidator(Selector.parse), WithJsonSchema(_SELECTOR_SCHEMA)
]
ChargerSelection = EvseSelection


class ConnectorSpec(Strict):
    """Fields the OCPI Connector of an EVSE must carry (only those written are checked).

    Names are the OCPI 2.2.1 ones; against a 2.1.1 peer ``max_voltage``/``max_amperage`` are
    compared with its ``voltage``/``amperage``.
    """

    standard: Annotated[str, Field(min_length=1, examples=["IEC_62196_T2", "CHADEMO"])] | None = (
        None
    )
    format: Literal["SOCKET", "CABLE"] | None = None
    power_type: (
        Literal["AC_1_PHASE", "AC_2_PHASE", "AC_2_PHASE_SPLIT", "AC_3_PHASE", "DC"] | None
    ) = None
    max_voltage: int | None = None
    max_amperage: int | None = None
    max_electric_power: int | None = None

    def wanted(self) -> dict[str, str | int]:
        """The fields this spec constrains, by OCPI name."""
        return {k: v for k, v in self.model_dump().items() if v is not None}
