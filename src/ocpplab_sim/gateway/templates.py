"""Network templates: versioned YAML data files describing the locations and chargers a CPO gets.

A template is validated into :class:`Template` when loaded; :func:`builtin_catalog` returns the
templates shipped in ``gateway/templates/*.yaml`` keyed by name. A template either lists its
``locations`` or is *parameterised*: it declares integer ``parameters`` (with default, minimum
and maximum) and a ``generate`` rule that :meth:`Template.expand` turns into N locations of M
chargers. Expanding a template for one CPO (identities, EVSE uids, eMI3 EVSE ids) is the job of
:mod:`.provisioning`.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from importlib import resources
from types import MappingProxyType
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

__all__ = [
    "ChargerGroup",
    "ChargerModel",
    "ConnectorSpec",
    "GenerateSpec",
    "LocationSpec",
    "ParameterSpec",
    "Template",
    "TemplateError",
    "builtin_catalog",
    "load_template",
]

OcppVersion = Literal["1.6", "2.0.1"]
# OCPI 2.1.1 mod_locations §8.4.12 LocationType (dropped in 2.2.1, required in 2.1.1).
LocationType = Literal[
    "ON_STREET", "PARKING_GARAGE", "UNDERGROUND_GARAGE", "PARKING_LOT", "OTHER", "UNKNOWN"
]


class TemplateError(ValueError):
    """A template file is unreadable or does not match :class:`Template`."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ConnectorSpec(_Strict):
    """OCPI 2.2.1 Connector technical data (mod_locations §8.3.3)."""

    standard: str = Field(pattern=r"^[A-Z0-9_]+$")
    format: Literal["SOCKET", "CABLE"]
    power_type: Literal["AC_1_PHASE", "AC_2_PHASE", "AC_2_PHASE_SPLIT", "AC_3_PHASE", "DC"]
    max_voltage: int = Field(gt=0)
    max_amperage: int = Field(gt=0)
    max_electric_power: int = Field(gt=0)


class ChargerModel(_Strict):
    """A charger hardware model; ``outputs`` is the number of EVSEs (one connector each)."""

    vendor: str = Field(min_length=1, max_length=20)
    model: str = Field(min_length=1, max_length=20)
    ocpp_version: OcppVersion
    outputs: int = Field(ge=1, le=8)
    connector: ConnectorSpec


class ChargerGroup(_Strict):
    """``count`` chargers of one model at a location."""

    model: str
    count: int = Field(ge=1, le=99)


class LocationSpec(_Strict):
    """One OCPI Location; ``key`` is short and goes into ids (``^[A-Z0-9]{1,4}$``)."""

    key: str = Field(pattern=r"^[A-Z0-9]{1,4}$")
    name: str = Field(min_length=1, max_length=255)
    address: str = Field(min_length=1, max_length=45)
    city: str = Field(min_length=1, max_length=45)
    postal_code: str | None = Field(None, max_length=10)
    country: str = Field(pattern=r"^[A-Z]{3}$", description="ISO 3166-1 alpha-3")
    latitude: float = Field(ge=-90, le=90)
    longitude: float = Field(ge=-180, le=180)
    time_zone: str = Field(pattern=r"^[A-Za-z_]+(/[A-Za-z_+\-0-9]+)*$")
    location_type: LocationType = Field("UNKNOWN", description="OCPI 2.1.1 LocationType")
    chargers: tuple[ChargerGroup, ...] = Field(min_length=1)


class ParameterSpec(_Strict):
    """An integer parameter of a parameterised template (``template_params`` at create)."""

    default: int
    minimum: int = Field(ge=1)
    maximum: int = Field(ge=1)
    description: str = ""

    @model_validator(mode="after")
    def _default_in_range(self) -> ParameterSpec:
        if not self.minimum <= self.default <= self.maximum:
            raise ValueError("default must lie between minimum and maximum")
        return self


class GenerateSpec(_Strict):
    """How a parameterised template makes its locations.

    Location n (1-based) gets key ``key_prefix + n``, ``name``/``address`` with ``{n}``
    replaced, coordinates ``latitude``/``longitude`` shifted by ``n × step_degrees`` and
    ``chargers_param`` chargers of ``model``; ``locations_param`` says how many locations.
    """

    locations_param: str
    chargers_param: str
    model: str
    key_prefix: str = Field(pattern=r"^[A-Z]$")
    name: str = Field(min_length=1, max_length=200)
    address: str = Field(min_length=1, max_length=40)
    city: str = Field(min_length=1, max_length=45)
    postal_code: str | None = Field(None, max_length=10)
    country: str = Field(pattern=r"^[A-Z]{3}$")
    latitude: float = Field(ge=-80, le=80)
    longitude: float = Field(ge=-170, le=170)
    step_degrees: float = Field(0.001, ge=0, le=0.01)
    time_zone: str = Field(pattern=r"^[A-Za-z_]+(/[A-Za-z_+\-0-9]+)*$")
    location_type: LocationType = "UNKNOWN"


