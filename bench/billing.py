"""Charging one hour for 10,000 rooms, against the consumption query alone in the same run.

    .venv/bin/python bench/billing.py [--rooms 10000] [--runs 3]

A generated campus of ``--rooms`` dorm rooms (each with an electricity, a cold-water and a
hot-water meter); one hour of statistics for every meter in a real embedded history (SQLite, as
the recorder writes it); a ledger with every room account open. Prints one JSON object:

* ``query_s``: the consumption query the charger issues for one hour (per device, kind and
  circuit over the embedded history, through its database thread) and nothing else: the
  baseline, since reading the hour is work any billing must do.
* ``charge_s``: ``Charger.run_once`` charging that hour into a fresh copy of the ledger: the
  same query, then per account and utility the tariff (allowance, tiers), the month's usage,
  one ledger row, one usage row and one charged row, all in one transaction, committed.
* ``ratio``: charge / query. ``billing_only_s`` = charge − query.
* ``replay_s``: ``run_once`` over the same hour again with the watermark put back (a restart
  that lost its watermark): the query plus finding every hour already charged, posting nothing.
* ``charges``: entries posted per run (3 per room).

Medians of ``--runs`` runs; query, charge and replay runs alternate so drift hits all three.
Set-up (site generation and loading, history, ledger) is not timed.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import datetime as dt
import json
import shutil
import statistics
import sys
import tempfile
import time
import zoneinfo
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from controller.billing import Charger, LedgerStore, Meters, TariffBook, sync_accounts  # noqa: E402
from controller.billing.charger import STARTED, WATERMARK  # noqa: E402
from controller.config import LoadedSite, load_site  # noqa: E402
from controller.config.billing import BillingConfig  # noqa: E402
from controller.core import EntityRegistry, FakeClock  # noqa: E402
from controller.recorder.history import History  # noqa: E402
from controller.recorder.lineproto import LineFormatter  # noqa: E402
from controller.recorder.query import ConsumptionQuery, Period  # noqa: E402
from controller.recorder.sources import HistoryConsumption  # noqa: E402
from controller.recorder.stats import HourStat  # noqa: E402
from controller.sitegen import SiteShape, write_site  # noqa: E402

TZ = zoneinfo.ZoneInfo("Asia/Shanghai")
HOUR = 1_772_416_800.0  # 2026-03-02 10:00 in Shanghai
TARIFFS: dict[str, Any] = {
    "tariffs": [
        {
            "id": "elec",
            "utility": "electricity",
            "effective_from": "2026-03-01",
            "free_per_bed": "2",
            "pricing": {
                "type": "tiered",
                "tiers": [{"up_to": "10", "price": "0.5"}, {"price": "0.8"}],
            },
        },
        {
            "id": "cold",
            "utility": "cold_water",
            "effective_from": "2026-03-01",
            "pricing": {"type": "flat", "price": "3.00"},
        },
        {
            "id": "hot",
            "utility": "hot_water",
            "effective_from": "2026-03-01",
            "pricing": {
                "type": "time_of_use",
                "periods": [{"start": "06:00", "end": "23:00", "price": "25"}],
                "default": "20",
            },
        },
    ]
}


def note(text: str) -> None:
    print(f"{time.strftime('%H:%M:%S')} {text}", file=sys.stderr, flush=True)


def build(rooms: int, work: Path) -> tuple[LoadedSite, Path, Path]:
    """The site, a history holding one hour of every billed meter, and a ledger template."""
    write_site(work / "site", SiteShape(rooms=rooms, canteen_valves=1, shower_valves=1))
    site = dataclasses.replace(
        load_site(work / "site" / "site.yaml"), billing=BillingConfig.model_validate(TARIFFS)
    )
    assert site.billing is not None
    ledger = work / "template.sqlite3"
    store = LedgerStore(ledger, FakeClock(HOUR))
    sync_accounts(store, site, site.billing)
    meters = Meters(site, store.accounts())
    with store.transaction():
        store.set_state(WATERMARK, repr(HOUR))
        store.set_state(STARTED, repr(HOUR))
    store.close()
    stats = []
    for n, device_id in enumerate(sorted(meters.account_of)):
        profile = site.profile_of(site.devices[device_id])
        (point,) = [p for p in profile.points if p.is_cumulative]
        stats.append(HourStat(f"{device_id}.{point.key}", HOUR, 0.1 + (n % 37) * 0.05, 0.0))
    history_path = work / "history.sqlite3"
    history = History(history_path, LineFormatter(EntityRegistry.from_site(site)).keys)
    try:
        history.commit(hours=stats)
    finally:
        history.close()
    return site, history_path, ledger


async def timed_query(source: HistoryConsumption, charger: Charger) -> tuple[float, int]:
    """The charger's own query for the hour (the same object, so the same SQL)."""
    query = ConsumptionQuery(
        start=_local(HOUR),
        end=_local(HOUR + 3600),
        period=Period.HOUR,
        group_by=("device", "kind", "circuit"),
        where={"kind": ("active_energy", "water_volume")},
    )
    began = time.perf_counter()
    rows = await source.consumption(query)
    return time.perf_counter() - began, len(rows)


