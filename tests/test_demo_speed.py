"""``sanjie demo --speed 600`` as a newcomer runs it, checked through the API with the printed
demo account: live values, a policy acting, an alarm, balances charged, and the history growing
beyond the seeded month. Then SIGHUP (a closed terminal) stops it cleanly, broker included.

At 600× an emulated hour passes in 6 s, so within a minute the demo closes hours, bills them and
crosses policy windows. Every check waits for its condition with a deadline; none sleeps a fixed
time to let something happen.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import os
import re
import signal
import sys
import time
from collections.abc import Awaitable, Callable
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from controller.config import load_site
from tests.conftest import EXAMPLE_SITE

pytestmark = pytest.mark.integration

SANJIE = Path(sys.executable).with_name("sanjie")
BANNER = re.compile(r"Web app: http://127\.0\.0\.1:(\d+)/ sign in as (\S+) with password (\S+)")
T = TypeVar("T")


async def until(
    what: str, probe: Callable[[], Awaitable[T | None]], deadline: float, every: float = 0.5
) -> T:
    """Poll ``probe`` until it answers something truthy, or fail with ``what`` at ``deadline``."""
    last: object = None
    while time.monotonic() < deadline:
        try:
            found = await probe()
        except (httpx.TransportError, KeyError) as err:
            found, last = None, err
        if found:
            return found
        await asyncio.sleep(every)
    pytest.fail(f"{what} did not happen in time (last: {last!r})")


def _children(pid: int) -> set[int]:
    """Every descendant of ``pid`` (Linux /proc), e.g. the demo's mosquitto."""
    found: set[int] = set()
    todo = [pid]
    while todo:
        parent = todo.pop()
        for task in Path(f"/proc/{parent}/task").glob("*"):
            with contextlib.suppress(OSError):
                kids = [int(k) for k in (task / "children").read_text().split()]
                found.update(kids)
                todo.extend(kids)
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][0]
    except (OSError, IndexError):
        return False
    return state != "Z"


async def _stop(process: asyncio.subprocess.Process, children: set[int]) -> None:
    """After a failed check: SIGTERM (a clean stop), SIGKILL if that hangs, and the children
    (its broker) by their ids, so a failure leaves nothing running."""
    if process.returncode is None:
        process.terminate()
        try:
            async with asyncio.timeout(20):
                await process.wait()
        except TimeoutError:
            process.kill()
            await process.wait()
    for pid in children:
        if _alive(pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


async def _drain(stream: asyncio.StreamReader, into: list[str]) -> None:
    while line := await stream.readline():
        into.append(line.decode(errors="replace"))


async def test_demo_at_600x_shows_policies_alarms_billing_and_history() -> None:
    started = time.monotonic()
    env = {**os.environ, "COLUMNS": "250"}  # the banner's password on one line
    process = await asyncio.create_subprocess_exec(
        str(SANJIE),
        "demo",
        "--speed",
        "600",
        "--duration",
        "150",
        "--free-ports",
        "--headless",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )
    assert process.stdout is not None
    assert process.stderr is not None
    out: list[str] = []
    err: list[str] = []
    children: set[int] = set()
    drains = [
        asyncio.create_task(_drain(process.stdout, out)),
        asyncio.create_task(_drain(process.stderr, err)),
    ]
    try:

        async def banner() -> re.Match[str] | None:
            return BANNER.search("".join(out))

        found = await until("the demo's banner", banner, started + 30, every=0.1)
        port, name, password = int(found.group(1)), found.group(2), found.group(3)
        children |= _children(process.pid)
        assert children, "the demo started no broker process"
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}/api", timeout=10) as api:

            async def signed_in() -> str | None:
                reply = await api.post("/login", json={"name": name, "password": password})
                return str(reply.json()["csrf"]) if reply.status_code == 200 else None

            csrf = await until("signing in as the demo admin", signed_in, started + 40)
            api.headers["x-csrf-token"] = csrf
            await _check(api, started + 85)
        process.send_signal(signal.SIGHUP)  # the terminal closed: stop as cleanly as Ctrl-C
        async with asyncio.timeout(30):
            code = await process.wait()
        assert code == 0, "".join(err)[-3000:]
        assert not [pid for pid in children if _alive(pid)], "a child of the demo outlived it"
        assert "Traceback" not in "".join(err), "".join(err)[-3000:]
    finally:
        await _stop(process, children)
        for drain in drains:
            drain.cancel()


