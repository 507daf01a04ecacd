"""Durability: schema migrations, a gateway killed mid-provisioning and after provisioning,
idempotent create across restarts, provisioning that cannot resume fails cleanly."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import signal
import sqlite3
from pathlib import Path
from typing import Any

import httpx
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection, inspect, select

from ocpplab_sim.gateway import EmbeddedGateway, GatewaySettings
from ocpplab_sim.gateway.db import Cpo, Database
from ocpplab_sim.gateway.models import Base
from ocpplab_sim.gateway.provisioning import Provisioner
from ocpplab_sim.gateway.templates import builtin_catalog

from .support import gateway_process, now_text, ocpp_client, wait_until

TOKEN = "durable-token"
HEADERS = {"Authorization": f"Bearer {TOKEN}"}
BODY: dict[str, Any] = {
    "template": "large-network",
    "template_params": {"locations": 6, "chargers_per_location": 5},
    "party": {"country_code": "DE", "party_id": "DUR"},
    "idempotency_key": "restart-1",
}


def _rows(db_file: Path, table: str) -> int:
    with sqlite3.connect(db_file) as conn:
        (count,) = conn.execute(f"SELECT count(*) FROM {table}").fetchone()
    return int(count)


async def _status(client: httpx.AsyncClient, cpo_id: str) -> dict[str, Any]:
    result: dict[str, Any] = (await client.get(f"/ocpi/cpos/{cpo_id}/status")).json()
    return result


async def _all_locations(client: httpx.AsyncClient, cpo_id: str) -> list[dict[str, Any]]:
    body = (await client.get(f"/ocpi/cpos/{cpo_id}/locations", params={"limit": 500})).json()
    data: list[dict[str, Any]] = body["data"]
    assert body["total"] == len(data)
    return data


async def test_kill_mid_provisioning_then_restart_resumes(tmp_path: Path):
    db_file = tmp_path / "gw.db"
    db_url = f"sqlite+aiosqlite:///{db_file}"
    code = (
        "from ocpplab_sim.gateway import GatewaySettings, serve\n"
        f"serve(GatewaySettings(token={TOKEN!r}, db_url={db_url!r},"
        " provisioning_hold_open=60), '127.0.0.1', 0)\n"
    )
    async with gateway_process("-c", code) as (proc, url):
        async with httpx.AsyncClient(base_url=url, headers=HEADERS) as client:
            created = (await client.post("/ocpi/cpos", json=BODY)).json()
            cpo_id = created["cpo_id"]
            assert created["topology"] == {
                "locations": 6,
                "chargers": 30,
                "evses": 30,
                "connectors": 30,
            }
            await wait_until(
                lambda: _status(client, cpo_id), lambda s: s["status"] == "provisioning"
            )
        proc.send_signal(signal.SIGKILL)
        await proc.wait()
    # The network is written in one transaction with the "ready" flip: nothing of it landed.
    assert _rows(db_file, "locations") == 0
    assert _rows(db_file, "chargers") == 0
    assert _rows(db_file, "evses") == 0

    settings = GatewaySettings(token=TOKEN, db_url=db_url)
    async with (
        EmbeddedGateway(settings) as gw,
        httpx.AsyncClient(base_url=gw.url, headers=HEADERS) as client,
    ):
        await wait_until(lambda: _status(client, cpo_id), lambda s: s["status"] == "ready")
        locations = await _all_locations(client, cpo_id)
        assert [loc["id"] for loc in locations] == [f"{cpo_id}-N{n}" for n in range(1, 7)]
        identities = [ch["identity"] for loc in locations for ch in loc["chargers"]]
        assert len(identities) == len(set(identities)) == 30
        # The same idempotency key still names the same CPO after the restart.
        again = await client.post("/ocpi/cpos", json=BODY)
        assert again.status_code == 202 and again.json()["cpo_id"] == cpo_id
        async with ocpp_client(gw.url, identities[-1], "1.6") as cp:
            await cp.boot()
    assert _rows(db_file, "chargers") == 30
    assert _rows(db_file, "cpos") == 1


async def test_kill_after_provisioning_keeps_everything(tmp_path: Path):
    db_file = tmp_path / "gw.db"
    db_url = f"sqlite+aiosqlite:///{db_file}"
    argv = ["-m", "ocpplab_sim", "gateway", "serve", "--port", "0", "--db", db_url]
    async with (
        gateway_process(*argv, "--token", TOKEN) as (proc, url),
        httpx.AsyncClient(base_url=url, headers=HEADERS) as client,
    ):
        created = (
            await client.post(
                "/ocpi/cpos", json={**BODY, "template": "mixed-depot", "template_params": None}
            )
        ).json()
        cpo_id = created["cpo_id"]
        await wait_until(lambda: _status(client, cpo_id), lambda s: s["status"] == "ready")
        before = await _all_locations(client, cpo_id)
        identity = before[0]["chargers"][0]["identity"]
        async with ocpp_client(url, identity, "1.6") as cp:
            await cp.boot()
            await cp.status(1, "Available")
            proc.send_signal(signal.SIGKILL)
            await proc.wait()

    settings = GatewaySettings(token=TOKEN, db_url=db_url)
    async with (
        EmbeddedGateway(settings) as gw,
        httpx.AsyncClient(base_url=gw.url, headers=HEADERS) as client,
    ):
        assert (await _status(client, cpo_id))["status"] == "ready"
        after = await _all_locations(client, cpo_id)
        for loc in (*before, *after):
            loc.pop("updated_at")
        assert after == before
        report = (await client.get(f"/ocpi/cpos/{cpo_id}/report")).json()
        evse = report["evses"][0]
        # The AVAILABLE report survived; start-up marked the charger offline (nobody is connected).
        assert [h["ocpi_status"] for h in evse["history"]] == ["AVAILABLE", "UNKNOWN"]
        assert evse["ocpi_status"] == "UNKNOWN" and evse["online"] is False
        assert report["messages"] == {"BootNotification": 1, "StatusNotification": 1}


async def test_unresumable_provisioning_fails_cleanly(tmp_path: Path):
    db = Database(f"sqlite+aiosqlite:///{tmp_path}/gw.db")
    await db.migrate()
    try:
        catalog = builtin_catalog()
        provisioner = Provisioner(db, catalog, _clock, _no_disconnect)
        from ocpplab_sim.gateway.api_models import CpoCreate

        body = CpoCreate.model_validate(
            {"template": "highway-dc", "party": {"country_code": "FR", "party_id": "ABC"}}
        )
        cpo, _ = await provisioner.create(body)
        await provisioner.aclose()  # stopped before it ran: the CPO stays pending
        async with db.write() as session:
            row = await session.get_one(Cpo, cpo.id)
            if row.status == "ready":
                pytest.skip("provisioning finished before it could be interrupted")
            row.template = "withdrawn-template"
        restarted = Provisioner(db, catalog, _clock, _no_disconnect)
        await restarted.resume()

        async def status() -> str | None:
            async with db.read() as session:
                return await session.scalar(select(Cpo.status).where(Cpo.id == cpo.id))

        assert await wait_until(status, lambda s: s == "failed") == "failed"
        async with db.read() as session:
            row = await session.get_one(Cpo, cpo.id)
        assert row.error is not None and "withdrawn-template" in row.error
        await restarted.aclose()
    finally:
        await db.dispose()


def _clock():  # type: ignore[no-untyped-def]
    from ocpplab_sim.gateway.db import utc_now

    return utc_now()


async def _no_disconnect(cpo_id: int) -> None:
    return None


def _diff(conn: Connection) -> list[Any]:
    return list(compare_metadata(MigrationContext.configure(conn), Base.metadata))


async def test_migrations_match_models_and_upgrade_legacy_schema(tmp_path: Path):
    db = Database(f"sqlite+aiosqlite:///{tmp_path}/gw.db")
    try:
        await db.migrate()
        async with db.engine.connect() as conn:
            assert await conn.run_sync(_diff) == []
        await db.downgrade("base")
        async with db.engine.connect() as conn:
            tables = await conn.run_sync(lambda c: inspect(c).get_table_names())
        assert set(tables) <= {"alembic_version"}
        # A database made by create_all of the first version (revision 0001, no version table).
        await db.migrate("0001")
        async with db.engine.begin() as conn:
            await conn.exec_driver_sql("DROP TABLE alembic_version")
        await db.migrate()
        async with db.engine.connect() as conn:
            assert await conn.run_sync(_diff) == []
    finally:
        await db.dispose()


@pytest.mark.skipif(
    not os.environ.get("OCPPLAB_TEST_POSTGRES_URL"),
    reason="set OCPPLAB_TEST_POSTGRES_URL=postgresql+asyncpg://user:pw@host/db to test PostgreSQL",
)
async def test_postgresql_end_to_end():
    url = os.environ["OCPPLAB_TEST_POSTGRES_URL"]
    db = Database(url)
    try:
        await db.downgrade("base")  # a clean slate, and the downgrade path exercised
        await db.migrate()
        async with db.engine.connect() as conn:
            assert await conn.run_sync(_diff) == []
    finally:
        await db.dispose()
    settings = GatewaySettings(token=TOKEN, db_url=url)
    for _ in range(2):  # the second round runs on the database the first one left
        async with (
            EmbeddedGateway(settings) as gw,
            httpx.AsyncClient(base_url=gw.url, headers=HEADERS) as client,
        ):
            created = await client.post(
                "/ocpi/cpos",
                json={
                    **BODY,
                    "idempotency_key": None,
                    "template_params": {"locations": 2, "chargers_per_location": 2},
                },
            )
            cpo_id = created.json()["cpo_id"]
            await wait_until(
                lambda cpo_id=cpo_id: _status(client, cpo_id), lambda s: s["status"] == "ready"
            )
            locations = await _all_locations(client, cpo_id)
            identity = locations[1]["chargers"][1]["identity"]
            async with ocpp_client(gw.url, identity, "1.6") as cp:
                await cp.boot()
                await cp.status(1, "Charging")
                await cp.call("Heartbeat", {})
                # the counts are committed by now (the report waits for the writer) ...
                first = (await client.get(f"/ocpi/cpos/{cpo_id}/report")).json()["messages"]
                await cp.call("Heartbeat", {})  # ... and this one adds to a stored count
            report = (await client.get(f"/ocpi/cpos/{cpo_id}/report")).json()
            evse = next(e for e in report["evses"] if e["station_id"] == identity)
            assert [h["ocpi_status"] for h in evse["history"]][:1] == ["CHARGING"]
            assert first == {"BootNotification": 1, "StatusNotification": 1, "Heartbeat": 1}
            assert report["messages"] == {**first, "Heartbeat": 2}


async def test_kill_under_load_loses_nothing_acknowledged(tmp_path: Path):
    """Twenty chargers send StatusNotifications and StartTransactions back to back; the gateway
    is killed (SIGKILL) once 400 answers arrived. Every answered StartTransaction's id and every
    answered status is in the database afterwards (group commit: answers follow the commit)."""
    db_file = tmp_path / "gw.db"
    db_url = f"sqlite+aiosqlite:///{db_file}"
    argv = ["-m", "ocpplab_sim", "gateway", "serve", "--port", "0", "--db", db_url]
    acked_tx: set[int] = set()
    acked_status: dict[str, int] = {}  # identity -> answered StatusNotifications
    enough = asyncio.Event()
    async with gateway_process(*argv, "--token", TOKEN) as (proc, url):
        async with httpx.AsyncClient(base_url=url, headers=HEADERS, timeout=30) as client:
            body = {**BODY, "idempotency_key": None}
            body["template_params"] = {"locations": 2, "chargers_per_location": 10}
            cpo_id = (await client.post("/ocpi/cpos", json=body)).json()["cpo_id"]
            await wait_until(lambda: _status(client, cpo_id), lambda s: s["status"] == "ready")
            identities = [
                ch["identity"]
                for loc in await _all_locations(client, cpo_id)
                for ch in loc["chargers"]
            ]

        async def charge(identity: str) -> None:
            with contextlib.suppress(Exception):  # the kill ends every connection somewhere
                async with ocpp_client(url, identity, "1.6") as cp:
                    await cp.boot()
                    for n in itertools.count():
                        await cp.status(1, "Charging" if n % 2 else "Available")
                        acked_status[identity] = acked_status.get(identity, 0) + 1
                        answer = await cp.call(
                            "StartTransaction",
                            {
                                "connectorId": 1,
                                "idTag": "T",
                                "meterStart": n,
                                "timestamp": now_text(),
                            },
                        )
                        acked_tx.add(int(answer["transactionId"]))
                        if sum(acked_status.values()) + len(acked_tx) >= 400:
                            enough.set()

        tasks = [asyncio.create_task(charge(identity)) for identity in identities]
        await asyncio.wait_for(enough.wait(), 60)
        proc.send_signal(signal.SIGKILL)
        await proc.wait()
        await asyncio.gather(*tasks)
    with sqlite3.connect(db_file) as conn:
        stored_tx = {pk for (pk,) in conn.execute("SELECT pk FROM ocpp_transactions")}
        stored_status = dict(
            conn.execute(
                "SELECT c.identity, count(*) FROM evse_status_history h"
                " JOIN evses e ON e.pk = h.evse_pk JOIN chargers c ON c.pk = e.charger_pk"
                " WHERE h.ocpp_status IS NOT NULL GROUP BY c.identity"
            ).fetchall()
        )
    assert len(acked_tx) > 0 and acked_tx <= stored_tx
    for identity, answered in acked_status.items():
        assert stored_status.get(identity, 0) >= answered, identity