def _local(ts: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(ts, TZ)


def fresh_copy(ledger: Path, run: Path) -> LedgerStore:
    """A new ledger with the accounts open and nothing charged (set-up, not timed)."""
    shutil.copyfile(ledger, run)
    return LedgerStore(run, FakeClock(HOUR + 3600 + 600))


def discard(store: LedgerStore, run: Path) -> None:
    store.close()
    run.unlink()


async def timed_charge(
    site: LoadedSite, source: HistoryConsumption, ledger: Path, run: Path, *, replay: bool
) -> tuple[float, int]:
    store = fresh_copy(ledger, run)
    try:
        assert site.billing is not None
        charger = Charger(
            store, TariffBook(site.billing, TZ), Meters(site, store.accounts()), source
        )
        if replay:
            await charger.run_once(HOUR + 3600 + 600)
            with store.transaction():
                store.set_state(WATERMARK, repr(HOUR))
        began = time.perf_counter()
        report = await charger.run_once(HOUR + 3600 + 600)
        elapsed = time.perf_counter() - began
        assert report.hours == 1
        return elapsed, report.charges
    finally:
        discard(store, run)


async def main(rooms: int, runs: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-billing-") as tmp:
        work = Path(tmp)
        note(f"generating and loading a site of {rooms} rooms")
        site, history_path, ledger = build(rooms, work)
        query_s, charge_s, replay_s = [], [], []
        charges = rows = 0
        async with HistoryConsumption.open(history_path, TZ) as source:
            probe = LedgerStore(ledger, FakeClock(HOUR))
            assert site.billing is not None
            charger = Charger(
                probe, TariffBook(site.billing, TZ), Meters(site, probe.accounts()), source
            )
            await timed_query(source, charger)  # warm the page cache and the thread
            for n in range(runs):
                elapsed, rows = await timed_query(source, charger)
                query_s.append(elapsed)
                elapsed, charges = await timed_charge(
                    site, source, ledger, work / "run.sqlite3", replay=False
                )
                charge_s.append(elapsed)
                elapsed, again = await timed_charge(
                    site, source, ledger, work / "run.sqlite3", replay=True
                )
                assert again == 0
                replay_s.append(elapsed)
                note(f"run {n + 1}: query {query_s[-1]:.3f} s, charge {charge_s[-1]:.3f} s")
            probe.close()
    query, charge = statistics.median(query_s), statistics.median(charge_s)
    return {
        "rooms": rooms,
        "query_rows": rows,
        "charges": charges,
        "runs": runs,
        "query_s": round(query, 4),
        "charge_s": round(charge, 4),
        "billing_only_s": round(charge - query, 4),
        "ratio": round(charge / query, 2),
        "replay_s": round(statistics.median(replay_s), 4),
        "charge_per_account_us": round((charge - query) / rooms * 1e6, 1),
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rooms", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(main(args.rooms, args.runs)), indent=2))
