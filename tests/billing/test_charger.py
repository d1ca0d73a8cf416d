"""Charging from a real embedded history: once per hour, revisions, held hours, tariff changes."""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import AsyncIterator
from decimal import ROUND_HALF_UP
from decimal import Decimal as D  # noqa: N817 (figures read better short)
from pathlib import Path

import pytest

from controller.billing import (
    Charger,
    EntryKind,
    LedgerStore,
    Meters,
    TariffBook,
    Utility,
    statement,
    sync_accounts,
)
from controller.config import LoadedSite
from controller.config.billing import BillingConfig
from controller.core import FakeClock
from controller.recorder.sources import HistoryConsumption

from .conftest import TZ, HistoryFile, billing, ts

ELEC = "dorm-1.101.elec.energy"
COLD = "dorm-1.101.cold.volume"
DAY = (2026, 3, 2)
ROOM = "dorm-1.101"


def expected_amounts(hours: list[float], free: D, tiers: list[tuple[D | None, D]]) -> list[D]:
    """An independent computation: allowance first, then tiers on the month's paid units."""
    out, used = [], D(0)
    for q in hours:
        qd = D(str(q))
        amount = sum(_units(used, qd, free, tiers), D(0))
        out.append(amount.quantize(D("0.0001"), rounding=ROUND_HALF_UP))
        used += qd
    return out


def _units(used: D, q: D, free: D, tiers: list[tuple[D | None, D]]) -> list[D]:
    pieces: list[D] = []
    start, end = used, used + q
    lower = D(0)
    # the free allowance as a tier of price 0, then the configured tiers shifted by it
    bounds = [(free, D(0))] + [((free + b) if b is not None else None, p) for b, p in tiers]
    for bound, price in bounds:
        upper = bound if bound is not None else end
        overlap = min(end, upper) - max(start, lower)
        if overlap > 0:
            pieces.append(overlap * price)
        if bound is not None:
            lower = bound
    return pieces


@contextlib.asynccontextmanager
async def charging(
    site: LoadedSite, history: HistoryFile, tmp_path: Path, config: BillingConfig | None = None
) -> AsyncIterator[tuple[Charger, LedgerStore]]:
    config = config or billing()
    store = LedgerStore(tmp_path / "billing.sqlite3", FakeClock(ts(*DAY, 12)))
    sync_accounts(store, site, config)
    async with HistoryConsumption.open(history.path, TZ) as source:
        charger = Charger(
            store, TariffBook(config, TZ), Meters(site, store.accounts()), source, settle_s=300
        )
        charger.start_at(ts(*DAY, 0))
        try:
            yield charger, store
        finally:
            store.close()


async def test_each_hour_is_charged_once_by_allowance_and_tier(
    site: LoadedSite, history: HistoryFile, tmp_path: Path
) -> None:
    used = [3.0, 3.0, 3.0, 3.0, 3.0, 3.0, 2.5]
    history.write({(ELEC, ts(*DAY, h)): q for h, q in enumerate(used)})
    history.write({("dorm-1.102.elec.energy", ts(*DAY, 0)): 1.0, (COLD, ts(*DAY, 1)): 2.5})
    async with charging(site, history, tmp_path) as (charger, store):
        report = await charger.run_once(ts(*DAY, 7, 4))  # 06:00-07:00 not settled yet
        assert report.hours == 6
        report = await charger.run_once(ts(*DAY, 7, 6))
        assert (report.hours, report.charges) == (1, 1)
        for _ in range(3):  # restarts, replays: nothing more
            again = await charger.run_once(ts(*DAY, 7, 30))
            assert (again.hours, again.charges, again.corrections) == (0, 0, 0)
        charges = store.entries("dorm-1.101", kinds=[EntryKind.CHARGE])
        elec = [e for e in charges if e.utility is Utility.ELECTRICITY]
        tiers = [(D(10), D("0.50")), (None, D("0.80"))]
        assert [-e.amount for e in elec] == expected_amounts(used, D(8), tiers)
        assert [e.hour for e in elec] == [ts(*DAY, h) for h in range(7)]
        (cold,) = [e for e in charges if e.utility is Utility.COLD_WATER]
        assert (cold.quantity, cold.free, cold.amount) == (D("2.5"), D(2), D("-1.5"))
        assert store.balance("dorm-1.101") == sum((e.amount for e in charges), D(0))
        assert store.verify() == []
        st = statement(store, "dorm-1.101", ts(*DAY, 0), ts(*DAY, 23))
        assert st.utilities[Utility.ELECTRICITY].quantity == D("20.5")
        assert st.utilities[Utility.ELECTRICITY].free == D(8)


