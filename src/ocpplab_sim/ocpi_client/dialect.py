"""What changes between OCPI versions on the wire, behind one interface.

The client speaks whatever :class:`OcpiDialect` the version negotiation picked. Only 2.2.1 exists
today; 2.1.1 differs in the ``Authorization`` header (raw token), the Credentials body (no
``roles``, party fields at the top) and endpoints without ``role`` — a ``V211Dialect`` implementing
the same methods, registered in :data:`DIALECTS`, is all it takes on this side.
"""

from __future__ import annotations

import base64
from abc import ABC, abstractmethod
from typing import Any, Protocol

from ocpplab_sim.ocpi_client.models import (
    BusinessDetails,
    Credentials,
    CredentialsRole,
    Endpoint,
    InterfaceRole,
    Role,
    VersionDetails,
)

__all__ = ["DIALECTS", "OcpiDialect", "PartyLike", "V221Dialect"]


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
    def parse_details(self, data: object) -> VersionDetails:
        """The version details ``data``; raises ``pydantic.ValidationError`` when malformed."""

    @abstractmethod
    def parse_credentials(self, data: object) -> Credentials:
        """The peer's Credentials ``data``; raises ``pydantic.ValidationError`` when malformed."""

    @abstractmethod
    def credentials_endpoint(self, details: VersionDetails) -> Endpoint | None:
        """The peer endpoint to register with, or ``None`` if it offers none."""

    @abstractmethod
    def locations_sender(self, details: VersionDetails) -> Endpoint | None:
        """The peer's Locations Sender endpoint (where an eMSP pulls), or ``None``."""


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

    def credentials_endpoint(self, details: VersionDetails) -> Endpoint | None:
        # Credentials is symmetric; peers list it as RECEIVER, SENDER or both. Either URL works.
        return details.endpoint("credentials", InterfaceRole.RECEIVER) or details.endpoint(
            "credentials", InterfaceRole.SENDER
        )

    def locations_sender(self, details: VersionDetails) -> Endpoint | None:
        return details.endpoint("locations", InterfaceRole.SENDER)


DIALECTS: dict[str, OcpiDialect] = {"2.2.1": V221Dialect()}
"""Supported versions in order of preference, newest first."""
