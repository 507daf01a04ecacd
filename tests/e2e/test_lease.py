"""A harness killed outright (SIGKILL: no teardown) leaves its CPO behind for one lease at most:
the runner renews a short lease while it runs, the gateway deletes what expires."""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

import httpx

from ocpplab_sim.gateway import EmbeddedGateway, GatewaySettings
from ocpplab_sim.gateway_client import GatewayClient, Party, held_lease
from tests.e2e.conftest import ROOT, TOKEN, _env, urban, write_scenario

LEASE_S = 3.0
SWEEP_S = 0.5


async def _status(client: httpx.AsyncClient, cpo_id: str) -> str:
    response = await client.get(f"/ocpi/cpos/{cpo_id}/status")
    return "gone" if response.status_code == 404 else str(response.json()["status"])


async def test_a_killed_harness_leaves_its_cpo_for_one_lease_at_most(tmp_path: Path) -> None:
    settings = GatewaySettings(
        token=TOKEN,
        db_url=f"sqlite+aiosqlite:///{tmp_path / 'gw.db'}",
        expiry_sweep_interval=SWEEP_S,
    )
    scenario = write_scenario(tmp_path, urban(["connect: all", "wait: 40s"]))
    async with (
        EmbeddedGateway(settings, host="127.0.0.1", port=0) as gateway,
        httpx.AsyncClient(
            base_url=gateway.url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10
        ) as client,
    ):
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "ocpplab_sim", "run", str(scenario),
            "--gateway-url", gateway.url, "--token", TOKEN, "--lease", f"{LEASE_S}s",
            cwd=ROOT, env=_env(),
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
        )  # fmt: skip
        try:
            cpo_id = ""
            async with asyncio.timeout(40):
                while not cpo_id:
                    await asyncio.sleep(0.2)
                    cpos = (await client.get("/ocpi/cpos")).json()["data"]
                    ready = [c for c in cpos if c["status"] == "ready"]
                    cpo_id = ready[0]["cpo_id"] if ready else ""
            # renewed while the harness runs: alive well past one lease
            await asyncio.sleep(2.5 * LEASE_S)
            assert await _status(client, cpo_id) == "ready"
            assert process.returncode is None  # still running its 40 s wait
        finally:
            if process.returncode is None:
                process.kill()  # SIGKILL: no teardown runs
            await process.wait()
        killed = time.monotonic()
        async with asyncio.timeout(LEASE_S + SWEEP_S + 5):
            while await _status(client, cpo_id) not in ("deleted", "gone"):  # noqa: ASYNC110
                await asyncio.sleep(0.1)  # polling the Gateway API is the point
        assert time.monotonic() - killed <= LEASE_S + SWEEP_S + 2


async def test_a_gateway_answers_lease_renewals(tmp_path: Path) -> None:
    settings = GatewaySettings(token=TOKEN, db_url=f"sqlite+aiosqlite:///{tmp_path / 'gw.db'}")
    async with (
        EmbeddedGateway(settings, host="127.0.0.1", port=0) as gateway,
        httpx.AsyncClient(
            base_url=gateway.url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10
        ) as client,
    ):
        body = {
            "template": "small-urban-ac",
            "party": {"country_code": "FR", "party_id": "ABC"},
        }
        cpo = (await client.post("/ocpi/cpos", json=body)).json()
        lease = await client.post(f"/ocpi/cpos/{cpo['cpo_id']}/lease", json={"ttl_seconds": 90})
        assert lease.status_code == 200
        assert lease.json()["cpo_id"] == cpo["cpo_id"]
        bad = await client.post(f"/ocpi/cpos/{cpo['cpo_id']}/lease", json={"ttl_seconds": 0})
        assert bad.status_code == 422
        unknown = await client.post("/ocpi/cpos/999999/lease", json={"ttl_seconds": 90})
        assert unknown.status_code == 404
        await client.delete(f"/ocpi/cpos/{cpo['cpo_id']}")
        gone = await client.post(f"/ocpi/cpos/{cpo['cpo_id']}/lease", json={"ttl_seconds": 9})
        assert gone.status_code == 409


async def test_a_held_lease_is_renewed_while_held_and_ends_after(tmp_path: Path) -> None:
    """What `run` and `load --template` hold on their CPO: alive past several leases while
    held, gone one lease (plus a sweep) after the holder lets go without deleting it."""
    settings = GatewaySettings(
        token=TOKEN, db_url=f"sqlite+aiosqlite:///{tmp_path / 'gw.db'}", expiry_sweep_interval=0.2
    )
    async with (
        EmbeddedGateway(settings, host="127.0.0.1", port=0) as gateway,
        GatewayClient(gateway.url, TOKEN) as client,
    ):
        cpo = await client.create_cpo("small-urban-ac", Party(country_code="FR", party_id="ABC"))
        async with held_lease(client, cpo.cpo_id, 1.0) as offered:
            assert offered
            await asyncio.sleep(3.0)  # three leases
            assert (await client.cpo_status(cpo.cpo_id)).status != "deleted"
        released = time.monotonic()
        async with asyncio.timeout(5):
            while (await client.cpo_status(cpo.cpo_id)).status != "deleted":  # noqa: ASYNC110
                await asyncio.sleep(0.05)
        assert time.monotonic() - released <= 1.0 + 0.2 + 1.0
