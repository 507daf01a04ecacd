"""OCPI status push (mod_locations §8.2.2 PATCH) to the registered eMSP's Locations receiver."""

from __future__ import annotations

import base64
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx

from ocpplab_sim.emsp.receiver import EmspReceiver
from ocpplab_sim.gateway import EmbeddedGateway, GatewaySettings
from ocpplab_sim.ocpi_client import OcpiClient

from .conftest import TOKEN
from .support import assert_utc_timestamp, ocpp_client, provision, recording_emsp, wait_until

TOKEN_B = "emsp-token-b-push"


@contextlib.asynccontextmanager
async def _gateway(settings: GatewaySettings, **changes: Any) -> AsyncIterator[httpx.AsyncClient]:
    fast = settings.model_copy(update={"push_backoff": 0.05, **changes})
    async with EmbeddedGateway(fast) as gw:
        headers = {"Authorization": f"Bearer {TOKEN}"}
        async with httpx.AsyncClient(base_url=gw.url, headers=headers, timeout=10) as client:
            yield client


async def _register(client: httpx.AsyncClient, cpo: dict[str, Any], emsp_url: str) -> None:
    token_a = base64.b64encode(cpo["token_a"].encode()).decode()
    body = {
        "token": TOKEN_B,
        "url": emsp_url,
        "roles": [
            {
                "role": "EMSP",
                "business_details": {"name": "Test eMSP"},
                "party_id": "EMS",
                "country_code": "NL",
            }
        ],
    }
    posted = await client.post(
        f"/ocpi/peer/{cpo['cpo_id']}/2.2.1/credentials",
        json=body,
        headers={"Authorization": f"Token {token_a}"},
    )
    assert posted.status_code == 200, posted.text


async def _report(client: httpx.AsyncClient, cpo_id: str) -> dict[str, Any]:
    result: dict[str, Any] = (await client.get(f"/ocpi/cpos/{cpo_id}/report")).json()
    return result


async def test_status_changes_are_patched_in_order_with_retries(settings: GatewaySettings):
    async with _gateway(settings) as client, recording_emsp() as emsp:
        cpo = await provision(client, "small-urban-ac")
        cpo_id = cpo["cpo_id"]
        await _register(client, cpo, emsp.versions_url)
        report = await _report(client, cpo_id)
        assert "locations receiver" in report["ocpi"]["peer_versions_detail"]
        uid = f"{cpo_id}-L1-01"
        async with ocpp_client(str(client.base_url), f"demo-{uid}", "1.6") as cp:
            await cp.boot()
            await cp.status(1, "Available")
            await wait_until(lambda: _async(emsp.ok_statuses(uid)), lambda s: s == ["AVAILABLE"])
            emsp.fail_next = 2  # the next push needs three attempts
            await cp.status(1, "Charging")
            await cp.status(1, "Preparing")  # CHARGING again: no change, no push
            await wait_until(lambda: _async(emsp.ok_statuses(uid)), lambda s: len(s) == 2, 5)
        await wait_until(lambda: _async(emsp.ok_statuses(uid)), lambda s: len(s) == 3)
        assert emsp.ok_statuses(uid) == ["AVAILABLE", "CHARGING", "UNKNOWN"]
        assert emsp.ok_statuses(f"{cpo_id}-L1-02") == []  # never changed: never pushed

        path, auth, body = emsp.patches[0]
        assert path == f"/emsp/2.2.1/locations/FR/ABC/{cpo_id}-L1/{uid}"
        assert auth == "Token " + base64.b64encode(TOKEN_B.encode()).decode()
        assert set(body) == {"status", "last_updated"}
        stamps = [assert_utc_timestamp(b["last_updated"]) for _, _, b in emsp.patches]
        assert stamps == sorted(stamps) and len(set(stamps)) == 3

        # The report shows every attempt; last_updated equals the EVSE's OCPI last_updated.
        pushes = (await _report(client, cpo_id))["pushes"]
        assert [(p["ocpi_status"], p["attempt"], p["ok"]) for p in pushes] == [
            ("AVAILABLE", 1, True),
            ("CHARGING", 1, False),
            ("CHARGING", 2, False),
            ("CHARGING", 3, True),
            ("UNKNOWN", 1, True),
        ]
        assert [p["http_status"] for p in pushes] == [200, 503, 503, 200, 200]
        assert pushes[1]["ocpi_status_code"] == 3000
        assert pushes[0]["url"] == f"{emsp.versions_url[: -len('/versions')]}/2.2.1" + (
            f"/locations/FR/ABC/{cpo_id}-L1/{uid}"
        )
        assert {p["location_id"] for p in pushes} == {f"{cpo_id}-L1"}


async def _async(value: Any) -> Any:
    return value


