"""Statements per account, the finance office's export, and billing figures for reports.

Everything is built once as plain data (``Statement``, ``summary_rows``, ``report_figures``)
and then rendered to CSV or XLSX, so the numbers are never computed twice. Periods are by
posting time: an hour is charged a few minutes after it ends, so the last hour of a month shows
on the next month's statement, the way a bank statement shows a card payment.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import zoneinfo
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from .model import Account, EntryKind, LedgerEntry, Utility
from .money import ZERO, to_cents
from .store import LedgerStore

__all__ = [
    "STATEMENT_COLUMNS",
    "SUMMARY_COLUMNS",
    "Statement",
    "UtilityLine",
    "month_bounds",
    "report_figures",
    "statement",
    "statement_rows",
    "summary_rows",
    "to_csv",
    "to_xlsx",
]


@dataclass(slots=True)
class UtilityLine:
    """One utility on a statement: what was used, what was free, what was paid."""

    utility: Utility
    quantity: Decimal = ZERO
    free: Decimal = ZERO
    held: Decimal = ZERO
    amount: Decimal = ZERO

    def to_json(self) -> dict[str, str]:
        return {
            "utility": self.utility.value,
            "quantity": str(self.quantity),
            "free": str(self.free),
            "held": str(self.held),
            "amount": str(to_cents(self.amount)),
        }


@dataclass(slots=True)
class Statement:
    account: Account
    start: float
    end: float
    opening: Decimal
    closing: Decimal
    top_ups: Decimal = ZERO
    refunds: Decimal = ZERO
    adjustments: Decimal = ZERO
    utilities: dict[Utility, UtilityLine] = field(default_factory=dict)
    entries: list[LedgerEntry] = field(default_factory=list)

    @property
    def charges(self) -> Decimal:
        """What the consumption cost (corrections included), as a positive figure."""
        return sum((line.amount for line in self.utilities.values()), ZERO)

    def to_json(self, with_entries: bool = True) -> dict[str, Any]:
        data: dict[str, Any] = {
            "account": self.account.to_json(),
            "start": self.start,
            "end": self.end,
            "opening": str(to_cents(self.opening)),
            "closing": str(to_cents(self.closing)),
            "top_ups": str(to_cents(self.top_ups)),
            "refunds": str(to_cents(self.refunds)),
            "adjustments": str(to_cents(self.adjustments)),
            "charges": str(to_cents(self.charges)),
            "utilities": [line.to_json() for line in self.utilities.values()],
        }
        if with_entries:
            data["entries"] = [e.to_json() for e in self.entries]
        return data


def _fold(statement: Statement, entries: Iterable[LedgerEntry]) -> Statement:
    for entry in entries:
        statement.entries.append(entry)
        kind = entry.kind
        if kind in (EntryKind.TOP_UP, EntryKind.OPENING):
            statement.top_ups += entry.amount
        elif kind is EntryKind.REFUND:
            statement.refunds -= entry.amount
        elif kind is EntryKind.ADJUSTMENT:
            statement.adjustments += entry.amount
        elif entry.utility is not None:
            line = statement.utilities.setdefault(entry.utility, UtilityLine(entry.utility))
            qty = entry.quantity or ZERO
            if kind is EntryKind.HELD:
                line.held += qty
            else:
                line.quantity += qty
                line.free += entry.free or ZERO
                line.amount -= entry.amount
    return statement


def statement(store: LedgerStore, account_id: str, start: float, end: float) -> Statement:
    """The account's statement for postings in [start, end)."""
    account = store.account(account_id)
    entries = store.entries(account_id, since=start, until=end)
    opening = store.balance_at(account_id, start)
    closing = entries[-1].balance_after if entries else opening
    return _fold(Statement(account, start, end, opening, closing), entries)


STATEMENT_COLUMNS = (
    "seq",
    "ts",
    "kind",
    "utility",
    "hour",
    "quantity",
    "free",
    "amount",
    "balance_after",
    "actor",
    "reason",
)


def statement_rows(st: Statement) -> list[list[Any]]:
    """The statement's entries as rows of :data:`STATEMENT_COLUMNS` (CSV, XLSX)."""
    return [
        [
            e.seq,
            e.ts,
            e.kind.value,
            e.utility.value if e.utility else "",
            e.hour or "",
            e.quantity if e.quantity is not None else "",
            e.free if e.free is not None else "",
            e.amount,
            e.balance_after,
            e.actor,
            e.reason,
        ]
        for e in st.entries
    ]


_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


