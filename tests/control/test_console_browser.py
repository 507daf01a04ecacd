"""The web console in a real headless browser (Debian's chromium), driven over the DevTools
protocol against a real fleet, central system and control server on loopback ports.

Skips when chromium is not installed (``apt-get install -y chromium``).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from ocpplab_sim.control import ChargerRegistry, ControlServer
from ocpplab_sim.fleet import ChargePointConfig, Fleet
from tests.chargepoint.csms import TestCsms
from tests.control.cdp import Browser, Page

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

pytestmark = [
    pytest.mark.skipif(
        CHROMIUM is None, reason="chromium is not installed (apt-get install -y chromium)"
    ),
    pytest.mark.timeout(120),
]


@dataclass
class Console:
    csms: TestCsms
    fleet: Fleet
    browser: Browser
    page: Page

    async def select(self, identity: str) -> None:
        row = f'#chargers tbody tr[data-identity="{identity}"]'
        await self.page.wait_for(f"!!document.querySelector({json.dumps(row)})")
        await self.page.click(f"{row} button")
        evses = len(self.fleet[identity].station.evse_numbers)
        await self.page.wait_for(
            f"document.querySelector('#detail').dataset.identity === {json.dumps(identity)}"
            f" && document.querySelectorAll('#evses .evse').length === {evses}"
            " && document.querySelector('#frames-state').textContent === 'live'"
        )

    async def act(self, action: str, evse: int | None = None) -> str:
        """Click an action button; the message it leaves once its answer came."""
        await self.page.evaluate("document.querySelector('#message').dataset.kind = ''")
        if evse is None:
            await self.page.click(f'#detail .toolbar button[data-action="{action}"]')
        else:
            await self.page.click(f'#evses button[data-action="{action}"][data-evse="{evse}"]')
        return str(
            await self.page.wait_for(
                "(() => { const m = document.querySelector('#message');"
                " return ['ok', 'error'].includes(m.dataset.kind)"
                " && `${m.dataset.kind}: ${m.textContent}`; })()"
            )
        )

    async def wait_status(self, identity: str, evse: int, status: str) -> None:
        """The EVSE shows ``status`` in the detail panel and in the charger list."""
        await self.page.wait_for(
            f"(() => {{ const id = {json.dumps(identity)};"
            ' const card = document.querySelector(`#detail[data-identity="${id}"]'
            f' .evse[data-evse="{evse}"]`);'
            ' const badge = document.querySelector(`#chargers tr[data-identity="${id}"]'
            f' .badge[data-evse="{evse}"]`);'
            f" return card?.dataset.status === {json.dumps(status)}"
            f" && badge?.dataset.status === {json.dumps(status)}; }})()"
        )

    async def frames(self) -> list[list[str]]:
        """The frame log, oldest first: [direction, kind, action] each."""
        rows: list[list[str]] = await self.page.evaluate(
            "[...document.querySelectorAll('#frames li')]"
            ".map((li) => [li.dataset.direction, li.dataset.kind, li.dataset.action])"
        )
        return rows

    async def wait_frames(self, *wanted: tuple[str, str, str]) -> list[list[str]]:
        """Wait until each [direction, kind, action] of ``wanted`` is in the frame log."""
        expected = json.dumps([list(w) for w in wanted])
        await self.page.wait_for(
            "(() => { const seen = new Set([...document.querySelectorAll('#frames li')]"
            ".map((li) => [li.dataset.direction, li.dataset.kind, li.dataset.action].join(' ')));"
            f" return {expected}.every((w) => seen.has(w.join(' '))); }})()"
        )
        return await self.frames()


@pytest.fixture
async def console(tmp_path: Path) -> AsyncIterator[Console]:
    assert CHROMIUM is not None
    async with TestCsms() as csms:
        csms.behaviour.heartbeat_interval = 300
        configs = [
            ChargePointConfig("SIM-0001", "1.6", 2, csms.url, strict=True),
            ChargePointConfig("SIM-0002", "2.0.1", 1, csms.url, strict=True),
        ]
        registry = ChargerRegistry()
        fleet = Fleet(configs, on_frame=registry)
        registry.add(fleet)
        try:
            async with ControlServer(registry) as server:
                await fleet.start_all()
                async with await Browser.launch(CHROMIUM, tmp_path / "profile") as browser:
                    page = await browser.open(f"{server.url}/")
                    yield Console(csms, fleet, browser, page)
                    assert browser.errors == []
        finally:
            await fleet.stop_all()


def sent(console: Console, action: str, identity: str) -> list[dict[str, Any]]:
    return console.csms.calls(action, identity)


async def test_plug_and_start_in_the_console_charge_and_show_the_frames(console: Console) -> None:
    page = console.page
    assert await page.evaluate("document.title") == "ocpplab-sim console"
    await page.wait_for("document.querySelector('#page-info').textContent === '1–2 of 2'")

    # OCPP 1.6, EVSE 2 of two: plug, then start with an id tag typed in
    await console.select("SIM-0001")
    await console.wait_status("SIM-0001", 2, "Available")
    assert (await console.act("plug-connector", 2)).startswith("ok: ")
    await console.wait_status("SIM-0001", 2, "Preparing")
    await page.fill("#id-tag", "CONSOLE-7")
    message = await console.act("authorize-and-start", 2)
    assert message.startswith("ok: ") and "Charging" in message, message
    await console.wait_status("SIM-0001", 2, "Charging")
    frames = await console.wait_frames(
        ("out", "call", "Authorize"),
        ("in", "result", "Authorize"),
        ("out", "call", "StartTransaction"),
        ("in", "result", "StartTransaction"),
        ("out", "call", "StatusNotification"),
    )
    # newest last: the transaction starts after the authorization
    assert frames.index(["out", "call", "StartTransaction"]) > frames.index(
        ["in", "result", "Authorize"]
    )
    assert sent(console, "StartTransaction", "SIM-0001")[-1]["idTag"] == "CONSOLE-7"
    assert sent(console, "StartTransaction", "SIM-0001")[-1]["connectorId"] == 2
    assert {"connectorId": 2, "status": "Charging"}.items() <= sent(
        console, "StatusNotification", "SIM-0001"
    )[-1].items()
    assert await page.evaluate(
        'document.querySelector(\'#evses .evse[data-evse="2"] [data-role="facts"]\')'
        ".textContent.includes('transaction 1001')"
    )

    # OCPP 2.0.1: another charger, the log follows it
    await console.select("SIM-0002")
    await console.wait_status("SIM-0002", 1, "Available")
    assert (await console.act("plug-connector", 1)).startswith("ok: ")
    assert (await console.act("authorize-and-start", 1)).startswith("ok: ")
    await console.wait_status("SIM-0002", 1, "Charging")
    frames = await console.wait_frames(
        ("out", "call", "TransactionEvent"),
        ("in", "result", "TransactionEvent"),
        ("out", "call", "StatusNotification"),
    )
    assert ["out", "call", "StartTransaction"] not in frames  # SIM-0001's are gone
    began = [
        e for e in sent(console, "TransactionEvent", "SIM-0002") if e["eventType"] == "Started"
    ]
    assert began and began[-1]["idToken"]["idToken"] == "CONSOLE-7"

    # stop and unplug from the page
    assert (await console.act("stop-transaction", 1)).startswith("ok: ")
    assert (await console.act("unplug-connector", 1)).startswith("ok: ")
    await console.wait_status("SIM-0002", 1, "Available")
    ended = sent(console, "TransactionEvent", "SIM-0002")
    assert any(e["eventType"] == "Ended" for e in ended)


async def test_the_console_shows_refusals_filters_and_takes_a_charger_offline(
    console: Console,
) -> None:
    page = console.page
    await console.select("SIM-0002")

    # a 409 of the API is shown, with its reason
    message = await console.act("unplug-connector", 1)
    assert message.startswith("error: ") and "409" in message, message
    assert await page.evaluate("document.querySelector('#message').getAttribute('aria-live')")

    # the identity filter asks the API for the matching chargers only
    await page.fill("#filter", "0001")
    await page.wait_for(
        "[...document.querySelectorAll('#chargers tbody tr')].map((r) => r.dataset.identity)"
        ".join() === 'SIM-0001'"
    )
    await page.fill("#filter", "")
    await page.wait_for("document.querySelectorAll('#chargers tbody tr').length === 2")

    # offline and back: the link state follows, the central system sees the reconnection
    assert (await console.act("disconnect")).startswith("ok: ")
    await page.wait_for(
        "document.querySelector('#detail-link').dataset.connected === 'false'"
        " && document.querySelector('#chargers tr[data-identity=\"SIM-0002\"] .link-state')"
        ".dataset.connected === 'false'"
    )
    assert (await console.act("reconnect")).startswith("ok: ")
    await page.wait_for("document.querySelector('#detail-link').dataset.connected === 'true'")
    assert console.csms.connects.count("SIM-0002") == 2

    # reboot with the reset type of the charger's version
    boots = len(sent(console, "BootNotification", "SIM-0002"))
    assert "Immediate" in await page.evaluate("document.querySelector('#btn-reboot').textContent")
    assert (await console.act("reboot")).startswith("ok: ")
    assert len(sent(console, "BootNotification", "SIM-0002")) == boots + 1
    assert sent(console, "BootNotification", "SIM-0002")[-1]["reason"] == "LocalReset"
    await console.wait_frames(("out", "call", "BootNotification"))

    await console.select("SIM-0001")
    await page.wait_for("document.querySelector('#btn-reboot').textContent.includes('Hard')")
    boots = len(sent(console, "BootNotification", "SIM-0001"))
    assert (await console.act("reboot")).startswith("ok: ")
    assert len(sent(console, "BootNotification", "SIM-0001")) == boots + 1
