"""Network templates: YAML files describing the locations and chargers a CPO gets.

A template is validated into :class:`Template` when loaded; :func:`builtin_catalog` returns the
templates shipped in ``gateway/templates/*.yaml`` keyed by name. Expanding a template for one CPO
(identities, EVSE uids, eMI3 EVSE ids) is the job of :mod:`.provisioning`.
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
    "LocationSpec",
    "Template",
    "TemplateError",
    "builtin_catalog",
    "load_template",
]

OcppVersion = Literal["1.6", "2.0.1"]


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
    count: int = Field(ge=1, le=50)


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
    chargers: tuple[ChargerGroup, ...] = Field(min_length=1)


class Template(_Strict):
    """A whole network: charger models and the locations that use them."""

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    version: int = Field(ge=1)
    description: str = ""
    owner_name: str = Field(min_length=1, max_length=100)
    models: Mapping[str, ChargerModel]
    locations: tuple[LocationSpec, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _references_resolve(self) -> Template:
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

    def topology(self) -> dict[str, int]:
        """Counts of locations, chargers, EVSEs and connectors one CPO of this template gets."""
        chargers = evses = 0
        for loc in self.locations:
            for group in loc.chargers:
                chargers += group.count
                evses += group.count * self.models[group.model].outputs
        return {
            "locations": len(self.locations),
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
