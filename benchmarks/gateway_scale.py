"""Reference gateway at scale (loopback only, bounded, self-stopping).

Starts ``ocpplab-sim gateway serve`` in its own process (``--db`` SQLite file in a temporary
folder by default, or a PostgreSQL URL), provisions ``large-network`` CPOs through the Gateway
API, registers a recording OCPI eMSP for the propagation CPO, and keeps a *canary* charger
heartbeating every 0.5 s from this process the whole time. Then, in one run:

1. **hold**: ``--chargers`` chargers (client processes, source addresses 127.0.0.2, …) connect,
   boot, report Available and heartbeat every ``--heartbeat`` s from their boot on (the
   gateway runs with that heartbeat interval), then are held ``--hold`` s: chargers held,
   the canary's Heartbeat p50/p99 while they are held, gateway memory per connection (RSS growth
   of the gateway process / connections);
2. **propagation** (chargers still held): ``--prop-chargers`` chargers connect and, once the
   gateway has settled their connects (3 s), change status at
   ``--prop-rate`` changes/s in total for ``--prop-seconds`` s; each change's time from the
   StatusNotification leaving the charger to the eMSP receiving the OCPI PATCH (mod_locations
   §8.2.2) gives OCPP → OCPI propagation p50/p99;
3. **ingest**: the same chargers send StatusNotifications back to back (one in flight each) for
   ``--ingest-seconds`` s: answered messages per second (every one a committed write);
4. **churn** (hold released first): ``--churn-rounds`` rounds of ``--churn`` chargers connecting,
   booting and closing: gateway memory before/after and the longest gap between the canary's
   answers.

Run: ``python benchmarks/gateway_scale.py [--db sqlite|postgresql+asyncpg://…] [--chargers 2000]
[--heartbeat 10] [--hold 20] [--prop-rate 200] [--churn 1000 --churn-rounds 3]``; the targets
use ``--chargers 19500 --workers 2 --heartbeat 60 --prop-rate 500 --churn 2000 --churn-rounds 6``
(each charger is one file descriptor of the gateway process: where ``ulimit -Hn`` is 20,000, as
on the machine these figures come from, 19,500 held plus the propagation chargers, the canary
and the database is what fits).
``--gateway-cmd`` runs another gateway (e.g. another checkout's) the same way.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import itertools
import json
import multiprocessing
import os
import shlex
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any

import httpx
from picows import WSListener, WSMsgType, ws_connect

from ocpplab_sim.load.sink import raise_fd_limit
from ocpplab_sim.load.worker import source_address

TOKEN = "bench-token"
HEADERS = {"Authorization": f"Bearer {TOKEN}"}
BOOT = {"chargePointVendor": "OCPPLab", "chargePointModel": "Bench"}


def now_text() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def cpu_s(pid: int) -> float:
    """CPU seconds (user + system) of ``pid`` so far (Linux /proc)."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int) -> float:
    """Resident memory (MB) of ``pid`` and its children (Linux /proc)."""
    total = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="ascii") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
            if int(entry) != pid and int(fields[1]) != pid:
                continue
            with open(f"/proc/{entry}/statm", encoding="ascii") as statm:
                total += int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
        except OSError:
            continue
    return total / 2**20


# --- charger clients (picows, in worker processes) -----------------------------------------


class _Link(WSListener):  # type: ignore[misc]
    """One charger socket: answers complete the future of the call in flight."""

    def __init__(self) -> None:
        self.waiting: dict[str, asyncio.Future[Any]] = {}
        self.closed = asyncio.get_event_loop().create_future()

    def on_ws_frame(self, transport: Any, frame: Any) -> None:
        if frame.msg_type != WSMsgType.TEXT:
            return
        message = json.loads(frame.get_payload_as_bytes())
        future = self.waiting.pop(str(message[1]), None)
        if future is not None and not future.done():
            future.set_result(message)

    def on_ws_disconnected(self, transport: Any) -> None:
        for future in self.waiting.values():
            if not future.done():
                future.set_exception(ConnectionError("closed"))
        self.waiting.clear()
        if not self.closed.done():
            self.closed.set_result(None)


