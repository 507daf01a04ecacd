from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from ocpplab_sim.gateway import EmbeddedGateway, GatewaySettings

TOKEN = "test-gateway-token"


@pytest.fixture
def settings(tmp_path: Path) -> GatewaySettings:
    return GatewaySettings(
        token=TOKEN,
        db_url=f"sqlite+aiosqlite:///{tmp_path}/gateway.db",
        heartbeat_interval=42,
        ocpi_page_limit=2,
        expiry_sweep_interval=0.1,
    )


@pytest.fixture
async def gateway(settings: GatewaySettings) -> AsyncIterator[EmbeddedGateway]:
    async with EmbeddedGateway(settings) as gw:
        yield gw


@pytest.fixture
async def client(gateway: EmbeddedGateway) -> AsyncIterator[httpx.AsyncClient]:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    async with httpx.AsyncClient(base_url=gateway.url, headers=headers, timeout=10) as c:
        yield c
