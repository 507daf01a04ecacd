"""What changes between OCPI versions on the wire, behind one interface.

The client speaks whatever :class:`OcpiDialect` the version negotiation picked:

* 2.2.1 — ``Authorization: Token base64(token)``, Credentials with ``roles``, endpoints with
  ``role`` (SENDER/RECEIVER), Connector ``max_voltage``/``max_amperage``.
* 2.1.1 — the raw token in the header, Credentials with ``business_details``/``party_id``/
  ``country_code`` at the top, endpoints without ``role``, Location ``type`` and ``postal_code``
  required, Connector ``voltage``/``amperage``.

Everything the rest of the harness reads goes through :meth:`OcpiDialect.neutral_connector`, which
gives a connector under its 2.2.1 field names whatever the version.
"""

from __future__ import annotations

import base64
from abc import ABC, abstractmethod
from typing import Any, Protocol

from pydantic import BaseModel, TypeAdapter

from ocpplab_sim.ocpi_client.models import (
    BusinessDetails,
    Credentials,
    Credentials211,
    CredentialsRole,
    Endpoint,
    Endpoint211,
    InterfaceRole,
    Location,
    Location211,
    Role,
    VersionDetails,
    VersionDetails211,
)

__all__ = ["DIALECTS", "OcpiDialect", "PartyLike", "V211Dialect", "V221Dialect"]


class PartyLike(Protocol):
    """Anything naming an OCPI party: ISO 3166 alpha-2 country code and a 3-character id."""

    @property
    def country_code(self) -> str: ...

    @property
    def party_id(self) -> str: ...


class OcpiDialect(ABC):
    """The version-specific parts of the eMSP side of OCPI."""

    version: str

    @abstractmethod
    def authorization(self, token: str) -> str:
        """The ``Authorization`` header value carrying ``token``."""

    @abstractmethod
    def credentials_body(
        self, *, token: str, url: str, party: PartyLike, business_name: str
    ) -> dict[str, Any]:
        """Our Credentials object for ``POST``/``PUT`` on the peer's credentials endpoint."""

    @abstractmethod
    def parse_details(self, data: object) -> VersionDetails | VersionDetails211:
        """The version details ``data``; raises ``pydantic.ValidationError`` when malformed."""

    @abstractmethod
    def parse_credentials(self, data: object) -> Credentials | Credentials211:
        """The peer's Credentials ``data``; raises ``pydantic.ValidationError`` when malformed."""

    @abstractmethod
    def credentials_endpoint(
        self, details: VersionDetails | VersionDetails211
    ) -> Endpoint | Endpoint211 | None:
        """The peer endpoint to register with, or ``None`` if it offers none."""

    @abstractmethod
    def locations_sender(
        self, details: VersionDetails | VersionDetails211
    ) -> Endpoint | Endpoint211 | None:
        """The peer's Locations Sender endpoint (where an eMSP pulls), or ``None``."""

    @property
    @abstractmethod
    def location_model(self) -> type[Location] | type[Location211]:
        """The Location object of this version."""

    def parse_locations(self, data: object) -> list[Location] | list[Location211]:
        """A list of Locations; raises ``pydantic.ValidationError`` when malformed."""
        adapter: TypeAdapter[Any] = TypeAdapter(list[self.location_model])  # type: ignore[name-defined]
        result: list[Location] | list[Location211] = adapter.validate_python(data)
        return result

    def neutral_connector(self, connector: BaseModel) -> dict[str, Any]:
        """A connector as a plain mapping under its OCPI 2.2.1 field names."""
        return connector.model_dump(mode="json")


class V221Dialect(OcpiDialect):
    """OCPI 2.2.1: Base64 token header, Credentials with ``roles``, endpoints with ``role``."""

    version = "2.2.1"

    def authorization(self, token: str) -> str:
        # 2.2.1 transport_and_format, Authorization header: the header carries the token
        # Base64-encoded, while the token inside Credentials objects stays plain.
        return "Token " + base64.b64encode(token.encode("utf-8")).decode("ascii")

    def credentials_body(
        self, *, token: str, url: str, party: PartyLike, business_name: str
    ) -> dict[str, Any]:
        creds = Credentials(
            token=token,
            url=url,
            roles=[
                CredentialsRole(
                    role=Role.EMSP,
                    business_details=BusinessDetails(name=business_name),
                    party_id=party.party_id,
                    country_code=party.country_code,
                )
            ],
        )
        return creds.model_dump(mode="json", exclude_none=True)

    def parse_details(self, data: object) -> VersionDetails:
        return VersionDetails.model_validate(data)

    def parse_credentials(self, data: object) -> Credentials:
        return Credentials.model_validate(data)

    def credentials_endpoint(self, details: VersionDetails | VersionDetails211) -> Endpoint | None:
        assert isinstance(details, VersionDetails)
        # Credentials is symmetric; peers list it as RECEIVER, SENDER or both. Either URL works.
        return details.endpoint("credentials", InterfaceRole.RECEIVER) or details.endpoint(
            "credentials", InterfaceRole.SENDER
        )

    def locations_sender(self, details: VersionDetails | VersionDetails211) -> Endpoint | None:
        assert isinstance(details, VersionDetails)
        return details.endpoint("locations", InterfaceRole.SENDER)

    @property
    def location_model(self) -> type[Location]:
        return Location


class V211Dialect(OcpiDialect):
    """OCPI 2.1.1: raw token header, one-party Credentials, endpoints without ``role``."""

    version = "2.1.1"

    def authorization(self, token: str) -> str:
        # 2.1.1 transport_and_format: "Authorization: Token <token>", not encoded.
        return f"Token {token}"

    def credentials_body(
        self, *, token: str, url: str, party: PartyLike, business_name: str
    ) -> dict[str, Any]:
        creds = Credentials211(
            token=token,
            url=url,
            business_details=BusinessDetails(name=business_name),
            party_id=party.party_id,
            country_code=party.country_code,
        )
        return creds.model_dump(mode="json", exclude_none=True)

    def parse_details(self, data: object) -> VersionDetails211:
        return VersionDetails211.model_validate(data)

    def parse_credentials(self, data: object) -> Credentials211:
        return Credentials211.model_validate(data)

    def credentials_endpoint(
        self, details: VersionDetails | VersionDetails211
    ) -> Endpoint211 | None:
        assert isinstance(details, VersionDetails211)
        return details.endpoint("credentials")

    def locations_sender(self, details: VersionDetails | VersionDetails211) -> Endpoint211 | None:
        assert isinstance(details, VersionDetails211)
        # Without roles, a CPO's "locations" endpoint is the one an eMSP pulls from.
        return details.endpoint("locations")

    @property
    def location_model(self) -> type[Location211]:
        return Location211

    def neutral_connector(self, connector: BaseModel) -> dict[str, Any]:
        data = connector.model_dump(mode="json")
        data["max_voltage"] = data.pop("voltage", None)
        data["max_amperage"] = data.pop("amperage", None)
        return data


DIALECTS: dict[str, OcpiDialect] = {"2.2.1": V221Dialect(), "2.1.1": V211Dialect()}
"""Supported versions in order of preference, newest first."""
