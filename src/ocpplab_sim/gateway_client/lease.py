"""A short lease on a CPO, renewed while its user runs, so that a harness killed outright leaves
the CPO behind for one lease at most (``POST /ocpi/cpos/{cpo_id}/lease``; a gateway without the
route keeps the CPO until the TTL it was created with)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from collections.abc import AsyncIterator

from ocpplab_sim.errors import OcpplabError
from ocpplab_sim.gateway_client.client import GatewayClient

__all__ = ["held_lease"]

logger = logging.getLogger(__name__)


@contextlib.asynccontextmanager
async def held_lease(client: GatewayClient, cpo_id: str, lease_s: float) -> AsyncIterator[bool]:
    """Make the CPO expire ``lease_s`` after the last renewal, renewing every quarter of it
    while the block runs; yields whether the gateway offers leases. Leaving the block stops the
    renewals (the caller deletes the CPO, or it expires one lease later)."""
    ttl = max(1, math.ceil(lease_s))
    if await client.renew_lease(cpo_id, ttl) is None:
        logger.info("the gateway offers no lease: CPO %s lives until its TTL", cpo_id)
        yield False
        return

    async def renew() -> None:
        while True:
            await asyncio.sleep(ttl / 4)
            try:
                await client.renew_lease(cpo_id, ttl)
            except OcpplabError as exc:
                logger.warning("lease of CPO %s not renewed: %s", cpo_id, exc)

    task = asyncio.get_running_loop().create_task(renew(), name=f"lease {cpo_id}")
    try:
        yield True
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