class Charger:
    def __init__(self, transport: Any, link: _Link) -> None:
        self.transport, self.link = transport, link
        self.ids = itertools.count(1)

    async def call(self, action: str, payload: dict[str, Any], wait: float = 30.0) -> Any:
        unique = str(next(self.ids))
        future = asyncio.get_running_loop().create_future()
        self.link.waiting[unique] = future
        self.transport.send(WSMsgType.TEXT, json.dumps([2, unique, action, payload]).encode())
        answer = await asyncio.wait_for(future, wait)
        if answer[0] != 3:
            raise RuntimeError(f"{action}: {answer}")
        return answer[2]

    def close(self) -> None:
        self.transport.disconnect()


async def open_charger(url: str, identity: str, source: str | None) -> Charger:
    extra: dict[str, Any] = {} if source is None else {"local_addr": (source, 0)}
    transport, link = await ws_connect(
        _Link,
        f"{url.replace('http', 'ws', 1)}/ocpp/{identity}",
        extra_headers={"Sec-WebSocket-Protocol": "ocpp1.6"},
        websocket_handshake_timeout=60,
        **extra,
    )
    return Charger(transport, link)


async def connect_all(
    url: str,
    identities: list[str],
    offset: int,
    sources: int,
    status: bool,
    booted: Callable[[Charger], None] | None = None,
) -> list[Charger]:
    """Connect and boot every identity, 256 at a time; a connection the gateway closes or
    refuses is tried again after a short backoff, as a charger would (up to 5 times).
    ``booted`` is called with each charger as soon as it has booted."""
    gate = asyncio.Semaphore(256)

    async def one(n: int, identity: str) -> Charger:
        for attempt in range(5):
            async with gate:
                charger = None
                try:
                    charger = await open_charger(url, identity, source_address(offset + n, sources))
                    if charger.link is None:
                        raise ConnectionError("no websocket")
                    await charger.call("BootNotification", BOOT, 120)
                    if status:
                        await charger.call(
                            "StatusNotification",
                            {"connectorId": 1, "errorCode": "NoError", "status": "Available"},
                            120,
                        )
                    if booted is not None:
                        booted(charger)
                    return charger
                except Exception:  # refused, closed, timed out: what a charger retries
                    if charger is not None and charger.link is not None:
                        charger.close()
                    if attempt == 4:
                        raise
                    RETRIES[0] += 1
            await asyncio.sleep(0.5 * 2**attempt)
        raise AssertionError("unreachable")

    return list(await asyncio.gather(*(one(n, i) for n, i in enumerate(identities))))


RETRIES = [0]  # connects tried again in this process
SETTLE = 3.0  # seconds between phases (and between the propagation chargers' connects and changes)


def hold_child(
    url: str, identities: list[str], offset: int, sources: int, heartbeat: float, ctl: Any, out: Any
) -> None:
    """Connect ``identities``, heartbeat until ``ctl`` says stop, close, report."""
    raise_fd_limit()

    async def main() -> None:
        answered, failed = 0, 0
        tasks: list[asyncio.Task[None]] = []

        async def beat(charger: Charger) -> None:
            nonlocal answered, failed
            # As a charger does: the first Heartbeat one interval after its boot, not after
            # the whole fleet's connect storm (minutes: longer than the gateway's silence
            # limit, which then took hundreds of chargers offline and back every few seconds).
            while True:
                await asyncio.sleep(heartbeat)
                try:
                    await charger.call("Heartbeat", {})
                    answered += 1
                except (TimeoutError, RuntimeError, ConnectionError):
                    failed += 1

        chargers = await connect_all(
            url,
            identities,
            offset,
            sources,
            status=True,
            booted=lambda charger: tasks.append(asyncio.create_task(beat(charger))),
        )
        out.put(("connected", len(chargers), RETRIES[0]))
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, ctl.wait)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for charger in chargers:
            charger.close()
        out.put(("held", answered, failed))

    asyncio.run(main())


def churn_child(url: str, identities: list[str], offset: int, sources: int, out: Any) -> None:
    """One churn round: connect and boot every identity, then close every socket."""
    raise_fd_limit()

    async def main() -> None:
        chargers = await connect_all(url, identities, offset, sources, status=False)
        for charger in chargers:
            charger.close()
        await asyncio.gather(*(c.link.closed for c in chargers), return_exceptions=True)
        out.put(("churned", len(chargers)))

    asyncio.run(main())


