"""Web app speed on a 10,000-room campus, each figure against a bare FastAPI route in the same run.

Pages: server time of the campus overview, a building page and a room page (HTML, and the
``?format=json`` twin) through the whole app (authentication by API token, building limits,
the page's data, Jinja), against a bare FastAPI route that returns the same page data,
computed once beforehand, as JSON (what the framework alone costs). In-process ASGI, so
"server time" is all the time the request spends in the application. Medians of ``--requests``.

Live updates: ``--clients`` SSE clients over real TCP, each watching one room's values, while
a producer changes one value of every watched room every ``--tick`` seconds (the value is the
wall time it was set, so each client measures the latency of what it receives). The
contenders: the app's ``/web/live`` (one bus subscription, coalesced per client every
``--interval`` s), and a bare FastAPI SSE route that pushes each change to each client as it
happens through a queue per client (no bus, no coalescing, no authentication). Figures: events
(SSE messages) and values delivered per second, and value latency p50/p95.

The states are synthetic (every entity of the campus holds a value); no recorder runs, so the
overview's consumption figures are empty and the page costs what the campus's size costs.
Clients and servers share the process and its cores: compare the two contenders, not the
absolute figures.

    .venv/bin/python bench/webapp.py [--rooms 10000] [--requests 15] [--clients 50] [--seconds 4]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import socket
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Generator
from pathlib import Path
from typing import Any

import httpx
import orjson
import uvicorn
from fastapi import FastAPI
from fastapi.responses import StreamingResponse

from controller.accounts import Account, AccountStore, Role
from controller.api import ApiServer, create_api
from controller.app import Controller
from controller.config import load_site
from controller.core import SystemClock
from controller.sitegen import SiteShape, write_site
from controller.web import LiveHub
from controller.web.i18n import Translator
from controller.web.views import building_view, overview, room_view

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.auth_helpers import FAST_HASHER


def _port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _median_ms(samples: list[float]) -> float:
    return round(statistics.median(samples) * 1000, 2)


def _synthetic_states(ctrl: Controller) -> None:
    now = time.time()
    for entity in ctrl.registry:
        kind = entity.kind.value
        value: Any = 1.0
        if kind in ("relay",):
            value = True
        elif kind in ("power_switch",):
            value = "on"
        elif kind == "ac_mode":
            value = "cool"
        ctrl.states.set(entity.entity_id, value, now)


async def _timed(client: httpx.AsyncClient, path: str, n: int) -> list[float]:
    out = []
    for _ in range(n):
        started = time.perf_counter()
        reply = await client.get(path)
        out.append(time.perf_counter() - started)
        if reply.status_code != 200:
            raise RuntimeError(f"{path}: {reply.status_code} {reply.text[:200]}")
    return out


def _bare_pages(data: dict[str, dict[str, Any]]) -> FastAPI:
    bare = FastAPI()

    @bare.get("/bare/{name}")
    async def page(name: str) -> dict[str, Any]:
        return data[name]

    return bare


async def pages(ctrl: Controller, store: AccountStore, token: str, n: int) -> dict[str, Any]:
    building = next(b for b in ctrl.site.buildings.values() if b.rooms)
    room = building.rooms[0].id
    paths = {
        "overview": "/",
        "building": f"/b/{building.id}",
        "room": f"/b/{building.id}/r/{room}",
    }
    account = Account("bench", Role.ADMIN)
    t = Translator("zh")
    data = {
        "overview": await overview(ctrl, account, t),
        "building": building_view(ctrl, account, building.id, t),
        "room": room_view(ctrl, account, building.id, room, t),
    }
    headers = {"Authorization": f"Bearer {token}"}
    app = create_api(ctrl, accounts=store)
    out: dict[str, Any] = {}
    async with (
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://b", headers=headers
        ) as client,
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=_bare_pages(data)), base_url="http://b"
        ) as bare,
    ):
        for name, path in paths.items():
            await _timed(client, path, 2)  # warm: templates compiled, caches filled
            html = await _timed(client, path, n)
            twin = await _timed(client, path + "?format=json", n)
            baseline = await _timed(bare, f"/bare/{name}", n)
            out[name] = {
                "path": path,
                "html_ms": _median_ms(html),
                "json_ms": _median_ms(twin),
                "bare_fastapi_ms": _median_ms(baseline),
                "bytes_json": len(orjson.dumps(data[name])),
            }
    return out


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


def _bare_live(clients: list[asyncio.Queue[bytes]]) -> FastAPI:
    """Each change pushed to each client as it happens (a queue per client)."""
    bare = FastAPI()

    @bare.get("/bare/live")
    async def live(client: int) -> StreamingResponse:
        queue = clients[client]

        async def stream() -> AsyncIterator[bytes]:
            yield b"retry: 3000\n\n"
            while True:
                yield b"event: values\ndata: " + await queue.get() + b"\n\n"

        return StreamingResponse(stream(), media_type="text/event-stream")

    return bare


async def _listen(
    client: httpx.AsyncClient, url: str, seen: dict[str, list[float]], ready: asyncio.Event
) -> None:
    async with client.stream("GET", url) as reply:
        reply.raise_for_status()
        ready.set()
        async for line in reply.aiter_lines():
            if not line.startswith("data: "):
                continue
            now = time.time()
            seen["events"].append(now)
            for state in orjson.loads(line[6:]).values():
                value = state.get("v") if isinstance(state, dict) else state
                if isinstance(value, float) and value > 1e9:
                    seen["latency"].append(now - value)


async def _produce(
    rooms: list[str], seconds: float, tick: float, push: Callable[[int, str, float], None]
) -> int:
    changes = 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        now = time.time()
        for i, entity in enumerate(rooms):
            push(i, entity, now)
            changes += 1
        await asyncio.sleep(tick)
    return changes


async def _contender(
    urls: list[str],
    headers: dict[str, str],
    rooms: list[str],
    seconds: float,
    tick: float,
    push: Callable[[int, str, float], None],
) -> dict[str, Any]:
    seen: dict[str, list[float]] = {"events": [], "latency": []}
    readies = [asyncio.Event() for _ in urls]
    limits = httpx.Limits(max_connections=len(urls) + 5)
    async with (
        httpx.AsyncClient(headers=headers, timeout=None, limits=limits) as client,
        asyncio.TaskGroup() as group,
    ):
        tasks = [
            group.create_task(_listen(client, url, seen, ready))
            for url, ready in zip(urls, readies, strict=True)
        ]
        async with asyncio.timeout(30):
            for ready in readies:
                await ready.wait()
        await asyncio.sleep(0.6)  # the first push (the current values) is not counted
        seen["events"].clear()
        seen["latency"].clear()
        changes = await _produce(rooms, seconds, tick, push)
        await asyncio.sleep(0.6)  # the last coalesced push
        for task in tasks:
            task.cancel()
    latency = sorted(seen["latency"])
    return {
        "changes_per_s": round(changes / seconds, 1),
        "events_per_s": round(len(seen["events"]) / seconds, 1),
        "values_per_s": round(len(latency) / seconds, 1),
        "latency_p50_ms": round(latency[len(latency) // 2] * 1000, 1) if latency else None,
        "latency_p95_ms": round(latency[int(len(latency) * 0.95)] * 1000, 1) if latency else None,
    }


async def live_updates(
    ctrl: Controller,
    store: AccountStore,
    token: str,
    *,
    clients: int,
    seconds: float,
    tick: float,
    interval: float,
) -> dict[str, Any]:
    by_room: dict[tuple[str, str], list[str]] = {}
    for entity in ctrl.registry:
        room = entity.tags.get("room")
        if room:
            by_room.setdefault((entity.building, room), []).append(entity.entity_id)
    watched = [ids for _, ids in sorted(by_room.items())[:clients]]
    changing = [ids[0] for ids in watched]  # one value per room changes every tick
    live = LiveHub(ctrl, interval=interval)
    port, bare_port = _port(), _port()
    ctrl.add(live)
    ctrl.add(ApiServer(ctrl, "127.0.0.1", port, accounts=store, live=live))
    queues: list[asyncio.Queue[bytes]] = [asyncio.Queue() for _ in watched]
    bare = _Server(
        uvicorn.Config(_bare_live(queues), port=bare_port, log_level="warning", lifespan="off")
    )
    out: dict[str, Any] = {"clients": len(watched), "values_watched_per_client": len(watched[0])}
    async with ctrl.running():
        serving = asyncio.create_task(bare.serve(), name="bench-bare-sse")
        try:
            await _until_up(f"http://127.0.0.1:{port}/api/health")
            await _until_up(f"http://127.0.0.1:{bare_port}/docs")
            urls = [f"http://127.0.0.1:{port}/web/live?entities={','.join(ids)}" for ids in watched]
            out["web_live"] = await _contender(
                urls,
                {"Authorization": f"Bearer {token}"},
                changing,
                seconds,
                tick,
                lambda _i, entity, now: ctrl.states.set(entity, now, now),
            )

            def push(i: int, entity: str, now: float) -> None:
                queues[i].put_nowait(orjson.dumps({entity: {"v": now, "a": True, "t": now}}))

            bare_urls = [
                f"http://127.0.0.1:{bare_port}/bare/live?client={i}" for i in range(len(watched))
            ]
            out["bare_fastapi_sse"] = await _contender(bare_urls, {}, changing, seconds, tick, push)
        finally:
            bare.should_exit = True
            await serving
    return out


async def _until_up(url: str) -> None:
    async with asyncio.timeout(30), httpx.AsyncClient() as probe:
        while True:
            with contextlib.suppress(httpx.HTTPError):
                if (await probe.get(url)).is_success:
                    return
            await asyncio.sleep(0.1)


async def main(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="sanjie-bench-web-") as folder:
        started = time.perf_counter()
        site = load_site(write_site(Path(folder), SiteShape(rooms=args.rooms)))
        load_s = time.perf_counter() - started
        ctrl = Controller(site, SystemClock(site.campus.timezone))
        _synthetic_states(ctrl)
        store = AccountStore(Path(folder) / "accounts.sqlite3", ctrl.clock, hasher=FAST_HASHER)
        store.add("bench", Role.ADMIN, "bench-password-not-secret")
        _, token = store.create_token("bench")
        result: dict[str, Any] = {
            "rooms": args.rooms,
            "devices": len(site.devices),
            "entities": len(ctrl.registry),
            "site_load_s": round(load_s, 1),
            "requests_per_figure": args.requests,
            "pages": await pages(ctrl, store, token, args.requests),
        }
        try:
            result["live"] = await live_updates(
                ctrl,
                store,
                token,
                clients=args.clients,
                seconds=args.seconds,
                tick=args.tick,
                interval=args.interval,
            )
        finally:
            store.close()
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rooms", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=15)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--tick", type=float, default=0.05, help="seconds between changes")
    parser.add_argument("--interval", type=float, default=0.5, help="the hub's push interval")
    print(json.dumps(asyncio.run(main(parser.parse_args())), indent=2, ensure_ascii=False))
