"""Consumption and meter-swap routes over a running Recorder with the embedded history."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import httpx
import pytest

from controller.accounts import Role
from controller.api import create_api
from controller.app import Controller
from controller.audit import AuditLog
from controller.config import load_site
from controller.core import FakeClock
from controller.recorder import Recorder
from tests.auth_helpers import bearer, fast_store

from .test_api import SITE

TZ = dt.timezone(dt.timedelta(hours=8))
H0 = dt.datetime(2026, 11, 2, 8, 0, tzinfo=TZ).timestamp()


@pytest.fixture
async def running(tmp_path: Path) -> AsyncIterator[tuple[Controller, Recorder]]:
    site_file = tmp_path / "site.yaml"
    site_file.write_text(SITE, encoding="utf-8")
    ctrl = Controller(load_site(site_file), FakeClock(H0))
    recorder = Recorder.from_site(ctrl, data_dir=tmp_path)
    ctrl.add(recorder)
    audit = AuditLog(tmp_path / "audit.sqlite3", ctrl.clock, ctrl.bus)
    ctrl.add(audit)
    try:
        async with ctrl.running():
            await recorder.wait_started()
            yield ctrl, recorder
    finally:
        audit.close()


@pytest.fixture
def api(
    running: tuple[Controller, Recorder], tmp_path: Path
) -> Iterator[Callable[[], httpx.AsyncClient]]:
    """Clients of the API signed in as the operator li.na."""
    ctrl = running[0]
    accounts = fast_store(tmp_path / "accounts.sqlite3", ctrl.clock)
    headers = bearer(accounts, "li.na", Role.OPERATOR)
    app = create_api(ctrl, accounts=accounts)

    def client() -> httpx.AsyncClient:
        transport = httpx.ASGITransport(app=app)
        return httpx.AsyncClient(transport=transport, base_url="http://t", headers=headers)

    yield client
    accounts.close()


async def test_hourly_consumption_per_room(
    running: tuple[Controller, Recorder], api: Callable[[], httpx.AsyncClient]
) -> None:
    ctrl, recorder = running
    energy = "dorm-1.101.elec.energy"
    for minutes, kwh in [(0, 100.0), (30, 100.4), (60, 100.9), (90, 101.0), (120, 101.5)]:
        ctrl.states.set(energy, kwh, H0 + minutes * 60)
    await recorder.flush()
    async with api() as client:
        reply = await client.get(
            "/api/consumption",
            params={
                "start": "2026-11-02T08:00:00+08:00",
                "end": "2026-11-02T10:00:00+08:00",
                "period": "hour",
                "group_by": ["room"],
                "where": ["kind=active_energy"],
            },
        )
        assert reply.status_code == 200, reply.text
        rows = reply.json()["items"]
        assert [
            (r["period_start"][11:16], r["group"], round(r["consumption"], 6)) for r in rows
        ] == [
            ("08:00", {"room": "101"}, 0.9),
            ("09:00", {"room": "101"}, 0.6),
        ]
        bad = await client.get(
            "/api/consumption",
            params={"start": "2026-11-02T08:00:00+08:00", "end": "2026-11-02T10:00:00+08:00"},
        )
        assert bad.status_code == 422
        assert "kind" in bad.text
        typo = await client.get(
            "/api/consumption",
            params={
                "start": "2026-11-02T08:00:00+08:00",
                "end": "2026-11-02T10:00:00+08:00",
                "where": ["kind"],
            },
        )
        assert typo.status_code == 422
        assert "tag=value" in typo.text


async def test_meter_swap_is_recorded(
    running: tuple[Controller, Recorder], api: Callable[[], httpx.AsyncClient]
) -> None:
    ctrl, recorder = running
    audit = next(c for c in ctrl.components if isinstance(c, AuditLog))
    energy = "dorm-1.101.elec.energy"
    ctrl.states.set(energy, 500.0, H0)
    await recorder.flush()
    assert isinstance(ctrl.clock, FakeClock)
    ctrl.clock.set(H0 + 15 * 60)  # staff enter the 08:10 swap at 08:15
    async with api() as client:
        reply = await client.post(
            "/api/meter-swaps",
            json={
                "entity_id": energy,
                "at": "2026-11-02T08:10:00+08:00",
                "old_final": 500.2,
                "new_start": 0.0,
            },
        )
        assert reply.status_code == 201, reply.text
        assert reply.json()["manual"] is True
        assert reply.json()["actor"] == "li.na"
        (entry,) = audit.query(action="meter.swap")
        assert (entry.actor, entry.target) == ("li.na", energy)
        not_counter = await client.post(
            "/api/meter-swaps",
            json={
                "entity_id": "dorm-1.101.elec.power",
                "at": "2026-11-02T08:10:00+08:00",
                "old_final": 1,
                "new_start": 0,
            },
        )
        assert not_counter.status_code == 422


@pytest.mark.parametrize(
    ("change", "field", "needle"),
    [
        # the report of issue 11: 2036 and 1e12 made 80,000 hourly points
        ({"at": "2036-01-01T00:00:00+08:00", "old_final": 1e12}, "old_final", "register"),
        ({"at": "2036-01-01T00:00:00+08:00"}, "at", "future"),
        ({"at": "4763-01-01T00:00:00+08:00"}, "at", "future"),
        ({"at": "2026-11-01T00:00:00+08:00"}, "at", "first reading"),
        ({"old_final": 5000.0}, "old_final", "plausible"),
        ({"new_start": 1e300}, "new_start", "register"),
    ],
)
async def test_meter_swaps_out_of_bounds_are_422_and_change_nothing(
    running: tuple[Controller, Recorder],
    api: Callable[[], httpx.AsyncClient],
    change: dict[str, object],
    field: str,
    needle: str,
) -> None:
    """Issue 11 defect 1: staff records that create history are bounded and validated."""
    ctrl, recorder = running
    energy = "dorm-1.101.elec.energy"
    ctrl.states.set(energy, 500.0, H0)
    await recorder.flush()
    assert isinstance(ctrl.clock, FakeClock)
    ctrl.clock.set(H0 + 15 * 60)
    before = recorder.engine.open_hours()
    body = {
        "entity_id": energy,
        "at": "2026-11-02T08:10:00+08:00",
        "old_final": 500.2,
        "new_start": 0.0,
        **change,
    }
    async with api() as client:
        reply = await client.post("/api/meter-swaps", json=body)
        infinite = await client.post(
            "/api/meter-swaps",
            content=b'{"entity_id": "dorm-1.101.elec.energy", "at": "2026-11-02T08:10:00+08:00",'
            b' "old_final": Infinity, "new_start": 0}',
            headers={"Content-Type": "application/json"},
        )
    assert reply.status_code == 422, reply.text
    assert reply.json()["errors"][0]["loc"] == ["body", field]
    assert needle in reply.json()["detail"]
    assert infinite.status_code == 422
    assert infinite.json()["errors"][0]["loc"] == ["body", "old_final"]
    assert recorder.engine.open_hours() == before
    assert recorder.engine.drain().swaps == []


async def test_unmetered_remainder_and_the_running_hour(tmp_path: Path) -> None:
    from tests.conftest import EXAMPLE_SITE

    ctrl = Controller(load_site(EXAMPLE_SITE), FakeClock(H0))
    recorder = Recorder(ctrl, history_path=tmp_path / "h.sqlite3")
    ctrl.add(recorder)
    async with ctrl.running():
        await recorder.wait_started()
        for entity, first, last in [
            ("dorm-1.main.energy", 1000.0, 1005.61),
            ("dorm-1.101.elec.energy", 10.0, 11.0),
            ("dorm-1.f1.lighting.energy", 20.0, 23.5),
        ]:
            ctrl.states.set(entity, first, H0)
            ctrl.states.set(entity, last, H0 + 3600)
        ctrl.states.set("dorm-1.main.energy", 1006.0, H0 + 5400)
        await recorder.flush(partials=True)
        accounts = fast_store(tmp_path / "accounts.sqlite3", ctrl.clock)
        headers = bearer(accounts, "li.na", Role.VIEWER)
        transport = httpx.ASGITransport(app=create_api(ctrl, accounts=accounts))
        async with httpx.AsyncClient(
            transport=transport, base_url="http://t", headers=headers
        ) as client:
            window = {"start": "2026-11-02T00:00:00+08:00", "end": "2026-11-03T00:00:00+08:00"}
            reply = await client.get(
                "/api/consumption/unmetered", params={**window, "where": ["building=dorm-1"]}
            )
            assert reply.status_code == 200, reply.text
            (row,) = reply.json()["items"]
            assert (row["device"], row["children"], row["partial"]) == ("dorm-1.main", 4.5, True)
            assert round(row["metered"], 6) == 6.0  # 5.61 complete + 0.39 of the running hour
            assert round(row["unmetered"], 6) == 1.5
            hourly = await client.get(
                "/api/consumption",
                params={**window, "period": "hour", "where": ["kind=active_energy", "level=0"]},
            )
            assert [(r["consumption"], r["partial"]) for r in hourly.json()["items"]] == [
                (5.61, False),
                (0.39, True),
            ]
            bad = await client.get(
                "/api/consumption/unmetered", params={**window, "where": ["colour=red"]}
            )
            assert bad.status_code == 422
            # a typo'd year (found by the fuzz run: minutes of work before the span limit)
            ages = {"start": "2000-01-01T00:00:00+08:00", "end": "8388-01-01T00:00:00+08:00"}
            for path, extra in [
                ("/api/consumption/unmetered", {}),
                ("/api/consumption", {"where": ["kind=active_energy"]}),
            ]:
                long = await client.get(path, params={**ages, **extra})
                assert long.status_code == 422, long.text
                assert "spans more than 100 years" in long.text
        accounts.close()


async def test_recorder_reads_stored_readings_for_a_replay(
    running: tuple[Controller, Recorder],
) -> None:
    """``Recorder.readings`` feeds the web app's policy preview over a past period."""
    from controller.policies.dryrun import samples_from

    ctrl, recorder = running
    power = "dorm-1.101.elec.power"
    for minutes, watts in [(0, 100.0), (10, 250.0), (20, 90.0)]:
        ctrl.states.set(power, watts, H0 + minutes * 60)
    await recorder.flush()
    rows = await recorder.readings([power, "dorm-1.101.elec.energy"], H0, H0 + 3600)
    assert [(r.timestamp - H0, r.value) for r in rows[power]] == [
        (0.0, 100.0),
        (600.0, 250.0),
        (1200.0, 90.0),
    ]
    assert rows["dorm-1.101.elec.energy"] == []
    assert samples_from(rows[power], H0 + 300) == [
        (H0 + 300, 100.0),
        (H0 + 600, 250.0),
        (H0 + 1200, 90.0),
    ]
