"""Chargers from a provisioned template: create a CPO on a gateway, load it, delete it.

Without a gateway URL the embedded reference gateway runs in this process for the length of the
run. ``template_params`` (e.g. ``large-network`` ``locations`` / ``chargers_per_location``) go in
the create body (``POST /ocpi/cpos``). The CPO is deleted at the end whatever happened.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, Literal, cast

from ocpplab_sim.errors import GatewayApiError, InputError
from ocpplab_sim.gateway_client import GatewayClient, Party, Topology, csms_url_for, held_lease
from ocpplab_sim.launcher import embedded_gateway
from ocpplab_sim.load.worker import ChargerSpec

__all__ = ["ProvisionedNetwork", "parse_template_params", "provisioned"]

_INTEGER = re.compile(r"-?[0-9]+")


@dataclass(frozen=True)
class ProvisionedNetwork:
    cpo_id: str
    gateway_url: str
    csms_url: str
    chargers: tuple[ChargerSpec, ...]
    #: where an eMSP starts the OCPI handshake with the CPO (None: the gateway gave none)
    ocpi_versions_url: str | None = None
    token_a: str | None = None
    party: Party | None = None
    topology: Topology | None = None


def parse_template_params(items: list[str] | None) -> dict[str, Any]:
    """``["locations=10", "name=x"]`` → ``{"locations": 10, "name": "x"}`` (ints where they are)."""
    params: dict[str, Any] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise InputError(f"--template-param wants NAME=VALUE, got {item!r}")
        params[key] = int(value) if _INTEGER.fullmatch(value) else value
    return params


@contextlib.asynccontextmanager
async def provisioned(
    template: str,
    params: dict[str, Any],
    *,
    gateway_url: str | None,
    token: str,
    security_profile: int = 0,
    ready_timeout_s: float = 300.0,
    lease_s: float = 60.0,
) -> AsyncIterator[ProvisionedNetwork]:
    """Provision ``template`` and yield its chargers; the CPO is deleted on exit, always, and
    held on a ``lease_s`` lease meanwhile (where the gateway offers leases)."""
    async with contextlib.AsyncExitStack() as stack:
        if gateway_url is None:
            gateway_url = await stack.enter_async_context(embedded_gateway(token))
        client = await stack.enter_async_context(GatewayClient(gateway_url, token))
        try:
            cpo = await client.create_cpo(
                template,
                Party(country_code="NL", party_id="LDT"),
                name_prefix="load",
                ocpp_security_profile=security_profile,
                template_params=params or None,
            )
        except GatewayApiError as exc:
            raise InputError(
                f"the gateway refused template {template!r} with {params or 'no params'}: {exc}"
            ) from exc
        lease = contextlib.AsyncExitStack()
        try:
            # a load run killed outright leaves its CPO behind for one lease at most
            await lease.enter_async_context(held_lease(client, cpo.cpo_id, lease_s))
            await client.wait_ready(cpo.cpo_id, timeout_s=ready_timeout_s)
            chargers = tuple(
                ChargerSpec(
                    identity=info.identity,
                    ocpp_version=cast(Literal["1.6", "2.0.1"], info.ocpp_version),
                    evse_count=max(1, len(info.evse_uids)),
                    password=info.password,
                )
                for info in await client.chargers(cpo.cpo_id)
            )
            versions_url, token_a = cpo.ocpi_peer_url, cpo.token_a
            if cpo.roam_helper is not None:
                versions_url, token_a = cpo.roam_helper.versions_url, cpo.roam_helper.token_a
            yield ProvisionedNetwork(
                cpo.cpo_id,
                gateway_url,
                csms_url_for(gateway_url),
                chargers,
                ocpi_versions_url=versions_url or None,
                token_a=token_a,
                party=cpo.party,
                topology=await client.topology(cpo.cpo_id),
            )
        finally:
            await lease.aclose()  # no renewal after the delete
            await client.delete_cpo(cpo.cpo_id)