async def _check(api: httpx.AsyncClient, deadline: float) -> None:
    """Everything a newcomer should see within a minute, each awaited with the same deadline."""
    seeded = await until("the seeded month", lambda: _seeded(api), deadline)
    seed_end = dt.datetime.fromisoformat(seeded["end"])
    seed_start = dt.datetime.fromisoformat(seeded["start"])
    assert seed_end - seed_start >= dt.timedelta(days=29)
    before = await _energy(api, seed_start, seed_end, closed=True)
    assert len(before) >= 29 * 24, "the seed should fill a month of hours"

    async def live() -> int | None:
        reply = await api.get("/states", params={"kind": "active_energy", "limit": 1000})
        good = [s for s in reply.json()["items"] if s["value"] is not None]
        return len(good) if len(good) >= 200 else None

    await until("live energy readings", live, deadline)

    async def alarm() -> list[str] | None:
        items = (await api.get("/alarms", params={"limit": 500})).json()["items"]
        keys = [str(a.get("key", "")) for a in items]
        return [k for k in keys if k.startswith("billing:low_balance:")] or None

    warned = await until("a low-balance alarm", alarm, deadline)
    assert "billing:low_balance:dorm-1.102" in warned

    async def policy_acted() -> list[dict[str, Any]] | None:
        items = (await api.get("/audit", params={"limit": 200})).json()["items"]
        return [e for e in items if str(e.get("actor", "")).startswith("policy:")] or None

    acted = await until("a policy command in the audit log", policy_acted, deadline)
    assert acted[0]["action"]

    site = load_site(EXAMPLE_SITE)
    assert site.billing is not None
    billing = site.billing

    async def charged() -> list[str] | None:
        reply = await api.get("/billing/accounts", params={"limit": 500})
        moved = [
            a["id"]
            for a in reply.json()["items"]
            if Decimal(a["balance"])
            < billing.opening_balances.get(a["id"], billing.opening_balance)
        ]
        return moved or None

    await until("a balance charged", charged, deadline)
    await _cut_then_topped_up(api, "dorm-1.101", deadline)

    async def grew() -> list[dict[str, Any]] | None:
        after = await _energy(api, seed_end, seed_end + dt.timedelta(days=1), closed=True)
        return after or None  # a closed live hour after the seed, with its consumption

    rows = await until("a measured hour after the seed", grew, deadline)
    assert all(row["consumption"] > 0 for row in rows)


async def _cut_then_topped_up(api: httpx.AsyncClient, account: str, deadline: float) -> None:
    """The room that opened with nothing is cut off; a top-up (a payment platform's retry
    included) restores it."""

    async def state() -> dict[str, Any]:
        reply = await api.get(f"/billing/accounts/{account}")
        assert reply.status_code == 200, reply.text
        found: dict[str, Any] = reply.json()
        return found

    async def cut() -> bool:
        return bool((await state())["cut_off"])

    await until(f"{account} cut off", cut, deadline)
    body = {"amount": "30", "key": "demo-test-topup-1", "reason": "校园卡充值"}
    first = await api.post(f"/billing/accounts/{account}/top-up", json=body)
    assert first.status_code == 201, first.text
    again = await api.post(f"/billing/accounts/{account}/top-up", json=body)
    assert again.status_code == 200  # the same key: applied once
    assert again.json()["entry"]["seq"] == first.json()["entry"]["seq"]

    async def restored() -> bool:
        return not (await state())["cut_off"]

    await until(f"{account} restored after the top-up", restored, deadline)


async def _seeded(api: httpx.AsyncClient) -> dict[str, Any] | None:
    status = (await api.get("/status")).json()["components"]
    recorder = next(v for v in status.values() if isinstance(v, dict) and "backend" in v)
    seeded: dict[str, Any] | None = recorder.get("seeded")
    return seeded


async def _energy(
    api: httpx.AsyncClient, start: dt.datetime, end: dt.datetime, *, closed: bool
) -> list[dict[str, Any]]:
    """The campus's hourly electricity in [start, end), closed hours only with ``closed``."""
    reply = await api.get(
        "/consumption",
        params={
            "start": start.isoformat(),
            "end": end.isoformat(),
            "period": "hour",
            "group_by": "kind",
            "where": "kind=active_energy",
            "limit": 1000,
        },
    )
    assert reply.status_code == 200, reply.text
    rows: list[dict[str, Any]] = reply.json()["items"]
    return [r for r in rows if not (closed and r["partial"])]