async def test_a_revised_hour_is_corrected_not_charged_again(
    site: LoadedSite, history: HistoryFile, tmp_path: Path
) -> None:
    history.write({(ELEC, ts(*DAY, h)): 6.0 for h in range(3)})  # 8 free, then 10 kWh tier 1
    async with charging(site, history, tmp_path) as (charger, store):
        await charger.run_once(ts(*DAY, 3, 10))
        # A late reading: the statistics now say hour 1 used 7 kWh and hour 2 5 kWh.
        history.write({(ELEC, ts(*DAY, 1)): 7.0, (ELEC, ts(*DAY, 2)): 5.0, (ELEC, ts(*DAY, 3)): 1})
        report = await charger.run_once(ts(*DAY, 4, 10))
        assert (report.charges, report.corrections) == (1, 2)
        await charger.run_once(ts(*DAY, 4, 30))
        entries = store.entries("dorm-1.101")
        corrections = [e for e in entries if e.kind is EntryKind.CORRECTION]
        # +1 kWh at hour 1 is priced like new consumption of that hour after the 18 kWh the
        # month has used (8 free + 10 in tier 1): tier 2, 0.80. -1 kWh at hour 2 is credited
        # at the unit price hour 2 was charged (0.50): nothing billed is re-priced.
        assert [(e.quantity, e.amount) for e in corrections] == [
            (D(1), D("-0.8")),
            (D(-1), D("0.5")),
        ]
        total = sum((e.quantity or D(0) for e in entries if e.kind is not EntryKind.HELD), D(0))
        assert total == D(19)  # 6 + 7 + 5 + 1: every kWh charged exactly once
        assert store.verify() == []


async def test_an_implausible_hour_is_held_not_charged(
    site: LoadedSite, history: HistoryFile, tmp_path: Path
) -> None:
    history.write({(ELEC, ts(*DAY, 0)): (0.5, 400.0)})
    async with charging(site, history, tmp_path) as (charger, store):
        await charger.run_once(ts(*DAY, 1, 10))
        kinds = [(e.kind, e.quantity, e.amount) for e in store.entries("dorm-1.101")]
        assert kinds == [
            (EntryKind.CHARGE, D("0.5"), D(0)),
            (EntryKind.HELD, D(400), D(0)),
        ]


async def test_a_tariff_change_at_midnight_prices_each_side(
    site: LoadedSite, history: HistoryFile, tmp_path: Path
) -> None:
    old = {
        "id": "old",
        "utility": "electricity",
        "effective_from": "2026-03-01",
        "pricing": {"type": "flat", "price": "0.50"},
    }
    new = {
        "id": "new",
        "utility": "electricity",
        "effective_from": "2026-03-03",
        "pricing": {"type": "flat", "price": "0.70"},
    }
    hours = [ts(2026, 3, 2, 22), ts(2026, 3, 2, 23), ts(2026, 3, 3, 0), ts(2026, 3, 3, 1)]
    history.write({(ELEC, h): 1.0 for h in hours})
    async with charging(site, history, tmp_path, billing(tariffs=[old])) as (charger, store):
        await charger.run_once(ts(2026, 3, 3, 0, 10))  # the old hours, under the old tariffs
        # The new tariff is published, and someone even back-dates a third one: billed hours
        # keep their prices.
        back = {**new, "id": "back", "effective_from": "2026-03-02"}
        back["pricing"] = {"type": "flat", "price": "9.99"}
        charger.book = TariffBook(billing(tariffs=[old, back, new]), TZ)
        await charger.run_once(ts(2026, 3, 3, 2, 10))
        charges = store.entries("dorm-1.101", kinds=[EntryKind.CHARGE])
        assert [(e.hour, e.tariff, e.amount) for e in charges] == [
            (hours[0], "old", D("-0.5")),
            (hours[1], "old", D("-0.5")),
            (hours[2], "new", D("-0.7")),
            (hours[3], "new", D("-0.7")),
        ]
        assert not store.entries(kinds=[EntryKind.CORRECTION])


