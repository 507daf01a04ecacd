"""The ASGI application: Gateway API, OCPP central system and OCPI CPO side on one port.

:func:`create_app` builds the FastAPI app. Its lifespan migrates the database to the newest
schema revision, marks every charger offline (nothing is connected yet), resumes unfinished
provisioning and starts the background tasks (write-behind writer, expiry sweeper, heartbeat
watchdog, OCPI pusher). Shutdown cancels those tasks, commits what the writer still holds,
closes the HTTP client used towards eMSPs and disposes the database engine.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Mapping
from datetime import datetime

import aiohttp
from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler, request_validation_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from . import api, api_chargers, api_events, csms, ocpi, ocpi_211
from .connections import ConnectionRegistry
from .context import GatewayContext
from .db import Database, utc_now
from .limits import BodySizeLimit
from .liveness import watch_heartbeats
from .metrics import CONTENT_TYPE, GatewayMetrics
from .provisioning import Provisioner
from .pusher import Pusher
from .settings import GatewaySettings
from .station_store import EvseChange, StationStore
from .templates import Template, builtin_catalog
from .writer import Writer

__all__ = ["create_app"]

_OCPI_PREFIX = "/ocpi/peer/"


def create_app(
    settings: GatewaySettings,
    *,
    clock: Callable[[], datetime] = utc_now,
    catalog: Mapping[str, Template] | None = None,
) -> FastAPI:
    """Build the gateway app. ``clock`` must return aware UTC datetimes; ``catalog`` defaults
    to the built-in templates. The app keeps its state in ``app.state.gateway`` while running.
    """
    templates = builtin_catalog() if catalog is None else catalog

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        db = Database(settings.db_url)
        registry = ConnectionRegistry()
        # Pushes are bounded by push_concurrency; a few more connections for discovery.
        http = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=settings.peer_timeout),
            connector=aiohttp.TCPConnector(limit=settings.push_concurrency + 8),
        )
        try:
            await db.migrate()
            writer = Writer(db)
            pusher = Pusher(db, http, settings, clock, writer)
            metrics: GatewayMetrics = app.state.metrics
            pusher.on_pushed = metrics.pushed

            def changed(changes: list[EvseChange]) -> None:
                for change in changes:
                    metrics.committed(change.last_updated)
                pusher.notify(changes)

            stations = StationStore(
                db,
                clock,
                on_change=changed,
                writer=writer,
                max_unknown_identity_events=settings.max_unknown_identity_events,
                max_events_per_cpo=settings.max_events_per_cpo,
            )
            await stations.reset_connectivity()
            writer.start()
            metrics.connections_now = lambda: len(registry.sessions())
            metrics.live_chargers_now = lambda: stations.live_chargers
            metrics.messages_now = lambda: stations.totals
            metrics.write_queue_now = lambda: writer.depth
            metrics.committed_now = lambda: writer.committed
            metrics.push_queue_now = lambda: pusher.depth

            async def deleted(cpo_id: int) -> None:
                pusher.forget(cpo_id)
                await registry.close_cpo(cpo_id)

            provisioner = Provisioner(
                db,
                templates,
                clock,
                deleted,
                hold_open=settings.provisioning_hold_open,
            )
            app.state.gateway = GatewayContext(
                settings=settings,
                db=db,
                catalog=templates,
                clock=clock,
                stations=stations,
                registry=registry,
                provisioner=provisioner,
                http=http,
                pusher=pusher,
            )
            await provisioner.resume()
            loop = asyncio.get_running_loop()
            background = [
                loop.create_task(
                    provisioner.run_expiry_sweeper(settings.expiry_sweep_interval),
                    name="gateway-expiry-sweeper",
                ),
                loop.create_task(
                    watch_heartbeats(settings, registry, stations), name="gateway-heartbeats"
                ),
            ]
            try:
                yield
            finally:
                for task in background:
                    task.cancel()
                await asyncio.gather(*background, return_exceptions=True)
                await registry.close_all()
                await provisioner.aclose()
                await pusher.aclose()
                await writer.aclose()  # commits what the closes queued
        finally:
            await http.close()
            await db.dispose()

    app = FastAPI(
        title="OCPPLab reference gateway",
        version="1.0.0",
        description=(
            "OCPPLab Gateway API (/ocpi/cpos), OCPP 1.6J/2.0.1 central system (/ocpp/{identity})"
            " and OCPI 2.2.1/2.1.1 CPO side (/ocpi/peer/{cpo_id})."
        ),
        lifespan=lifespan,
    )
    app.state.metrics = GatewayMetrics(clock)

    @app.get("/metrics", include_in_schema=False)
    async def prometheus_metrics() -> Response:
        """The gateway's figures in the Prometheus text format (see ``gateway/metrics.py``)."""
        return Response(app.state.metrics.exposition(), media_type=CONTENT_TYPE)

    app.include_router(api.router)
    app.include_router(api_chargers.router)
    app.include_router(api_events.router)
    app.include_router(ocpi.router)
    app.include_router(ocpi_211.router)
    app.include_router(csms.router)

    async def on_ocpi_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ocpi.OcpiError)
        return ocpi.ocpi_error_response(request, exc)

    async def on_validation_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        if request.url.path.startswith(_OCPI_PREFIX):
            # OCPI peers expect the envelope: 2001 "invalid or missing parameters".
            detail = "; ".join(
                f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
            )
            return ocpi.ocpi_error_response(request, ocpi.OcpiError(400, 2001, detail))
        return await request_validation_exception_handler(request, exc)

    async def on_http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        if request.url.path.startswith(_OCPI_PREFIX) and exc.status_code < 500:
            # No such route (404) or method (405) under the OCPI prefix: the envelope with
            # 2000 "generic client error" (2003 is for an unknown object, raised as OcpiError).
            error = ocpi.OcpiError(exc.status_code, 2000, str(exc.detail))
            response = ocpi.ocpi_error_response(request, error)
            for name, value in (exc.headers or {}).items():
                response.headers.setdefault(name, value)
            return response
        return await http_exception_handler(request, exc)

    async def on_unexpected(request: Request, exc: Exception) -> Response:
        # Starlette re-raises after this handler, so the traceback is still logged.
        return JSONResponse({"detail": "internal server error"}, status_code=500)

    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    app.add_exception_handler(ocpi.OcpiError, on_ocpi_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(StarletteHTTPException, on_http_error)
    app.add_exception_handler(Exception, on_unexpected)
    return app
