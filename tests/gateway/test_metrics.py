"""``GET /metrics``: the reference gateway's figures, parsed with ``prometheus_client``'s own
parser while a charger is connected and its statuses are pushed to an eMSP."""

from __future__ import annotations

from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from ocpplab_sim.gateway import GatewaySettings

from .support import ocpp_client, provision, recording_emsp, wait_until
from .test_push import _gateway, _register


async def _scrape(client: httpx.AsyncClient) -> dict[str, Any]:
    response = await client.get("/metrics", headers={"Authorization": ""})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    samples: dict[str, Any] = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            key = sample.name + "".join(f"|{k}={v}" for k, v in sorted(sample.labels.items()))
            samples[key] = sample.value
    return samples


async def test_the_gateway_exports_connections_messages_queues_and_latencies(
    settings: GatewaySettings,
) -> None:
    async with _gateway(settings) as client, recording_emsp() as emsp:
        before = await _scrape(client)
        assert before["ocpplab_gateway_connections"] == 0
        cpo = await provision(client, "small-urban-ac")
        await _register(client, cpo, emsp.versions_url)
        uid = f"{cpo['cpo_id']}-L1-01"
        async with ocpp_client(str(client.base_url), f"demo-{uid}", "1.6") as cp:
            await cp.boot()
            await cp.status(1, "Available")
            await cp.status(1, "Charging")
            await wait_until(
                lambda: _async(emsp.ok_statuses(uid)), lambda s: s == ["AVAILABLE", "CHARGING"]
            )
            during = await _scrape(client)
        after = await _scrape(client)
    assert during["ocpplab_gateway_connections"] == 1
    assert during["ocpplab_gateway_live_chargers"] >= 1
    assert during["ocpplab_gateway_messages_total|action=BootNotification"] == 1
    assert during["ocpplab_gateway_messages_total|action=StatusNotification"] == 2
    assert during["ocpplab_gateway_writes_committed_total"] > 0
    assert during["ocpplab_gateway_write_queue_depth"] >= 0
    assert during["ocpplab_gateway_push_queue_depth"] == 0  # both pushes answered
    # every status change committed and pushed was timed; the buckets are cumulative
    assert during["ocpplab_gateway_status_commit_seconds_count"] >= 2
    assert during["ocpplab_gateway_status_push_seconds_count"] == 2
    push_buckets = sorted(
        (float(key.split("le=")[1]), value)
        for key, value in during.items()
        if key.startswith("ocpplab_gateway_status_push_seconds_bucket")
    )
    counts = [value for _le, value in push_buckets]
    assert counts == sorted(counts) and push_buckets[-1] == (float("inf"), 2)
    assert after["ocpplab_gateway_connections"] == 0


async def _async(value: Any) -> Any:
    return value