@pytest.mark.parametrize("beds", [0, 4])
async def test_the_allowance_follows_the_beds_in_use(
    site: LoadedSite, history: HistoryFile, tmp_path: Path, beds: int
) -> None:
    history.write({(ELEC, ts(*DAY, 0)): 4.0})
    async with charging(site, history, tmp_path) as (charger, store):
        store.set_beds("dorm-1.101", beds, "op", "moved")
        await charger.run_once(ts(*DAY, 1, 10))
        (charge,) = store.entries("dorm-1.101", kinds=[EntryKind.CHARGE])
        assert charge.free == D(min(2 * beds, 4))


async def test_a_running_hour_waits_until_the_statistics_close_it(
    site: LoadedSite, history: HistoryFile, tmp_path: Path
) -> None:
    # The meter went quiet at 00:40: the recorder's row for hour 0 is still the running one.
    history.write({(ELEC, ts(*DAY, 0)): 1.0}, partial=True)
    async with charging(site, history, tmp_path) as (charger, store):
        report = await charger.run_once(ts(*DAY, 1, 10))
        assert (report.hours, report.charges) == (1, 0)
        # It reports again at 02:20: the statistics close hour 0 (and estimate hour 1).
        history.write({(ELEC, ts(*DAY, 0)): 1.5, (ELEC, ts(*DAY, 1)): 1.0})
        await charger.run_once(ts(*DAY, 2, 10))
        charges = store.entries("dorm-1.101", kinds=[EntryKind.CHARGE])
        assert [(e.hour, e.quantity) for e in charges] == [
            (ts(*DAY, 0), D("1.5")),
            (ts(*DAY, 1), D(1)),
        ]
        assert not store.entries(kinds=[EntryKind.CORRECTION])


async def test_a_bed_meter_bills_its_bed_and_the_rest_bills_the_room(
    site: LoadedSite, history: HistoryFile, tmp_path: Path
) -> None:
    history.write({(ELEC, ts(*DAY, 0)): 3.0, (COLD, ts(*DAY, 0)): 1.0})
    async with charging(site, history, tmp_path) as (charger, store):
        store.add_account(
            "dorm-1.101.b1", "dorm-1", "101", 1, devices=["dorm-1.101.elec"], actor="admin"
        )
        charger.meters = Meters(site, store.accounts())
        await charger.run_once(ts(*DAY, 1, 10))
        bed = store.entries("dorm-1.101.b1", kinds=[EntryKind.CHARGE])
        room = store.entries("dorm-1.101", kinds=[EntryKind.CHARGE])
        assert [(e.utility, e.quantity, e.free) for e in bed] == [
            (Utility.ELECTRICITY, D(3), D(2))  # one bed: 2 kWh free
        ]
        assert [(e.utility, e.quantity) for e in room] == [(Utility.COLD_WATER, D(1))]


def test_a_sub_meter_under_the_rooms_meter_is_not_billed_again(site: LoadedSite) -> None:
    store = LedgerStore(":memory:", FakeClock(ts(*DAY, 12)))
    try:
        sync_accounts(store, site, billing())
        plain = Meters(site, store.accounts())
        # The generated campus hangs each room's AC meter under the building's main meter:
        # sockets and AC are separate circuits, both billed to the room.
        assert {plain.account_of[d] for d in ("dorm-1.101.elec", "dorm-1.101.ac")} == {ROOM}
        devices = dict(site.devices)
        devices["dorm-1.101.ac"] = devices["dorm-1.101.ac"].model_copy(
            update={"parent": "dorm-1.101.elec"}
        )
        nested = Meters(dataclasses.replace(site, devices=devices), store.accounts())
        assert "dorm-1.101.ac" not in nested.account_of  # the room meter counts it already
        assert nested.account_of["dorm-1.101.elec"] == ROOM
        assert nested.account_of["dorm-1.102.ac"] == "dorm-1.102"
    finally:
        store.close()
