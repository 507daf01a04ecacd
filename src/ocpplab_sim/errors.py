"""One exception tree for the whole harness.

Third-party errors (httpx, websockets, pydantic, yaml) are translated at the edge that
meets them, with ``raise ... from exc``, so callers only ever catch these::

    OcpplabError
    ├── InputError                  bad input from the user: exit code 2
    │   └── ScenarioError           a scenario file's problems (file:line:column, field)
    ├── ConnectivityError           the platform under test could not be used: exit code 3
    │   ├── GatewayUnreachable      nothing answers at the gateway URL
    │   ├── GatewayApiError         the Gateway API answered with an error status
    │   ├── ProvisioningError       a CPO did not become ready (failed or timed out)
    │   ├── CsmsUnreachable         a charge point could not open its websocket
    │   └── OcpiError               the OCPI peer refused or answered outside the protocol
    ├── ChargePointError            a simulated charge point could not do what it was asked
    │   ├── OcppCallError           the central system answered a CALL with a CALLERROR
    │   └── OcppCallTimeout         the central system did not answer a CALL in time
    └── WaitTimeout                 an awaited status or message did not come in time (Python
                                    API; also a TimeoutError)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
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
    "ScenarioIssue",
    "WaitTimeout",
]


class OcpplabError(Exception):
    """Base of every error the harness raises on purpose."""

    exit_code: int = 1


class InputError(OcpplabError):
    """The user's input (arguments, files) is invalid. Exit code 2."""

    exit_code = 2


@dataclass(frozen=True)
class ScenarioIssue:
    """One problem in a scenario file, located as precisely as the YAML allows.

    ``line`` and ``column`` are 1-based; either may be ``None`` when unknown. ``field`` is the
    dotted path of the offending value (``steps[2].expect_ocpi.status``).
    """

    message: str
    path: str | None = None
    line: int | None = None
    column: int | None = None
    field: str | None = None

    def __str__(self) -> str:
        where = self.path or "<scenario>"
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        field = f" {self.field}:" if self.field else ""
        return f"{where}:{field} {self.message}"


class ScenarioError(InputError):
    """A scenario file is invalid; ``issues`` lists every problem found, in file order.

    ``str()`` gives one ``file:line:column: field: message`` line per issue, so editors can jump
    to it.
    """

    def __init__(self, issues: Sequence[ScenarioIssue]) -> None:
        if not issues:
            raise ValueError("ScenarioError needs at least one issue")
        self.issues = tuple(issues)
        super().__init__("\n".join(str(issue) for issue in self.issues))

    @classmethod
    def single(
        cls,
        message: str,
        *,
        path: Path | str | None = None,
        line: int | None = None,
        column: int | None = None,
        field: str | None = None,
    ) -> ScenarioError:
        """Build the error for one issue."""
        where = str(path) if path is not None else None
        return cls([ScenarioIssue(message, where, line, column, field)])


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


class WaitTimeout(OcpplabError, TimeoutError):
    """What a test awaited (a charge point's status, a CALL from the central system, an OCPI
    status) did not happen in time; the message names the last state seen."""
