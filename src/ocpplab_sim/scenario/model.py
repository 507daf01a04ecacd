"""The scenario file's typed model: what a user writes, validated.

A scenario is a header (``name``, ``gateway``, optional ``csms`` and ``settings``) and a list of
steps. Each step is a mapping with exactly one action key (``plug_in: {evse: 0}``) and an optional
``name``. The loader (:mod:`ocpplab_sim.scenario.loader`) turns YAML into these objects and points
every error at its file, line and field.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PrivateAttr, field_validator

__all__ = [
    "ACTIONS",
    "Authorize",
    "ChargerSelection",
    "Connect",
    "CsmsSpec",
    "Disconnect",
    "Duration",
    "EvseSelection",
    "EvseStatus",
    "ExpectOcpi",
    "GatewaySpec",
    "PartySpec",
    "PlugIn",
    "Scenario",
    "Selector",
    "Settings",
    "StartCharging",
    "Step",
    "StopCharging",
    "Unplug",
    "Wait",
    "parse_duration",
]

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}


def parse_duration(value: Any) -> float:
    """``"10s"``, ``"500ms"``, ``"2m"``, ``"1h"`` or a number of seconds → seconds (float ≥ 0)."""
    if isinstance(value, bool):
        raise ValueError("expected a duration such as 10s, 500ms or 2m")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str) and (match := _DURATION.match(value)):
        seconds = float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
    else:
        raise ValueError(f"expected a duration such as 10s, 500ms or 2m, got {value!r}")
    if seconds < 0:
        raise ValueError("a duration cannot be negative")
    return seconds


Duration = Annotated[float, BeforeValidator(parse_duration)]


class EvseStatus(StrEnum):
    """OCPI EvseStatus (OCPI 2.2.1 mod_locations §8.4.22; the same nine values in 2.1.1)."""

    AVAILABLE = "AVAILABLE"
    BLOCKED = "BLOCKED"
    CHARGING = "CHARGING"
    INOPERATIVE = "INOPERATIVE"
    OUTOFORDER = "OUTOFORDER"
    PLANNED = "PLANNED"
    REMOVED = "REMOVED"
    RESERVED = "RESERVED"
    UNKNOWN = "UNKNOWN"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Selector(_Strict):
    """Which EVSEs (or, for charger-level actions, whose chargers) a step acts on.

    Written as ``all``; an index or list of indexes into the topology's EVSE list (0-based, in
    provisioning order); an ``evse_uid`` string; or a mapping with exactly one of ``index``,
    ``evse_uid``, ``charger``, ``location``, ``ocpp_version``.
    """

    kind: Literal["all", "index", "evse_uid", "charger", "location", "ocpp_version"]
    values: tuple[str | int, ...] = ()

    _KEYS: ClassVar[tuple[str, ...]] = ("index", "evse_uid", "charger", "location", "ocpp_version")

    def describe(self) -> str:
        if self.kind == "all":
            return "all"
        shown = ", ".join(str(v) for v in self.values)
        return f"{self.kind} {shown}"

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
            if key in cls._KEYS:
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


_SELECTOR_HELP = (
    "expected a selector: all, an index (0), a list of indexes ([0, 2]), an evse_uid string, "
    "or a mapping with one of index, evse_uid, charger, location, ocpp_version"
)


def _index(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"an index is a whole number ≥ 0, got {value!r}")
    return value


EvseSelection = Annotated[Selector, BeforeValidator(Selector.parse)]
ChargerSelection = Annotated[Selector, BeforeValidator(Selector.parse)]


class PartySpec(_Strict):
    country_code: Annotated[str, Field(pattern=r"^[A-Z]{2}$")]
    party_id: Annotated[str, Field(pattern=r"^[A-Z0-9]{3}$")]


class GatewaySpec(_Strict):
    """Which CPO network to provision through the Gateway API (``POST /ocpi/cpos``)."""

    template: Annotated[str, Field(min_length=1)]
    party: PartySpec
    name_prefix: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$")] | None = None
    mapping_profile: str | None = None
    ready_timeout: Duration = 60.0


class CsmsSpec(_Strict):
    """Where the chargers connect; by default the gateway's own ``/ocpp`` endpoint."""

    url: Annotated[str, Field(pattern=r"^wss?://")]


