"""The overview's today / yesterday / last week figures follow every hour the recorder writes,
also into a completed day (the page keeps a day's rows only until one of its hours changes)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from controller.accounts import Role
from controller.api import create_api
from controller.app import Controller
from controller.config import load_site
from controller.core import FakeClock
from controller.recorder import Recorder
from controller.recorder.stats import HourStat
from controller.web.views import day_bounds
from tests.api.test_api import SITE
from tests.auth_helpers import bearer, fast_store


@pytest.fixture
async def recorded(tmp_path: Path) -> AsyncIterator[tuple[Controller, Recorder, httpx.AsyncClient]]:
    site_file = tmp_path / "site.yaml"
    site_file.write_text(SITE, encoding="utf-8")
    ctrl = Controller(load_site(site_file), FakeClock(1_780_000_000))
    recorder = Recorder(ctrl, history_path=tmp_path / "history.sqlite3", flush_interval=0.05)
    ctrl.add(recorder)
    accounts = fast_store(tmp_path / "accounts.sqlite3", ctrl.clock)
    headers = bearer(accounts, "viewer1", Role.VIEWER)
    transport = httpx.ASGITransport(app=create_api(ctrl, accounts=accounts))
    try:
        async with (
            ctrl.running(),
            httpx.AsyncClient(transport=transport, base_url="http://t", headers=headers) as client,
        ):
            await recorder.wait_started()
            yield ctrl, recorder, client
    finally:
        accounts.close()


async def _electricity(client: httpx.AsyncClient, building: str) -> dict[str, Any]:
    data = (await client.get("/?format=json")).json()
    (found,) = [b for b in data["buildings"] if b["id"] == building]
    figures: dict[str, Any] = found["figures"].get("electricity", {})
    return figures


async def test_a_completed_day_rewritten_shows_its_new_figure(
    recorded: tuple[Controller, Recorder, httpx.AsyncClient],
) -> None:
    ctrl, recorder, client = recorded
    meter = next(e for e in ctrl.registry if e.kind.value == "active_energy" and e.is_cumulative)
    days = day_bounds(ctrl.clock.now())
    hour = days.yesterday.timestamp() + 5 * 3600
    assert (await _electricity(client, meter.building)).get("yesterday") is None

    await recorder.seed_history("a", [[HourStat(meter.entity_id, hour, 1.5)]], "test")
    first = await _electricity(client, meter.building)
    assert first["yesterday"] == 1.5
    assert (await _electricity(client, meter.building))["yesterday"] == 1.5  # kept: same

    await recorder.seed_history("b", [[HourStat(meter.entity_id, hour, 2.5)]], "test")
    assert (await _electricity(client, meter.building))["yesterday"] == 2.5

    week = days.last_week.timestamp() + 3600
    await recorder.seed_history("c", [[HourStat(meter.entity_id, week, 0.25)]], "test")
    figures = await _electricity(client, meter.building)
    assert (figures["yesterday"], figures["last_week"]) == (2.5, 0.25)