def month_bounds(month: str, tz: zoneinfo.ZoneInfo) -> tuple[float, float]:
    """``"2026-03"`` → epoch seconds of its first local midnight and the next month's."""
    found = _MONTH.match(month)
    if found is None or not 1 <= int(found.group(2)) <= 12:
        raise ValueError(f"{month!r} is not a month like 2026-03")
    year, number = int(found.group(1)), int(found.group(2))
    start = dt.datetime(year, number, 1, tzinfo=tz)
    end = dt.datetime(year + number // 12, number % 12 + 1, 1, tzinfo=tz)
    return start.timestamp(), end.timestamp()


SUMMARY_COLUMNS = (
    "account",
    "building",
    "room",
    "beds",
    "opening",
    "top_ups",
    "refunds",
    "adjustments",
    *(f"{u.value}_quantity" for u in Utility),
    *(f"{u.value}_amount" for u in Utility),
    "charges",
    "closing",
)


def summary_rows(
    store: LedgerStore, start: float, end: float, buildings: Sequence[str] | None = None
) -> list[list[Any]]:
    """One row per account for the finance office (yuan to the 分; quantities exact)."""
    rows = []
    per_account: dict[str, list[LedgerEntry]] = defaultdict(list)
    for entry in store.entries(since=start, until=end):
        per_account[entry.account].append(entry)
    for account in store.accounts():
        if buildings is not None and account.building not in buildings:
            continue
        entries = per_account.get(account.id, [])
        opening = store.balance_at(account.id, start)
        closing = entries[-1].balance_after if entries else opening
        st = _fold(Statement(account, start, end, opening, closing), entries)
        lines = [st.utilities.get(u, UtilityLine(u)) for u in Utility]
        rows.append(
            [
                account.id,
                account.building,
                account.room,
                account.beds,
                to_cents(st.opening),
                to_cents(st.top_ups),
                to_cents(st.refunds),
                to_cents(st.adjustments),
                *(line.quantity for line in lines),
                *(to_cents(line.amount) for line in lines),
                to_cents(st.charges),
                to_cents(st.closing),
            ]
        )
    return rows


def to_csv(columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> bytes:
    """UTF-8 with a BOM, so Excel on a Chinese Windows opens it right."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(columns)
    writer.writerows([[str(v) for v in row] for row in rows])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def to_xlsx(columns: Sequence[str], rows: Iterable[Sequence[Any]], title: str = "billing") -> bytes:
    """One worksheet; amounts as numbers with two decimals (Excel has no decimal type)."""
    from openpyxl import Workbook  # imported here: only exports need it

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = title[:31]
    sheet.append(list(columns))
    for row in rows:
        cells = [float(v) if isinstance(v, Decimal) else v for v in row]
        sheet.append(cells)
    for column in sheet.iter_cols(min_row=2):
        for cell in column:
            if isinstance(cell.value, float):
                cell.number_format = "0.00####"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def report_figures(
    store: LedgerStore, start: float, end: float, buildings: Sequence[str] | None = None
) -> dict[str, Any]:
    """Billing figures of a period and scope, as plain data for the campaign reports.

    Per building and utility: quantity charged, free quantity, held quantity, amount; per
    building: top-ups, refunds, accounts and accounts at or below zero at ``end``.
    """
    per: dict[str, dict[str, Any]] = {}
    accounts = {a.id: a for a in store.accounts() if buildings is None or a.building in buildings}
    for account in accounts.values():
        per.setdefault(
            account.building,
            {
                "accounts": 0,
                "at_or_below_zero": 0,
                "top_ups": ZERO,
                "refunds": ZERO,
                "utilities": {},
            },
        )
        per[account.building]["accounts"] += 1
        if store.balance_at(account.id, end) <= 0:
            per[account.building]["at_or_below_zero"] += 1
    for entry in store.entries(since=start, until=end):
        owner = accounts.get(entry.account)
        if owner is None:
            continue
        figures = per[owner.building]
        if entry.kind in (EntryKind.TOP_UP, EntryKind.OPENING):
            figures["top_ups"] += entry.amount
        elif entry.kind is EntryKind.REFUND:
            figures["refunds"] -= entry.amount
        elif entry.utility is not None:
            line = figures["utilities"].setdefault(entry.utility.value, UtilityLine(entry.utility))
            if entry.kind is EntryKind.HELD:
                line.held += entry.quantity or ZERO
            elif entry.kind in (EntryKind.CHARGE, EntryKind.CORRECTION):
                line.quantity += entry.quantity or ZERO
                line.free += entry.free or ZERO
                line.amount -= entry.amount
    return {
        "start": start,
        "end": end,
        "currency": "CNY",
        "buildings": {
            bid: {
                "accounts": f["accounts"],
                "at_or_below_zero": f["at_or_below_zero"],
                "top_ups": str(to_cents(f["top_ups"])),
                "refunds": str(to_cents(f["refunds"])),
                "utilities": {u: line.to_json() for u, line in sorted(f["utilities"].items())},
            }
            for bid, f in sorted(per.items())
        },
    }