class Settings(_Strict):
    """Run-wide defaults; every step may override what it names."""

    within: Duration = 30.0
    poll_interval: Duration = 0.2
    id_token: Annotated[str, Field(min_length=1, max_length=20)] = "OCPPLAB0001"
    meter_interval: Duration = 5.0
    heartbeat_timeout: Duration = 30.0
    stop_on_failure: bool = False


class _Action(_Strict):
    """Base of every step's parameters. ``name`` labels the step in reports."""

    name: str | None = None
    key: ClassVar[str]


class Connect(_Action):
    """Open the websocket of each selected charger, boot and report status."""

    key: ClassVar[str] = "connect"
    chargers: ChargerSelection = Selector(kind="all")


class Disconnect(_Action):
    """Close the websocket of each selected charger cleanly."""

    key: ClassVar[str] = "disconnect"
    chargers: ChargerSelection = Selector(kind="all")


class PlugIn(_Action):
    key: ClassVar[str] = "plug_in"
    evse: EvseSelection


class Unplug(_Action):
    key: ClassVar[str] = "unplug"
    evse: EvseSelection


class Authorize(_Action):
    key: ClassVar[str] = "authorize"
    evse: EvseSelection
    id_token: Annotated[str, Field(min_length=1, max_length=20)] | None = None
    expect: str = "Accepted"


class StartCharging(_Action):
    key: ClassVar[str] = "start_charging"
    evse: EvseSelection
    id_token: Annotated[str, Field(min_length=1, max_length=20)] | None = None


class StopCharging(_Action):
    key: ClassVar[str] = "stop_charging"
    evse: EvseSelection
    reason: str = "Local"


class Wait(_Action):
    key: ClassVar[str] = "wait"
    duration: Duration


class ExpectOcpi(_Action):
    """The OCPI EVSE status of every selected EVSE must become ``status`` within the deadline."""

    key: ClassVar[str] = "expect_ocpi"
    evse: EvseSelection
    status: EvseStatus
    within: Duration | None = None


Step = (
    Connect
    | Disconnect
    | PlugIn
    | Unplug
    | Authorize
    | StartCharging
    | StopCharging
    | Wait
    | ExpectOcpi
)

_ACTION_TYPES: tuple[type[_Action], ...] = (
    *(Connect, Disconnect, PlugIn, Unplug, Authorize),
    *(StartCharging, StopCharging, Wait, ExpectOcpi),
)
ACTIONS: dict[str, type[_Action]] = {cls.key: cls for cls in _ACTION_TYPES}

# The short forms: `wait: 2s` means `wait: {duration: 2s}`, `plug_in: 0` means `plug_in: {evse: 0}`.
SHORTHAND_FIELD: dict[str, str] = {
    "connect": "chargers",
    "disconnect": "chargers",
    "plug_in": "evse",
    "unplug": "evse",
    "authorize": "evse",
    "start_charging": "evse",
    "stop_charging": "evse",
    "wait": "duration",
}


class Scenario(_Strict):
    """A whole scenario file."""

    name: Annotated[str, Field(min_length=1)]
    description: str | None = None
    gateway: GatewaySpec
    csms: CsmsSpec | None = None
    settings: Settings = Settings()
    steps: tuple[Step, ...]

    _source: str = PrivateAttr(default="<scenario>")
    _step_lines: tuple[int | None, ...] = PrivateAttr(default=())

    @property
    def source(self) -> str:
        """The file this scenario was read from, for error messages."""
        return self._source

    @property
    def step_lines(self) -> tuple[int | None, ...]:
        """The 1-based line of each step in its file (``None`` where unknown)."""
        return self._step_lines

    def located(self, source: str, step_lines: tuple[int | None, ...]) -> Scenario:
        """This scenario, remembering where it was written."""
        self._source = source
        self._step_lines = step_lines
        return self

    @field_validator("steps")
    @classmethod
    def _at_least_one(cls, steps: tuple[Step, ...]) -> tuple[Step, ...]:
        if not steps:
            raise ValueError("a scenario needs at least one step")
        return steps
