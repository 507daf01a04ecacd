"""One exception tree for the whole harness.

Third-party errors (httpx, websockets, pydantic, yaml) are translated at the edge that
meets them, with ``raise ... from exc``, so callers only ever catch these::

    OcpplabError
    ├── InputError                  bad input from the user: exit code 2
    │   └── ScenarioError           a scenario file problem, with file:line:column and field
    ├── ConnectivityError           the platform under test could not be used: exit code 3
    │   ├── GatewayUnreachable      nothing answers at the gateway URL
    │   ├── GatewayApiError         the Gateway API answered with an error status
    │   ├── ProvisioningError       a CPO did not become ready (failed or timed out)
    │   ├── CsmsUnreachable         a charge point could not open its websocket
    │   └── OcpiError               the OCPI peer refused or answered outside the protocol
    └── ChargePointError            a simulated charge point could not do what it was asked
        ├── OcppCallError           the central system answered a CALL with a CALLERROR
        └── OcppCallTimeout         the central system did not answer a CALL in time
"""

from __future__ import annotations

from pathlib import Path

__all__ = [
    "ChargePointError",
    "ConnectivityError",
    "CsmsUnreachable",
    "GatewayApiError",
    "GatewayUnreachable",
    "InputError",
    "OcpiError",
    "OcppCallError",
    "OcppCallTimeout",
    "OcpplabError",
    "ProvisioningError",
    "ScenarioError",
]


class OcpplabError(Exception):
    """Base of every error the harness raises on purpose."""

    exit_code: int = 1


class InputError(OcpplabError):
    """The user's input (arguments, files) is invalid. Exit code 2."""

    exit_code = 2


class ScenarioError(InputError):
    """A scenario file is invalid.

    ``str()`` gives ``file:line:column: field: message`` so editors can jump to it.
    ``line`` and ``column`` are 1-based; either may be ``None`` when unknown.
    """

    def __init__(
        self,
        message: str,
        *,
        path: Path | str | None = None,
        line: int | None = None,
        column: int | None = None,
        field: str | None = None,
    ) -> None:
        self.message = message
        self.path = str(path) if path is not None else None
        self.line = line
        self.column = column
        self.field = field
        super().__init__(self.__str__())

    def __str__(self) -> str:
        where = self.path or "<scenario>"
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        field = f" {self.field}:" if self.field else ""
        return f"{where}:{field} {self.message}"


class ConnectivityError(OcpplabError):
    """The gateway, central system or OCPI peer could not be used. Exit code 3."""

    exit_code = 3


class GatewayUnreachable(ConnectivityError):
    """Nothing answered at the gateway URL (connection refused, DNS, timeout)."""


class GatewayApiError(ConnectivityError):
    """The Gateway API answered with an HTTP error status."""

    def __init__(self, message: str, *, status_code: int, detail: object = None) -> None:
        self.status_code = status_code
        self.detail = detail
        super().__init__(message)


class ProvisioningError(ConnectivityError):
    """A CPO did not reach the ready state (it failed, or the wait timed out)."""


class CsmsUnreachable(ConnectivityError):
    """A charge point could not open its websocket to the central system."""


class OcpiError(ConnectivityError):
    """The OCPI peer refused a request or answered outside the protocol."""

    def __init__(self, message: str, *, status_code: int | None = None) -> None:
        self.status_code = status_code
        super().__init__(message)


class ChargePointError(OcpplabError):
    """A simulated charge point could not carry out an action."""


class OcppCallError(ChargePointError):
    """The central system answered a CALL with a CALLERROR."""

    def __init__(self, action: str, error_code: str, description: str = "") -> None:
        self.action = action
        self.error_code = error_code
        self.description = description
        super().__init__(f"{action} answered with CALLERROR {error_code}: {description}")


class OcppCallTimeout(ChargePointError):
    """The central system did not answer a CALL within the timeout."""
