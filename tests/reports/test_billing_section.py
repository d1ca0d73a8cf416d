"""The billing section of a campaign report, checked against the ledger's own rows.

The truth here is plain SQL over the ledger file (sums of the rows by kind), not
``report_figures``; every format is written and the section read back from CSV and XLSX.
"""

from __future__ import annotations

import asyncio
import csv
import dataclasses
import datetime as dt
import shutil
import sqlite3
from collections import defaultdict
from decimal import Decimal as D  # noqa: N817 (figures read better short)
from pathlib import Path

import openpyxl

from controller.audit import AuditLog
from controller.billing import EntryKind, LedgerStore
from controller.config.billing import Utility
from controller.core import FakeClock
from controller.reports import ReportRequest, Scope, parse_span
from controller.reports.generate import generate_from
from controller.reports.sources import open_stores

from .seed import CAMPAIGN, TZ, Seeded

PERIOD = f"{CAMPAIGN[0]}..{CAMPAIGN[1]}"
START = dt.datetime.combine(CAMPAIGN[0], dt.time(), TZ).timestamp()
END = dt.datetime.combine(CAMPAIGN[1] + dt.timedelta(days=1), dt.time(), TZ).timestamp()


def _ledger(path: Path) -> None:
    """Three accounts in two buildings; rows inside the period and some before it."""
    store = LedgerStore(path, FakeClock(START - 86_400))
    try:
        store.add_account("dorm-1.101", "dorm-1", "101", 4)
        store.add_account("dorm-1.102", "dorm-1", "102", 3)
        store.add_account("dorm-2.101", "dorm-2", "101", 4)
        store.post("dorm-1.101", EntryKind.TOP_UP, D("50.00"), "op", ts=START - 3600)
        store.post("dorm-1.102", EntryKind.TOP_UP, D("10.00"), "op", ts=START + 3600)
        store.post("dorm-2.101", EntryKind.TOP_UP, D("30.00"), "op", ts=START + 7200)
        hour = START + 10 * 3600
        for i, (account, utility, qty, free, price) in enumerate(
            [
                ("dorm-1.101", Utility.ELECTRICITY, "3.5", "1.0", "0.56"),
                ("dorm-1.101", Utility.COLD_WATER, "0.8", "0.2", "3.10"),
                ("dorm-1.102", Utility.ELECTRICITY, "25.0", "5.0", "0.60"),
                ("dorm-2.101", Utility.HOT_WATER, "0.4", "0", "25.00"),
                ("dorm-2.101", Utility.ELECTRICITY, "2.25", "0", "0.56"),
            ]
        ):
            amount = -((D(qty) - D(free)) * D(price)).quantize(D("0.01"))
            store.post(
                account,
                EntryKind.CHARGE,
                amount,
                "billing",
                utility=utility,
                hour=hour + i * 3600,
                quantity=D(qty),
                free=D(free),
                ts=hour + i * 3600,
            )
        store.post(
            "dorm-1.101",
            EntryKind.HELD,
            D(0),
            "billing",
            utility=Utility.ELECTRICITY,
            quantity=D("40"),
            ts=hour,
        )
        store.post("dorm-2.101", EntryKind.REFUND, D("-5.00"), "op", ts=END - 3600)
        store.post("dorm-1.101", EntryKind.TOP_UP, D("99.00"), "op", ts=END + 3600)  # after
    finally:
        store.close()


def _truth(path: Path) -> tuple[dict[tuple[str, str], D], dict[str, dict[str, D]]]:
    """(building, utility) → yuan charged; building → top-ups, refunds, accounts ≤ 0 at END."""
    db = sqlite3.connect(path)
    try:
        building = dict(db.execute("SELECT id, building FROM accounts").fetchall())
        charged: dict[tuple[str, str], D] = defaultdict(D)
        money: dict[str, dict[str, D]] = defaultdict(lambda: defaultdict(D))
        last: dict[str, D] = {}
        for ts, account, kind, amount, after, utility in db.execute(
            "SELECT ts, account, kind, amount, balance_after, utility FROM ledger ORDER BY seq"
        ):
            if ts < END:
                last[account] = D(after)
            if not START <= ts < END:
                continue
            if kind in {"charge", "correction"}:
                charged[building[account], utility] -= D(amount)
            elif kind in {"top_up", "opening"}:
                money[building[account]]["top_ups"] += D(amount)
            elif kind == "refund":
                money[building[account]]["refunds"] -= D(amount)
        for account, bid in building.items():
            money[bid]["arrears"] += 1 if last.get(account, D(0)) <= 0 else 0
        return charged, money
    finally:
        db.close()


