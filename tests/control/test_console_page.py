"""The console page and the identity filter of the charger list, over HTTP (no browser)."""

from __future__ import annotations

import httpx

from ocpplab_sim.control import ChargerRegistry, ControlServer
from ocpplab_sim.fleet import ChargePointConfig, Fleet
from tests.chargepoint.csms import TestCsms


async def test_the_console_is_served_and_the_list_filters_by_identity() -> None:
    async with TestCsms() as csms:
        csms.behaviour.heartbeat_interval = 300
        configs = [
            ChargePointConfig(f"{prefix}-{n}", "1.6", 1, csms.url)
            for prefix in ("SIM", "Depot")
            for n in (1, 2)
        ]
        registry = ChargerRegistry()
        fleet = Fleet(configs, on_frame=registry)
        registry.add(fleet)
        try:
            async with ControlServer(registry) as server, httpx.AsyncClient() as http:
                await fleet.start_all()
                page = await http.get(f"{server.url}/")
                assert page.status_code == 200
                assert page.headers["content-type"].startswith("text/html")
                for marker in ('id="chargers"', 'id="frames"', 'aria-live="polite"', "EventSource"):
                    assert marker in page.text
                assert "http://" not in page.text and "https://" not in page.text  # offline

                listed = (
                    await http.get(f"{server.url}/chargers", params={"match": "depot"})
                ).json()
                assert listed["total"] == 2
                assert [c["identity"] for c in listed["chargers"]] == ["Depot-1", "Depot-2"]
                second = await http.get(
                    f"{server.url}/chargers", params={"match": "-", "offset": 3, "limit": 2}
                )
                assert [c["identity"] for c in second.json()["chargers"]] == ["Depot-2"]
                everyone = (await http.get(f"{server.url}/chargers", params={"match": ""})).json()
                assert everyone["total"] == 4
        finally:
            await fleet.stop_all()