def status_child(
    url: str,
    chargers: list[tuple[str, str]],
    sources: int,
    rate: float,
    seconds: float,
    ingest_seconds: float,
    out: Any,
) -> None:
    """Status changes at ``rate``/s (each reported as (evse_uid, status, time)), then a
    back-to-back ingest run; identity → evse_uid in ``chargers``."""
    raise_fd_limit()

    async def main() -> None:
        links = await connect_all(url, [i for i, _ in chargers], 50_000, sources, status=True)
        # Their connects, boots and first statuses (and the pushes these make) are not part of
        # the timed changes: let the gateway finish them first, as between the other phases.
        await asyncio.sleep(SETTLE)
        out.put(("ready",))
        uids = [uid for _, uid in chargers]
        state = ["Available"] * len(links)
        sent: list[tuple[str, str, float]] = []
        start = time.perf_counter()
        pending: set[asyncio.Task[Any]] = set()
        for n in range(int(rate * seconds)):
            delay = start + n / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            k = n % len(links)
            state[k] = "Charging" if state[k] == "Available" else "Available"
            sent.append((uids[k], state[k], time.time()))
            payload = {"connectorId": 1, "errorCode": "NoError", "status": state[k]}
            task = asyncio.create_task(links[k].call("StatusNotification", payload))
            pending.add(task)
            task.add_done_callback(pending.discard)
        await asyncio.gather(*pending, return_exceptions=True)
        out.put(("sent", sent))
        # The phases must not overlap: the last changes' pushes are not raced by the flood.
        await asyncio.sleep(SETTLE)
        # ingest: back to back, one call in flight per charger
        answered = 0
        stop_at = time.perf_counter() + ingest_seconds

        async def flood(k: int) -> None:
            nonlocal answered
            while time.perf_counter() < stop_at:
                state[k] = "Charging" if state[k] == "Available" else "Available"
                payload = {"connectorId": 1, "errorCode": "NoError", "status": state[k]}
                await links[k].call("StatusNotification", payload)
                answered += 1

        began = time.perf_counter()
        await asyncio.gather(*(flood(k) for k in range(len(links))), return_exceptions=True)
        out.put(("ingest", answered / (time.perf_counter() - began)))
        for link in links:
            link.close()

    asyncio.run(main())


# --- this process: gateway, eMSP, canary ----------------------------------------------------


class Canary:
    """One charger heartbeating every 0.5 s: every answer's latency, with its time."""

    def __init__(self, url: str, identity: str) -> None:
        self.url, self.identity = url, identity
        self.samples: list[tuple[float, float | None]] = []  # (sent at, latency or None)
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self.charger = await open_charger(self.url, self.identity, None)
        await self.charger.call("BootNotification", BOOT)
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        while True:
            sent = time.monotonic()
            try:
                await self.charger.call("Heartbeat", {}, wait=30)
                self.samples.append((sent, time.monotonic() - sent))
            except (TimeoutError, RuntimeError, ConnectionError):
                self.samples.append((sent, None))
            await asyncio.sleep(max(0.0, 0.5 - (time.monotonic() - sent)))

    def window(self, start: float, end: float) -> tuple[list[float], int]:
        got = [lat for at, lat in self.samples if start <= at < end]
        return [lat for lat in got if lat is not None], sum(1 for lat in got if lat is None)

    def longest_gap(self, start: float, end: float) -> float:
        """Longest time without an answer in [start, end)."""
        answered = [at + lat for at, lat in self.samples if lat is not None and start <= at < end]
        points = [start, *answered, end]
        return max(b - a for a, b in itertools.pairwise(points))

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        self.charger.close()