async def test_failing_emsp_gets_push_attempts_tries(settings: GatewaySettings):
    async with _gateway(settings, push_attempts=3) as client, recording_emsp() as emsp:
        cpo = await provision(client, "small-urban-ac")
        await _register(client, cpo, emsp.versions_url)
        emsp.fail_next = 100
        uid = f"{cpo['cpo_id']}-L2-03"
        async with ocpp_client(str(client.base_url), f"demo-{uid}", "1.6") as cp:
            await cp.boot()
            await cp.status(1, "Faulted")

            async def attempts() -> list[tuple[int, bool]]:
                report = await _report(client, cpo["cpo_id"])
                return [(p["attempt"], p["ok"]) for p in report["pushes"]]

            assert await wait_until(attempts, lambda a: len(a) >= 3) == [
                (1, False),
                (2, False),
                (3, False),
            ]
        assert emsp.patches == []


async def test_slow_emsp_gets_every_change_in_order(settings: GatewaySettings):
    async with _gateway(settings) as client, recording_emsp() as emsp:
        cpo = await provision(client, "small-urban-ac")
        await _register(client, cpo, emsp.versions_url)
        emsp.delay = 0.05  # changes pile up behind the push in flight
        uid = f"{cpo['cpo_id']}-L1-02"
        sent = ["Available", "Charging", "Faulted", "Unavailable", "Reserved", "Available"]
        async with ocpp_client(str(client.base_url), f"demo-{uid}", "1.6") as cp:
            await cp.boot()
            for status in sent:
                await cp.status(1, status)
            await wait_until(lambda: _async(emsp.ok_statuses(uid)), lambda s: len(s) == 6)
        await wait_until(lambda: _async(emsp.ok_statuses(uid)), lambda s: len(s) == 7)
        assert emsp.ok_statuses(uid) == [
            "AVAILABLE",
            "CHARGING",
            "OUTOFORDER",
            "INOPERATIVE",
            "RESERVED",
            "AVAILABLE",
            "UNKNOWN",
        ]
        stamps = [b["last_updated"] for _, _, b in emsp.patches]
        assert stamps == sorted(stamps)


async def test_no_push_without_registration_or_receiver(settings: GatewaySettings):
    async with _gateway(settings) as client, recording_emsp() as emsp:
        plain = await provision(client, "small-urban-ac")
        uid = f"{plain['cpo_id']}-L1-01"
        async with ocpp_client(str(client.base_url), f"demo-{uid}", "1.6") as cp:
            await cp.boot()
            await cp.status(1, "Available")
        # Registered, then unregistered: pushes stop.
        gone = await provision(client, "small-urban-ac")
        await _register(client, gone, emsp.versions_url)
        report = await _report(client, gone["cpo_id"])
        assert report["ocpi"]["registered"] is True
        uid2 = f"{gone['cpo_id']}-L1-01"
        async with ocpp_client(str(client.base_url), f"demo-{uid2}", "1.6") as cp:
            await cp.boot()
            await cp.status(1, "Available")
            await wait_until(lambda: _async(emsp.ok_statuses(uid2)), bool)
            await client.delete(f"/ocpi/cpos/{gone['cpo_id']}")
        assert emsp.ok_statuses(uid) == []
        assert emsp.ok_statuses(uid2) == ["AVAILABLE"]
        assert (await _report(client, plain["cpo_id"]))["pushes"] == []


@dataclass(frozen=True)
class _Party:
    country_code: str = "NL"
    party_id: str = "EMS"


async def test_harness_receiver_records_valid_pushes_221_and_211(settings: GatewaySettings):
    """The harness's own eMSP receiver (which checks tokens, ids, status and last_updated)
    accepts the gateway's pushes in both versions."""
    async with _gateway(settings) as client, EmspReceiver(TOKEN_B) as emsp:
        for version in ("2.2.1", "2.1.1"):
            cpo = await provision(client, "highway-dc")
            async with OcpiClient(
                cpo["ocpi_peer_url"],
                cpo["token_a"],
                party=_Party(),
                our_versions_url=emsp.versions_url,
                versions=[version],
                token_b=TOKEN_B,
            ) as ocpi:
                await ocpi.handshake()
                assert ocpi.version == version
            uid = f"{cpo['cpo_id']}-H1-02_C2"
            identity = f"demo-{cpo['cpo_id']}-H1-02"
            async with ocpp_client(str(client.base_url), identity, "2.0.1") as cp:
                await cp.boot()
                await cp.status(2, "Available")
                await cp.status(2, "Occupied")

                async def mine(uid: str = uid) -> list[Any]:
                    return [r for r in emsp.pushes() if r.evse_uid == uid]

                records = await wait_until(mine, lambda r: len(r) == 2)
            assert [r.body["status"] for r in records] == ["AVAILABLE", "CHARGING"]
            for record in records:
                assert record.problems == ()
                assert (record.method, record.version) == ("PATCH", version)
                assert (record.country_code, record.party_id) == ("FR", "ABC")
                assert record.location_id == f"{cpo['cpo_id']}-H1"
        assert emsp.refused == 0
