"""The HTML report in a real headless browser (Debian's chromium), offline.

Skips when chromium is not installed (``apt-get install -y chromium``).
"""

from __future__ import annotations

import asyncio
import os
import shutil
from pathlib import Path

import pytest

from ocpplab_sim.reports import to_html
from tests.scenario.test_report_files import record

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="chromium is not installed (apt-get install -y chromium)"
)


async def test_the_timeline_renders_in_chromium(tmp_path: Path) -> None:
    assert CHROMIUM is not None
    page = tmp_path / "report.html"
    page.write_text(to_html(record()), encoding="utf-8")
    args = [
        "--headless",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp_path / 'profile'}",
        "--dump-dom",
        page.as_uri(),
    ]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        args.insert(1, "--no-sandbox")  # chromium refuses to run as root with its sandbox
    process = await asyncio.create_subprocess_exec(
        CHROMIUM,
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        dom, _ = await asyncio.wait_for(process.communicate(), 60)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise
    text = dom.decode()
    # The inline script ran in the browser and counted what it drew.
    assert "timeline rendered: 2 EVSE(s), 5 status segment(s)" in text
    assert 'data-rendered="5"' in text
    assert 'data-evse="E1"' in text