def emsp_child(out: Any, stop: Any) -> None:
    """A recording OCPI 2.2.1 eMSP in a process of its own (aiohttp's server: the receiving end
    must not share a core's time with the canary): puts its versions URL, then, once ``stop``
    is set, every PATCH as (evse_uid, status, time.time())."""
    from aiohttp import web

    patches: list[tuple[str, str, float]] = []

    def answer(data: Any = None) -> web.Response:
        body = {"status_code": 1000, "timestamp": now_text()}
        if data is not None:
            body["data"] = data
        return web.json_response(body)

    async def versions(request: web.Request) -> web.Response:
        base = f"http://{request.host}"
        return answer([{"version": "2.2.1", "url": f"{base}/emsp/2.2.1"}])

    async def details(request: web.Request) -> web.Response:
        url = f"http://{request.host}/emsp/2.2.1/locations"
        endpoint = {"identifier": "locations", "role": "RECEIVER", "url": url}
        return answer({"version": "2.2.1", "endpoints": [endpoint]})

    async def patch(request: web.Request) -> web.Response:
        body = json.loads(await request.read())
        uid = request.path.rsplit("/", 1)[1]
        patches.append((uid, body.get("status", ""), time.time()))
        return answer()

    async def main() -> None:
        app = web.Application()
        app.router.add_get("/emsp/versions", versions)
        app.router.add_get("/emsp/2.2.1", details)
        app.router.add_patch("/emsp/2.2.1/locations/{rest:.*}", patch)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        out.put(("emsp", f"http://127.0.0.1:{port}/emsp/versions"))
        # a multiprocessing Event, waited for off the loop (the loop keeps serving)
        await asyncio.get_running_loop().run_in_executor(None, stop.wait)
        out.put(("patches", patches))
        await runner.cleanup()

    asyncio.run(main())


async def provision(
    api: httpx.AsyncClient, locations: int, per_location: int, party: str
) -> dict[str, Any]:
    created = (
        await api.post(
            "/ocpi/cpos",
            json={
                "template": "large-network",
                "template_params": {"locations": locations, "chargers_per_location": per_location},
                "party": {"country_code": "FR", "party_id": party},
            },
        )
    ).json()
    if "cpo_id" not in created:
        raise RuntimeError(f"provisioning refused: {created}")
    cpo_id = created["cpo_id"]
    deadline = time.monotonic() + 600
    while (await api.get(f"/ocpi/cpos/{cpo_id}/status")).json()["status"] != "ready":
        if time.monotonic() > deadline:
            raise RuntimeError("provisioning did not finish")
        await asyncio.sleep(0.2)
    return dict(created)


async def chargers_of(api: httpx.AsyncClient, cpo_id: str) -> list[tuple[str, str]]:
    """(identity, first EVSE uid) of every charger of a CPO, in contract order."""
    result: list[tuple[str, str]] = []
    page = 1
    while True:
        body = (
            await api.get(f"/ocpi/cpos/{cpo_id}/locations", params={"page": page, "limit": 100})
        ).json()
        for loc in body["data"]:
            result += [(ch["identity"], ch["evses"][0]["evse_uid"]) for ch in loc["chargers"]]
        if page * 100 >= body["total"]:
            return result
        page += 1


