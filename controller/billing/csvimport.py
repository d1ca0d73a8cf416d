"""Import a campus-card batch file of top-ups (CSV), all or nothing.

Format (one top-up a line, a header line first; UTF-8 with or without BOM, or GB18030 as
Windows exports it; the Chinese header names work too)::

    txn_id,account,amount,time,note
    CARD-20260301-0001,dorm-1.101,50.00,2026-03-01 08:15:00,
    CARD-20260301-0002,dorm-1.102,30,,

``txn_id`` (流水号) is the card system's transaction id and becomes the idempotency key, so
importing the same file twice (or two overlapping files) applies each top-up once. Every line is
checked before anything is applied: one bad line (unknown account, bad amount, duplicate id in
the file) rejects the whole file with every problem listed by line number.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from decimal import Decimal

from .errors import BadAmount, CsvFormatError
from .money import ZERO, parse_top_up
from .store import LedgerStore
from .topup import _KEY_RE, TopUps

__all__ = ["CsvImport", "ImportResult", "decode", "parse_batch"]

_ALIASES = {
    "txn_id": "txn_id",
    "流水号": "txn_id",
    "交易流水号": "txn_id",
    "account": "account",
    "账户": "account",
    "房间": "account",
    "amount": "amount",
    "金额": "amount",
    "time": "time",
    "时间": "time",
    "note": "note",
    "备注": "note",
}
_REQUIRED = ("txn_id", "account", "amount")
MAX_LINES = 100_000


@dataclass(frozen=True, slots=True)
class BatchLine:
    line: int
    txn_id: str
    account: str
    amount: Decimal
    time: str = ""
    note: str = ""


@dataclass(slots=True)
class ImportResult:
    lines: int = 0
    applied: int = 0
    duplicates: int = 0
    total: Decimal = ZERO
    duplicate_ids: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, object]:
        return {
            "lines": self.lines,
            "applied": self.applied,
            "duplicates": self.duplicates,
            "total": str(self.total),
            "duplicate_ids": self.duplicate_ids[:100],
        }


def decode(data: bytes) -> str:
    """UTF-8 (BOM or not), else GB18030 (what a Chinese Windows spreadsheet saves)."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("gb18030")


def parse_batch(text: str, known: set[str]) -> list[BatchLine]:
    """Every line of the file, or CsvFormatError listing every problem."""
    reader = csv.reader(io.StringIO(text))
    problems: list[tuple[int, str, str]] = []
    header = next(reader, None)
    if header is None:
        raise CsvFormatError([(1, "header", "the file is empty")])
    columns = [_ALIASES.get(h.strip().lower(), _ALIASES.get(h.strip(), "")) for h in header]
    missing = [name for name in _REQUIRED if name not in columns]
    if missing:
        raise CsvFormatError([(1, "header", f"missing column(s) {', '.join(missing)}")])
    out: list[BatchLine] = []
    seen: dict[str, int] = {}
    for number, row in enumerate(reader, start=2):
        if not any(cell.strip() for cell in row):
            continue
        if number > MAX_LINES:
            problems.append((number, "file", f"more than {MAX_LINES} lines: split the file"))
            break
        values = {col: cell.strip() for col, cell in zip(columns, row, strict=False) if col}
        line_problems = _check_line(number, values, known, seen)
        if line_problems:
            problems.extend(line_problems)
            continue
        out.append(
            BatchLine(
                number,
                values["txn_id"],
                values["account"],
                parse_top_up(values["amount"]),
                values.get("time", ""),
                values.get("note", ""),
            )
        )
        seen[values["txn_id"]] = number
    if problems:
        raise CsvFormatError(problems)
    return out


def _check_line(
    number: int, values: dict[str, str], known: set[str], seen: dict[str, int]
) -> list[tuple[int, str, str]]:
    problems = []
    txn = values.get("txn_id", "")
    if not _KEY_RE.match(txn):
        problems.append((number, "txn_id", f"{txn!r} is not a valid transaction id"))
    elif txn in seen:
        problems.append((number, "txn_id", f"{txn!r} repeats line {seen[txn]}"))
    if values.get("account", "") not in known:
        problems.append((number, "account", f"unknown account {values.get('account', '')!r}"))
    try:
        parse_top_up(values.get("amount", ""))
    except BadAmount as err:
        problems.append((number, "amount", err.reason))
    return problems


class CsvImport:
    """Applies a parsed batch in one transaction (call from the store's thread)."""

    def __init__(self, store: LedgerStore) -> None:
        self.store = store
        self.top_ups = TopUps(store)

    def run(self, data: bytes, *, actor: str, source: str = "campus-card") -> ImportResult:
        lines = parse_batch(decode(data), {a.id for a in self.store.accounts() if a.open})
        result = ImportResult(lines=len(lines))
        with self.store.transaction():
            for line in lines:
                reason = f"campus card {line.txn_id}" + (f" ({line.note})" if line.note else "")
                _, applied = self.top_ups.top_up(
                    line.account,
                    line.amount,
                    key=line.txn_id,
                    actor=actor,
                    reason=reason,
                    source=source,
                )
                if applied:
                    result.applied += 1
                    result.total += line.amount
                else:
                    result.duplicates += 1
                    result.duplicate_ids.append(line.txn_id)
        return result
