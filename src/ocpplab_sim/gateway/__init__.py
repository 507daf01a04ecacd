"""The embedded reference gateway: OCPPLab Gateway API + OCPP central system + OCPI CPO side.

Stands alone (imports nothing else from ``ocpplab_sim``); the harness reaches it only over the
network. The wire contract is ``docs/reference-gateway.md``.

Public API::

    GatewaySettings   settings (token, db_url, heartbeat_interval, public_base_url, ...)
    create_app        settings -> FastAPI app
    EmbeddedGateway   async context manager running the app in the current event loop
    serve             blocking server for the command line (SIGINT/SIGTERM stop it)
"""

from .app import create_app
from .server import EmbeddedGateway, GatewayStartError, serve
from .settings import GatewaySettings

__all__ = ["EmbeddedGateway", "GatewaySettings", "GatewayStartError", "create_app", "serve"]