def network_for(n: int) -> tuple[int, int]:
    """Locations × chargers per location (≤ 50) giving at least ``n`` chargers."""
    per = min(50, n)
    return -(-n // per), per


async def register(api: httpx.AsyncClient, cpo: dict[str, Any], versions_url: str) -> None:
    token_a = base64.b64encode(cpo["token_a"].encode()).decode()
    body = {
        "token": "bench-token-b",
        "url": versions_url,
        "roles": [
            {
                "role": "EMSP",
                "business_details": {"name": "Bench eMSP"},
                "party_id": "EMS",
                "country_code": "NL",
            }
        ],
    }
    answer = await api.post(
        f"/ocpi/peer/{cpo['cpo_id']}/2.2.1/credentials",
        json=body,
        headers={"Authorization": f"Token {token_a}"},
    )
    answer.raise_for_status()


def split(items: list[Any], parts: int) -> list[list[Any]]:
    return [items[len(items) * i // parts : len(items) * (i + 1) // parts] for i in range(parts)]


async def get(out: Any, kind: str, within: float) -> tuple[Any, ...]:
    """The next message of the worker processes (waited for off the event loop: the canary and
    the eMSP of this process keep running)."""
    message = await asyncio.get_running_loop().run_in_executor(None, out.get, True, within)
    if message[0] != kind:
        raise RuntimeError(f"expected {kind}, got {message[0]}")
    return tuple(message)


def start_gateway(cmd: list[str], log: str) -> subprocess.Popen[bytes]:
    """The gateway, its log (stderr) going to the file ``log``."""
    with open(log, "wb") as sink:
        return subprocess.Popen(cmd, stderr=sink, stdout=subprocess.DEVNULL)


def last_line(log: str) -> str:
    """The last line the gateway wrote (why it stopped, when it did)."""
    with open(log, encoding="utf-8", errors="replace") as text:
        return (text.read().strip().splitlines() or ["(no output)"])[-1]


def listening(log: str) -> str | None:
    """The URL of the "listening on" line in the gateway's log, if written yet."""
    with open(log, encoding="utf-8", errors="replace") as text:
        for line in text:
            if "listening on" in line:
                return line.rsplit(" ", 1)[1].strip()
    return None


async def run(args: argparse.Namespace) -> None:
    raise_fd_limit()
    ctx = multiprocessing.get_context("spawn")
    folder = tempfile.mkdtemp(prefix="gwscale-")
    db = args.db if args.db != "sqlite" else f"sqlite+aiosqlite:///{folder}/gateway.db"
    base = (
        shlex.split(args.gateway_cmd) if args.gateway_cmd else [sys.executable, "-m", "ocpplab_sim"]
    )
    cmd = [
        *base,
        "gateway",
        "serve",
        "--port",
        "0",
        "--db",
        db,
        "--token",
        TOKEN,
        "--heartbeat-interval",
        str(int(args.heartbeat)),
    ]
    log = f"{folder}/gateway.log"
    proc = start_gateway(cmd, log)
    deadline = time.monotonic() + 60
    while (url := listening(log)) is None:
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError(f"the gateway did not start: {last_line(log)} (log: {log})")
        await asyncio.sleep(0.05)
    figures = _Figures()
    emsp_out, emsp_stop = ctx.Queue(), ctx.Event()
    emsp = ctx.Process(target=emsp_child, args=(emsp_out, emsp_stop), daemon=True)
    emsp.start()
    try:
        (_, versions_url) = await get(emsp_out, "emsp", 60)
        async with httpx.AsyncClient(base_url=url, headers=HEADERS, timeout=120) as api:
            t0 = time.monotonic()
            hold_cpo, churn_cpo, prop_cpo = await asyncio.gather(
                provision(api, *network_for(args.chargers), "HLD"),
                provision(api, *network_for(args.churn), "CHU"),
                provision(api, *network_for(args.prop_chargers + 1), "PRP"),
            )
            await register(api, prop_cpo, versions_url)
            hold = (await chargers_of(api, hold_cpo["cpo_id"]))[: args.chargers]
            churn = (await chargers_of(api, churn_cpo["cpo_id"]))[: args.churn]
            prop = await chargers_of(api, prop_cpo["cpo_id"])
            canary_id, prop = prop[0][0], prop[1 : args.prop_chargers + 1]
            print(
                f"provisioned {len(hold) + len(churn) + len(prop) + 1} chargers in "
                f"{time.monotonic() - t0:.1f} s",
                flush=True,
            )
            canary = Canary(url, canary_id)
            await canary.start()
            await asyncio.sleep(2)
            rss0 = rss_mb(proc.pid)

            # 1. hold
            out = ctx.Queue()
            stop = ctx.Event()
            workers = [
                ctx.Process(
                    target=hold_child,
                    args=(url, part, i * 10_000_000, args.sources, args.heartbeat, stop, out),
                    daemon=True,
                )
                for i, part in enumerate(split([i for i, _ in hold], args.workers))
            ]
            t_hold = time.monotonic()
            for worker in workers:
                worker.start()
            connected = retried = 0
            for _ in workers:
                _, n, r = await get(out, "connected", args.connect_budget)
                connected, retried = connected + n, retried + r
            t_connected = time.monotonic()
            print(
                f"hold: {connected} chargers connected+booted in {t_connected - t_hold:.1f} s"
                f" ({retried} connects tried again)",
                flush=True,
            )
            await asyncio.sleep(args.hold)
            t_hold_end = time.monotonic()
            rss_held = rss_mb(proc.pid)
            lat, lost = canary.window(t_connected, t_hold_end)
            figures.append(
                f"chargers held: {connected} (heartbeat every {args.heartbeat:g} s, "
                f"{args.hold:g} s hold)"
            )
            figures.append(
                f"canary Heartbeat while held: p50 {pct(lat, 50) * 1e3:.1f} ms, "
                f"p99 {pct(lat, 99) * 1e3:.1f} ms, max {max(lat, default=0) * 1e3:.1f} ms "
                f"({len(lat)} answered, {lost} failed); during the connect storm: p99 "
                f"{pct(canary.window(t_hold, t_connected)[0], 99) * 1e3:.0f} ms, longest gap "
                f"{canary.longest_gap(t_hold, t_connected):.2f} s"
            )
            figures.append(
                f"gateway memory: {rss0:.0f} MB → {rss_held:.0f} MB held = "
                f"{(rss_held - rss0) * 1024 / max(1, connected):.1f} KB per connection"
            )

            # 2. + 3. propagation, ingest
            status = ctx.Process(
                target=status_child,
                args=(
                    url,
                    prop,
                    args.sources,
                    args.prop_rate,
                    args.prop_seconds,
                    args.ingest_seconds,
                    out,
                ),
                daemon=True,
            )
            t_prop = time.monotonic()
            status.start()
            await get(out, "ready", args.connect_budget + SETTLE)
            hist0 = await histograms(api)  # the timed changes begin
            (_, sent) = await get(out, "sent", args.connect_budget + args.prop_seconds + 60)
            await asyncio.sleep(SETTLE - 1)  # the last pushes land; the ingest phase has not begun
            hist1 = await histograms(api)
            cpu_ingest = cpu_s(proc.pid)
            (_, ingest) = await get(out, "ingest", args.ingest_seconds + 120)
            cpu_ingest = cpu_s(proc.pid) - cpu_ingest
            status.join(30)
            await asyncio.sleep(1)
            emsp_stop.set()
            (_, patches) = await get(emsp_out, "patches", 60)
            prop_lat = propagation(sent, patches)
            lat, lost = canary.window(t_prop, time.monotonic())
            figures.append(
                f"OCPP → OCPI propagation at {args.prop_rate:g} status changes/s "
                f"({len(sent)} changes, {len(prop)} chargers): p50 {pct(prop_lat, 50) * 1e3:.0f} ms,"
                f" p99 {pct(prop_lat, 99) * 1e3:.0f} ms, {len(sent) - len(prop_lat)} not seen"
            )
            parts = [
                f"{label} {bucket_quantiles(hist0[name], hist1[name])}"
                for label, name in (
                    ("committed", "ocpplab_gateway_status_commit_seconds"),
                    ("pushed", "ocpplab_gateway_status_push_seconds"),
                )
                if name in hist0 and name in hist1
            ]
            figures.append(f"  of which, by the gateway's own histograms: {'; '.join(parts)}")
            figures.append(
                f"ingest: {ingest:,.0f} StatusNotifications/s answered (each committed), "
                f"{len(prop)} chargers back to back, gateway CPU "
                f"{cpu_ingest / max(1.0, ingest * args.ingest_seconds) * 1e6:.0f} µs each "
                f"({cpu_ingest / args.ingest_seconds * 100:.0f}% of a core); canary meanwhile p99 "
                f"{pct(lat, 99) * 1e3:.0f} ms"
            )
            stop.set()
            for _ in workers:
                await get(out, "held", 120)
            for worker in workers:
                worker.join(30)
            # wait for the gateway to clear the closed sockets
            await asyncio.sleep(3)

            # 4. churn
            t_churn = time.monotonic()
            rss_before = rss_mb(proc.pid)
            rounds_rss = []
            for r in range(args.churn_rounds):
                child = ctx.Process(
                    target=churn_child,
                    args=(url, [i for i, _ in churn], r * 7919, args.sources, out),
                    daemon=True,
                )
                child.start()
                await get(out, "churned", args.connect_budget)
                child.join(30)
                rounds_rss.append(rss_mb(proc.pid))
            await asyncio.sleep(3)
            rss_after = rss_mb(proc.pid)
            t_churn_end = time.monotonic()
            lat, lost = canary.window(t_churn, t_churn_end)
            figures.append(
                f"churn: {args.churn_rounds} rounds of {len(churn)} connects+boots+closes in "
                f"{t_churn_end - t_churn:.1f} s; gateway memory {rss_before:.0f} MB before, "
                f"{rss_after:.0f} MB after ({(rss_after / rss_before - 1) * 100:+.1f}%; rounds: "
                f"{', '.join(f'{m:.0f}' for m in rounds_rss)} MB); canary p99 "
                f"{pct(lat, 99) * 1e3:.0f} ms, longest gap "
                f"{canary.longest_gap(t_churn, t_churn_end):.2f} s, {lost} failed"
            )
            figures.append(
                f"gateway memory over the run: {rss0:.0f} MB at start (before the hold), "
                f"{rss_after:.0f} MB at the end"
            )
            await canary.stop()
    finally:
        emsp_stop.set()
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
        print(f"(gateway log: {log})")
    print(f"\n== gateway_scale ({db.split(':')[0]}, {os.cpu_count()} cores)")
    for figure in figures:
        print(figure)


class _Figures(list[str]):
    """The figures, each also printed as soon as it is known (a later failure keeps them)."""

    def append(self, figure: str) -> None:
        print(f"  {figure}", flush=True)
        super().append(figure)


async def histograms(api: httpx.AsyncClient) -> dict[str, list[tuple[float, float]]]:
    """The gateway's own latency histograms (``GET /metrics``): name → cumulative buckets."""
    from prometheus_client.parser import text_string_to_metric_families

    text = (await api.get("/metrics")).text
    found: dict[str, list[tuple[float, float]]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name.endswith("_bucket"):
                bound = float(sample.labels["le"])
                found.setdefault(family.name, []).append((bound, sample.value))
    return found


def bucket_quantiles(before: list[tuple[float, float]], after: list[tuple[float, float]]) -> str:
    """p50 and p99 (as "≤ upper bound") of the observations between two readings."""
    counts = [(bound, a - b) for (bound, a), (_, b) in zip(after, before, strict=True)]
    total = counts[-1][1] if counts else 0
    if not total:
        return "no observations"

    def q(p: float) -> str:
        bound = next(bound for bound, n in counts if n >= p * total)
        return f"≤ {bound * 1e3:.0f} ms" if bound != float("inf") else "> 30 s"

    return f"p50 {q(0.5)}, p99 {q(0.99)}"


def propagation(
    sent: list[tuple[str, str, float]], patches: list[tuple[str, str, float]]
) -> list[float]:
    """For every change sent, the time until the first PATCH of that EVSE with that status
    (OCPI name) received after it was sent."""
    by_uid: dict[str, list[tuple[str, float]]] = {}
    for uid, status, at in patches:
        by_uid.setdefault(uid, []).append((status, at))
    names = {"Available": "AVAILABLE", "Charging": "CHARGING"}
    result = []
    for uid, status, at in sent:
        for seen, when in by_uid.get(uid, []):
            if seen == names[status] and when >= at:
                result.append(when - at)
                break
    return result


def _count(low: int, high: int | None = None) -> Callable[[str], int]:
    """An argparse type: a whole number in [low, high]."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < low or (high is not None and value > high):
            upper = "" if high is None else f" and at most {high}"
            raise argparse.ArgumentTypeError(f"{value} is not at least {low}{upper}")
        return value

    return parse


def _number(low: float) -> Callable[[str], float]:
    """An argparse type: a number of at least ``low``."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if not value >= low:  # also refuses nan
            raise argparse.ArgumentTypeError(f"{text} is not at least {low:g}")
        return value

    return parse


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", default="sqlite", help="sqlite (temporary file) or a URL")
    parser.add_argument("--gateway-cmd", help="command running ocpplab-sim (default: this one)")
    parser.add_argument("--chargers", type=_count(1), default=2000)
    parser.add_argument("--heartbeat", type=_number(0.1), default=10.0)
    parser.add_argument("--hold", type=_number(0), default=20.0)
    parser.add_argument("--workers", type=_count(1), default=1)
    parser.add_argument(
        "--sources", type=_count(1, 254), default=16, help="source addresses 127.0.0.x"
    )
    parser.add_argument("--prop-chargers", type=_count(1), default=200)
    parser.add_argument("--prop-rate", type=_number(0.1), default=200.0, help="changes per second")
    parser.add_argument("--prop-seconds", type=_number(0.1), default=10.0)
    parser.add_argument("--ingest-seconds", type=_number(0.1), default=5.0)
    parser.add_argument("--churn", type=_count(1), default=1000)
    parser.add_argument("--churn-rounds", type=_count(0), default=3)
    parser.add_argument("--connect-budget", type=_number(1), default=600.0)
    args = parser.parse_args()
    started = time.monotonic()
    try:
        asyncio.run(run(args))
    except (RuntimeError, OSError, httpx.HTTPError) as exc:
        # the gateway would not start (its log says why), a worker gave up, a request failed
        sys.exit(f"gateway_scale: {exc}")
    except KeyboardInterrupt:
        sys.exit("gateway_scale: interrupted")
    print(f"(run took {time.monotonic() - started:.0f} s)")


if __name__ == "__main__":
    main()