class Template(_Strict):
    """A whole network: charger models and the locations that use them (or a rule that
    generates them from ``parameters``)."""

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    version: int = Field(ge=1)
    description: str = ""
    owner_name: str = Field(min_length=1, max_length=100)
    models: Mapping[str, ChargerModel]
    locations: tuple[LocationSpec, ...] = ()
    parameters: Mapping[str, ParameterSpec] = Field(default_factory=dict)
    generate: GenerateSpec | None = None

    @property
    def parameterised(self) -> bool:
        return self.generate is not None

    def check_params(self, params: Mapping[str, int] | None) -> dict[str, int]:
        """Validate ``params`` against :attr:`parameters`; return them with defaults filled.

        Raises :class:`ValueError` for an unknown name or a value out of range.
        """
        given = dict(params or {})
        unknown = sorted(set(given) - set(self.parameters))
        if unknown:
            known = ", ".join(sorted(self.parameters)) or "none"
            raise ValueError(
                f"template {self.name!r} has no parameter {unknown[0]!r}; known: {known}"
            )
        resolved: dict[str, int] = {}
        for name, spec in self.parameters.items():
            value = given.get(name, spec.default)
            if not spec.minimum <= value <= spec.maximum:
                raise ValueError(
                    f"{name} must be between {spec.minimum} and {spec.maximum}, got {value}"
                )
            resolved[name] = value
        return resolved

    def expand(self, params: Mapping[str, int] | None = None) -> Template:
        """The concrete template for ``params`` (itself when not parameterised)."""
        values = self.check_params(params)
        rule = self.generate
        if rule is None:
            return self
        locations = tuple(
            LocationSpec(
                key=f"{rule.key_prefix}{n}",
                name=rule.name.replace("{n}", str(n)),
                address=rule.address.replace("{n}", str(n)),
                city=rule.city,
                postal_code=rule.postal_code,
                country=rule.country,
                latitude=round(rule.latitude + n * rule.step_degrees, 6),
                longitude=round(rule.longitude + n * rule.step_degrees, 6),
                time_zone=rule.time_zone,
                location_type=rule.location_type,
                chargers=(ChargerGroup(model=rule.model, count=values[rule.chargers_param]),),
            )
            for n in range(1, values[rule.locations_param] + 1)
        )
        return self.model_copy(update={"locations": locations, "generate": None})

    @model_validator(mode="after")
    def _references_resolve(self) -> Template:
        rule = self.generate
        if rule is None and not self.locations:
            raise ValueError("locations: a template needs at least one location")
        if rule is not None:
            if self.locations:
                raise ValueError("a template has either locations or generate, not both")
            for param in (rule.locations_param, rule.chargers_param):
                if param not in self.parameters:
                    raise ValueError(f"generate: unknown parameter {param!r}")
            if rule.model not in self.models:
                raise ValueError(f"generate: unknown charger model {rule.model!r}")
            if self.parameters[rule.locations_param].maximum > 999:
                raise ValueError("generate: at most 999 locations (keys are 4 characters)")
            if self.parameters[rule.chargers_param].maximum > 99:
                raise ValueError("generate: at most 99 chargers per location")
        keys = [loc.key for loc in self.locations]
        if len(set(keys)) != len(keys):
            raise ValueError(f"location keys must be unique, got {keys}")
        for loc in self.locations:
            for group in loc.chargers:
                if group.model not in self.models:
                    raise ValueError(f"location {loc.key}: unknown charger model {group.model!r}")
            if sum(group.count for group in loc.chargers) > 99:
                raise ValueError(f"location {loc.key}: more than 99 chargers")
        return self

    def topology(self, params: Mapping[str, int] | None = None) -> dict[str, int]:
        """Counts of locations, chargers, EVSEs and connectors one CPO of this template gets."""
        chargers = evses = 0
        concrete = self.expand(params)
        for loc in concrete.locations:
            for group in loc.chargers:
                chargers += group.count
                evses += group.count * self.models[group.model].outputs
        return {
            "locations": len(concrete.locations),
            "chargers": chargers,
            "evses": evses,
            # one connector per EVSE: the 1:1 model of the Gateway API
            "connectors": evses,
        }


def load_template(text: str, *, source: str = "<string>") -> Template:
    """Parse and validate one template from YAML text; raise :class:`TemplateError`."""
    try:
        raw = yaml.safe_load(text)
        return Template.model_validate(raw)
    except yaml.YAMLError as exc:
        raise TemplateError(f"{source}: not valid YAML: {exc}") from exc
    except ValidationError as exc:
        raise TemplateError(f"{source}: {exc}") from exc


@functools.cache
def builtin_catalog() -> Mapping[str, Template]:
    """The templates shipped with the gateway, by name (read once, immutable)."""
    found: dict[str, Template] = {}
    folder = resources.files(__package__).joinpath("templates")
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if not re.fullmatch(r"[a-z0-9-]+\.yaml", entry.name):
            continue
        template = load_template(entry.read_text(encoding="utf-8"), source=entry.name)
        if f"{template.name}.yaml" != entry.name:
            raise TemplateError(f"{entry.name}: name {template.name!r} must match the file name")
        found[template.name] = template
    return MappingProxyType(found)