async def test_billing_section_matches_the_ledger(seeded: Seeded, tmp_path: Path) -> None:
    data = tmp_path / "data"
    await asyncio.to_thread(shutil.copytree, seeded.data_dir, data)
    ledger = data / "var" / "billing.sqlite3"
    _ledger(ledger)
    audit = AuditLog(data / "var" / "audit.sqlite3", FakeClock(START))
    for ts in (START + 86_400, START + 2 * 86_400, START - 86_400):  # the last: before
        audit.record(
            "system",
            "alarm.raise",
            "billing:cut_off:dorm-1.102",
            result="major",
            source="alarm",
            details={"alarm_id": "billing:cut_off:dorm-1.102", "account": "dorm-1.102"},
            ts=ts,
        )
    audit.close()
    request = ReportRequest(parse_span(PERIOD), Scope())
    async with open_stores(seeded.site, data) as plain:
        stores = dataclasses.replace(plain, ledger_path=ledger)
        report, files = await generate_from(
            seeded.site,
            stores,
            request,
            formats=("xlsx", "pdf", "html", "csv"),
            out_dir=tmp_path / "out",
        )
    charged, money = _truth(ledger)
    names = {bid: b.name.get("zh") for bid, b in seeded.site.buildings.items()}
    utility_zh = {"electricity": "用电", "cold_water": "冷水", "hot_water": "热水"}
    table = report.table("billing")
    got = {(r[0], r[1]): r[5] for r in table.rows if r[0] != "合计"}
    want = {(names[b], utility_zh[u]): float(v) for (b, u), v in charged.items()}
    assert got == want
    assert table.rows[-1][5] == float(sum(charged.values()))
    held = {(r[0], r[1]): r[4] for r in table.rows}
    assert held[names["dorm-1"], "用电"] == 40.0
    accounts = {r[0]: r[1:] for r in report.table("billing_accounts").rows}
    for bid, figures in money.items():
        n = 2 if bid == "dorm-1" else 1
        cut_offs = 2 if bid == "dorm-1" else 0
        assert accounts[names[bid]] == (
            n,
            int(figures["arrears"]),
            float(figures["top_ups"]),
            float(figures["refunds"]),
            cut_offs,
        )
    assert accounts[names["dorm-1"]][1] == 1  # dorm-1.102 spent more than its top-up
    assert any(title == "十一、预付费计费" for title, _ in report.sections)
    await asyncio.to_thread(_check_formats, files, want)


def _check_formats(files: list[Path], want: dict[tuple[str, str], float]) -> None:
    assert {p.suffix for p in files} == {".xlsx", ".pdf", ".html", ".csv"}
    billing_csv = next(p for p in files if p.stem.endswith("-billing"))
    with billing_csv.open(encoding="utf-8-sig", newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0][:2] == ["楼栋", "能源"]
    assert {(r[0], r[1]): float(r[5]) for r in rows[1:] if r[0] != "合计"} == want
    assert any(p.stem.endswith("-billing_accounts") for p in files)
    book = openpyxl.load_workbook(next(p for p in files if p.suffix == ".xlsx"))
    assert {"计费金额（按楼栋与能源）", "充值、欠费与断供（按楼栋）"} <= set(book.sheetnames)
    html = next(p for p in files if p.suffix == ".html").read_text(encoding="utf-8")
    assert "预付费计费" in html


async def test_no_ledger_no_billing_section(seeded: Seeded, tmp_path: Path) -> None:
    request = ReportRequest(parse_span(PERIOD), Scope())
    async with open_stores(seeded.site, seeded.data_dir) as stores:
        assert stores.ledger_path is None  # the seeded site has no billing: section
        report, _ = await generate_from(
            seeded.site, stores, request, formats=("csv",), out_dir=tmp_path
        )
    assert all(not t.key.startswith("billing") for t in report.tables)
