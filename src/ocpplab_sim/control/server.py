"""The control API served on a loopback port while a fleet runs."""

from __future__ import annotations

import ipaddress
import logging
from types import TracebackType

from ocpplab_sim.asgi_serve import ServedApp
from ocpplab_sim.control.app import control_app
from ocpplab_sim.control.hub import ChargerRegistry

__all__ = ["ControlServer", "is_loopback"]

log = logging.getLogger("ocpplab_sim.control")


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class ControlServer:
    """``async with ControlServer(registry, port=0) as server:`` serves the control API and
    the console at ``server.url`` until the block ends; then every live frame stream ends
    and the server stops. The API has no authentication: keep it on a loopback address (the
    default) unless the network it listens on is yours. Raises :class:`ConnectivityError`
    when the port cannot be bound."""

    def __init__(
        self, registry: ChargerRegistry, *, host: str = "127.0.0.1", port: int = 0
    ) -> None:
        self.registry = registry
        self._served = ServedApp(control_app(registry), host=host, port=port, what="control API")

    @property
    def url(self) -> str:
        return self._served.url

    async def start(self) -> None:
        await self._served.start()

    async def stop(self) -> None:
        self.registry.close()
        await self._served.stop()

    async def __aenter__(self) -> ControlServer:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()
