"""A small Chrome DevTools Protocol client for browser tests: a real headless chromium, driven
over its DevTools websocket with the ``websockets`` package (no Selenium, no Playwright).

``async with Browser.launch(executable, profile_dir) as browser:`` starts chromium offline
(no background networking, no component updates, no sync, no QUIC) with a DevTools port of the
kernel's choosing, read from ``<profile_dir>/DevToolsActivePort``; ``await browser.open(url)``
gives a :class:`Page` whose :meth:`Page.evaluate` runs JavaScript and returns its value, and
whose :meth:`Page.wait_for` polls an expression until it is truthy or a deadline passes. On
exit the browser is closed and its process group killed, whatever happened.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import signal
from pathlib import Path
from types import TracebackType
from typing import Any

from websockets.asyncio.client import ClientConnection, connect

__all__ = ["Browser", "CdpError", "Page", "chromium_args"]


class CdpError(Exception):
    """A DevTools command failed, or JavaScript threw."""


def chromium_args(profile_dir: Path) -> list[str]:
    """Headless and offline: nothing but the pages a test opens touches the network."""
    args = [
        "--headless",
        "--remote-debugging-port=0",
        f"--user-data-dir={profile_dir}",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--disable-gpu",
        "--disable-quic",
        "--no-default-browser-check",
        "about:blank",
    ]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        args.insert(0, "--no-sandbox")  # chromium refuses to run as root with its sandbox
    return args


class Browser:
    def __init__(self, process: asyncio.subprocess.Process, socket: ClientConnection) -> None:
        self.process = process
        self._socket = socket
        self._ids = itertools.count(1)
        self._waiting: dict[int, asyncio.Future[dict[str, Any]]] = {}
        #: JavaScript exceptions and console errors of every page, as text
        self.errors: list[str] = []
        self._reader = asyncio.create_task(self._read())

    @classmethod
    async def launch(cls, executable: str, profile_dir: Path, *, within_s: float = 30.0) -> Browser:
        profile_dir.mkdir(parents=True, exist_ok=True)
        log = (profile_dir.parent / "chromium.log").open("wb")
        try:
            process = await asyncio.create_subprocess_exec(
                executable,
                *chromium_args(profile_dir),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                start_new_session=True,  # its own process group: teardown kills every child
            )
        finally:
            log.close()
        try:
            endpoint = await _endpoint(process, profile_dir / "DevToolsActivePort", within_s)
            socket = await asyncio.wait_for(
                connect(endpoint, max_size=2**26, open_timeout=None), within_s
            )
        except BaseException:
            await _kill(process)
            raise
        return cls(process, socket)

    async def send(
        self, method: str, params: dict[str, Any] | None = None, session: str | None = None
    ) -> dict[str, Any]:
        """One DevTools command; its result (CdpError when it failed)."""
        number = next(self._ids)
        message: dict[str, Any] = {"id": number, "method": method, "params": params or {}}
        if session is not None:
            message["sessionId"] = session
        answer = self._waiting[number] = asyncio.get_running_loop().create_future()
        try:
            await self._socket.send(json.dumps(message))
            reply = await asyncio.wait_for(answer, 30)
        finally:
            self._waiting.pop(number, None)
        if "error" in reply:
            raise CdpError(f"{method}: {reply['error']}")
        result: dict[str, Any] = reply.get("result", {})
        return result

    async def open(self, url: str) -> Page:
        """A new tab showing ``url`` (its load has finished)."""
        target = await self.send("Target.createTarget", {"url": "about:blank"})
        attached = await self.send(
            "Target.attachToTarget", {"targetId": target["targetId"], "flatten": True}
        )
        page = Page(self, attached["sessionId"])
        await page.send("Runtime.enable")
        await page.send("Page.enable")
        await page.send("Page.navigate", {"url": url})
        await page.wait_for("document.readyState === 'complete'", within_s=30)
        return page

    async def _read(self) -> None:
        try:
            await self._dispatch()
        finally:
            for waiting in self._waiting.values():
                if not waiting.done():
                    waiting.set_exception(CdpError("the DevTools connection closed"))

    async def _dispatch(self) -> None:
        async for raw in self._socket:
            message = json.loads(raw)
            waiting = self._waiting.get(message.get("id", -1))
            if waiting is not None and not waiting.done():
                waiting.set_result(message)
            elif message.get("method") == "Runtime.exceptionThrown":
                details = message["params"]["exceptionDetails"]
                text = details.get("exception", {}).get("description") or details.get("text")
                self.errors.append(f"exception: {text}")
            elif message.get("method") == "Runtime.consoleAPICalled":
                params = message["params"]
                if params.get("type") in ("error", "assert"):
                    args = [a.get("value", a.get("description")) for a in params.get("args", [])]
                    self.errors.append(f"console.{params['type']}: {args}")

    async def close(self) -> None:
        """Close the browser, then kill its process group (children included)."""
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.send("Browser.close"), 5)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._socket.close(), 5)
        self._reader.cancel()
        with contextlib.suppress(BaseException):
            await self._reader
        await _kill(self.process)

    async def __aenter__(self) -> Browser:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()


class Page:
    def __init__(self, browser: Browser, session: str) -> None:
        self.browser = browser
        self.session = session

    async def send(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        return await self.browser.send(method, params, self.session)

    async def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression in the page (promises are awaited)."""
        result = await self.send(
            "Runtime.evaluate",
            {"expression": expression, "returnByValue": True, "awaitPromise": True},
        )
        if "exceptionDetails" in result:
            details = result["exceptionDetails"]
            text = details.get("exception", {}).get("description") or details.get("text")
            raise CdpError(f"{expression!r} threw: {text}")
        return result["result"].get("value")

    async def wait_for(
        self, expression: str, *, within_s: float = 20.0, every_s: float = 0.05
    ) -> Any:
        """Evaluate ``expression`` until its value is truthy (returned); TimeoutError, with
        the last value, when ``within_s`` passed first."""
        last: Any = None
        try:
            async with asyncio.timeout(within_s):
                while True:
                    last = await self.evaluate(expression)
                    if last:
                        return last
                    await asyncio.sleep(every_s)
        except TimeoutError:
            raise TimeoutError(
                f"{expression!r} still {last!r} after {within_s} s; "
                f"page errors: {self.browser.errors}"
            ) from None

    async def click(self, selector: str) -> None:
        """Click the element ``selector`` names (it must exist and be enabled)."""
        found = await self.evaluate(
            f"(() => {{ const e = document.querySelector({json.dumps(selector)});"
            " if (!e || e.disabled) return false; e.click(); return true; })()"
        )
        if not found:
            raise CdpError(f"nothing enabled to click at {selector!r}")

    async def fill(self, selector: str, value: str) -> None:
        """Type ``value`` into the input ``selector`` names (an ``input`` event follows)."""
        done = await self.evaluate(
            f"(() => {{ const e = document.querySelector({json.dumps(selector)});"
            f" if (!e) return false; e.value = {json.dumps(value)};"
            " e.dispatchEvent(new Event('input', {bubbles: true})); return true; })()"
        )
        if not done:
            raise CdpError(f"no input at {selector!r}")


async def _endpoint(process: asyncio.subprocess.Process, port_file: Path, within_s: float) -> str:
    """The browser's DevTools websocket URL, from the file chromium writes once it listens."""
    async with asyncio.timeout(within_s):
        while True:
            if process.returncode is not None:
                raise RuntimeError(f"chromium exited with {process.returncode} before listening")
            with contextlib.suppress(OSError):
                lines = port_file.read_text(encoding="ascii").split()
                if len(lines) == 2:
                    return f"ws://127.0.0.1:{lines[0]}{lines[1]}"
            # chromium writes the file when it is ready; there is no event to wait on
            await asyncio.sleep(0.05)


async def _kill(process: asyncio.subprocess.Process) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    with contextlib.suppress(ProcessLookupError):
        process.kill()
    await process.wait()
