"""The billing store: accounts and the append-only ledger in one SQLite file.

Every change of a balance is a ledger row carrying the balance before and after; triggers refuse
UPDATE and DELETE on the ledger, so the history cannot be rewritten through this process, and a
balance is the ``balance_after`` of the account's last row (checked against the sum of amounts
by :meth:`LedgerStore.verify`). Unique ``key`` values make every posting idempotent: a charge is
keyed by account, utility and hour, a top-up by the caller's idempotency key, so a restart, a
replayed batch or a retried request posts nothing twice. Two small tables are derived data kept
in the same transactions as the rows they summarise: the month's usage per account and utility
(for tiers and allowances) and the quantity charged per hour (for revisions).

Not thread-safe: one instance is used from one thread (the billing component's database
thread, or a CLI command).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import sqlite3
from collections.abc import Iterable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

from controller.core import Clock
from controller.schema_version import SchemaTooNew, declare, migrate

from .errors import AccountClosed, AccountExists, BillingError, KeyReused, UnknownAccount
from .model import Account, EntryKind, LedgerEntry, Utility
from .money import ZERO

__all__ = ["LedgerStore"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS accounts (
    id TEXT PRIMARY KEY,
    building TEXT NOT NULL,
    room TEXT NOT NULL,
    beds INTEGER NOT NULL,
    devices TEXT NOT NULL DEFAULT '[]',
    open INTEGER NOT NULL DEFAULT 1,
    exempt_until REAL NOT NULL DEFAULT 0,
    exempt_reason TEXT NOT NULL DEFAULT '',
    created_at REAL NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS account_events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    ts REAL NOT NULL,
    account TEXT NOT NULL,
    action TEXT NOT NULL,
    actor TEXT NOT NULL,
    reason TEXT NOT NULL DEFAULT '',
    details TEXT NOT NULL DEFAULT '{}'
);
CREATE TABLE IF NOT EXISTS ledger (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    ts REAL NOT NULL,
    account TEXT NOT NULL,
    kind TEXT NOT NULL,
    amount TEXT NOT NULL,
    balance_before TEXT NOT NULL,
    balance_after TEXT NOT NULL,
    actor TEXT NOT NULL,
    reason TEXT NOT NULL DEFAULT '',
    key TEXT UNIQUE,
    utility TEXT,
    hour INTEGER,
    quantity TEXT,
    free TEXT,
    tariff TEXT,
    details TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS ledger_account ON ledger (account, seq);
CREATE INDEX IF NOT EXISTS ledger_ts ON ledger (ts);
CREATE TRIGGER IF NOT EXISTS ledger_no_update BEFORE UPDATE ON ledger
BEGIN SELECT RAISE(ABORT, 'the ledger is append-only'); END;
CREATE TRIGGER IF NOT EXISTS ledger_no_delete BEFORE DELETE ON ledger
BEGIN SELECT RAISE(ABORT, 'the ledger is append-only'); END;
CREATE TRIGGER IF NOT EXISTS events_no_update BEFORE UPDATE ON account_events
BEGIN SELECT RAISE(ABORT, 'account events are append-only'); END;
CREATE TRIGGER IF NOT EXISTS events_no_delete BEFORE DELETE ON account_events
BEGIN SELECT RAISE(ABORT, 'account events are append-only'); END;
CREATE TABLE IF NOT EXISTS usage (
    account TEXT NOT NULL,
    utility TEXT NOT NULL,
    month INTEGER NOT NULL,
    quantity TEXT NOT NULL,
    PRIMARY KEY (account, utility, month)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS charged (
    account TEXT NOT NULL,
    utility TEXT NOT NULL,
    hour INTEGER NOT NULL,
    quantity TEXT NOT NULL,
    unit_price TEXT NOT NULL,
    revisions INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (account, utility, hour)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS state (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;
"""
_MIGRATIONS = declare("billing", [_SCHEMA])

_ENTRY_COLUMNS = (
    "seq, ts, account, kind, amount, balance_before, balance_after, actor, reason, key, "
    "utility, hour, quantity, free, tariff, details"
)


def _dec(text: str | None) -> Decimal | None:
    return None if text is None else Decimal(text)


def _entry(row: tuple[Any, ...]) -> LedgerEntry:
    seq, ts, acct, kind, amt, before, after, actor, reason, key = row[:10]
    utility, hour, qty, free, tariff, details = row[10:]
    return LedgerEntry(
        seq,
        ts,
        acct,
        EntryKind(kind),
        Decimal(amt),
        Decimal(before),
        Decimal(after),
        actor,
        reason,
        key,
        Utility(utility) if utility else None,
        None if hour is None else float(hour),
        _dec(qty),
        _dec(free),
        tariff,
        json.loads(details),
    )


def _account(row: tuple[Any, ...]) -> Account:
    aid, building, room, beds, devices, is_open, exempt_until, exempt_reason, created = row
    return Account(
        aid,
        building,
        room,
        int(beds),
        tuple(json.loads(devices)),
        bool(is_open),
        float(exempt_until),
        exempt_reason,
        float(created),
    )


class LedgerStore:
    """Accounts, the ledger and the charging watermark of one site."""

    def __init__(self, path: Path | str, clock: Clock) -> None:
        self.path = Path(path)
        self.clock = clock
        memory = str(path) == ":memory:"
        if not memory:
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            if not self.path.exists():
                os.close(os.open(self.path, os.O_CREAT | os.O_WRONLY, 0o600))
        try:
            self._db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            migrate(self._db, self.path, _MIGRATIONS)
        except (sqlite3.Error, SchemaTooNew) as err:
            raise BillingError(f"cannot use the billing store {self.path}: {err}") from err
        if not memory:
            self.path.chmod(0o600)
        self._accounts = {
            row[0]: _account(row) for row in self._db.execute("SELECT * FROM accounts")
        }
        self._balances: dict[str, Decimal] = {
            acct: Decimal(after)
            for acct, after in self._db.execute(
                "SELECT account, balance_after FROM ledger WHERE seq IN "
                "(SELECT max(seq) FROM ledger GROUP BY account)"
            )
        }
        self._usage: dict[tuple[str, Utility, int], Decimal] = {}
        self._in_tx = False

    def close(self) -> None:
        self._db.close()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """One atomic unit: everything posted inside commits together or not at all."""
        if self._in_tx:
            yield
            return
        balances = dict(self._balances)
        accounts = dict(self._accounts)
        self._db.execute("BEGIN IMMEDIATE")
        self._in_tx = True
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            self._balances, self._accounts = balances, accounts
            self._usage.clear()  # reloaded from the file on demand
            raise
        finally:
            self._in_tx = False
        self._db.execute("COMMIT")

    # -- accounts ----------------------------------------------------------------------------

    def accounts(self) -> list[Account]:
        return sorted(self._accounts.values(), key=lambda a: a.id)

    def account(self, account_id: str) -> Account:
        found = self._accounts.get(account_id)
        if found is None:
            raise UnknownAccount(account_id)
        return found

    def _event(self, account_id: str, action: str, actor: str, reason: str, **details: Any) -> None:
        self._db.execute(
            "INSERT INTO account_events (ts, account, action, actor, reason, details) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (
                self.clock.time(),
                account_id,
                action,
                actor,
                reason,
                json.dumps(details, default=str),
            ),
        )

    def _save(self, account: Account) -> Account:
        self._db.execute(
            "INSERT OR REPLACE INTO accounts VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                account.id,
                account.building,
                account.room,
                account.beds,
                json.dumps(list(account.devices)),
                int(account.open),
                account.exempt_until,
                account.exempt_reason,
                account.created_at,
            ),
        )
        self._accounts[account.id] = account
        return account

    def add_account(
        self,
        account_id: str,
        building: str,
        room: str,
        beds: int,
        *,
        devices: Iterable[str] = (),
        opening: Decimal = ZERO,
        actor: str = "system",
        reason: str = "",
    ) -> Account:
        """Open an account (with an opening balance entry when ``opening`` is not zero)."""
        if account_id in self._accounts:
            raise AccountExists(account_id)
        with self.transaction():
            account = self._save(
                Account(
                    account_id,
                    building,
                    room,
                    beds,
                    tuple(devices),
                    True,
                    0.0,
                    "",
                    self.clock.time(),
                )
            )
            self._event(account_id, "open", actor, reason, beds=beds, devices=list(devices))
            if opening:
                self.post(
                    account_id, EntryKind.OPENING, opening, actor, reason or "opening balance"
                )
        return account

    def set_beds(self, account_id: str, beds: int, actor: str, reason: str) -> Account:
        """Students moved in or out: the free allowance follows the beds in use."""
        account = self.account(account_id)
        with self.transaction():
            self._event(account_id, "beds", actor, reason, before=account.beds, after=beds)
            return self._save(_replace(account, beds=beds))

    def set_exemption(self, account_id: str, until: float, actor: str, reason: str) -> Account:
        """Never cut off before ``until`` (0 ends an exemption)."""
        account = self.account(account_id)
        with self.transaction():
            self._event(account_id, "exempt", actor, reason, until=until)
            return self._save(_replace(account, exempt_until=until, exempt_reason=reason))

    def close_account(self, account_id: str, actor: str, reason: str) -> LedgerEntry | None:
        """Close an account, refunding what is left on it (the refund entry, if any)."""
        account = self.account(account_id)
        if not account.open:
            raise AccountClosed(account_id)
        with self.transaction():
            left = self.balance(account_id)
            refund = (
                self.post(account_id, EntryKind.REFUND, -left, actor, reason or "closed")
                if left > 0
                else None
            )
            self._event(account_id, "close", actor, reason, refunded=str(max(left, ZERO)))
            self._save(_replace(account, open=False))
        return refund

    def account_events(self, account_id: str) -> list[dict[str, Any]]:
        rows = self._db.execute(
            "SELECT seq, ts, action, actor, reason, details FROM account_events "
            "WHERE account = ? ORDER BY seq",
            (account_id,),
        )
        return [
            {"seq": s, "ts": t, "action": a, "actor": who, "reason": r, "details": json.loads(d)}
            for s, t, a, who, r, d in rows
        ]

    # -- the ledger --------------------------------------------------------------------------

    def balance(self, account_id: str) -> Decimal:
        return self._balances.get(account_id, ZERO)

    def balances(self) -> dict[str, Decimal]:
        return {aid: self.balance(aid) for aid in self._accounts}

    def by_key(self, key: str) -> LedgerEntry | None:
        row = self._db.execute(
            f"SELECT {_ENTRY_COLUMNS} FROM ledger WHERE key = ?",  # noqa: S608 (fixed names)
            (key,),
        ).fetchone()
        return None if row is None else _entry(row)

    def post(
        self,
        account_id: str,
        kind: EntryKind,
        change: Decimal,
        actor: str,
        reason: str = "",
        *,
        key: str | None = None,
        utility: Utility | None = None,
        hour: float | None = None,
        quantity: Decimal | None = None,
        free: Decimal | None = None,
        tariff: str | None = None,
        details: dict[str, Any] | None = None,
        ts: float | None = None,
    ) -> LedgerEntry:
        """Append one entry and move the balance by ``change`` (signed yuan)."""
        if account_id not in self._accounts:
            raise UnknownAccount(account_id)
        before = self.balance(account_id)
        after = before + change
        when = self.clock.time() if ts is None else ts
        info = details or {}
        cursor = self._db.execute(
            "INSERT INTO ledger (ts, account, kind, amount, balance_before, balance_after, actor, "
            "reason, key, utility, hour, quantity, free, tariff, details) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                when,
                account_id,
                kind.value,
                str(change),
                str(before),
                str(after),
                actor,
                reason,
                key,
                utility.value if utility else None,
                None if hour is None else round(hour),
                None if quantity is None else str(quantity),
                None if free is None else str(free),
                tariff,
                json.dumps(info, default=str, ensure_ascii=False),
            ),
        )
        self._balances[account_id] = after
        return LedgerEntry(
            int(cursor.lastrowid or 0),
            when,
            account_id,
            kind,
            change,
            before,
            after,
            actor,
            reason,
            key,
            utility,
            hour,
            quantity,
            free,
            tariff,
            info,
        )

    def post_once(
        self,
        key: str,
        account_id: str,
        kind: EntryKind,
        change: Decimal,
        *,
        actor: str,
        reason: str,
        **fields: Any,
    ) -> tuple[LedgerEntry, bool]:
        """Post unless ``key`` was used: (the entry, whether it was applied now).

        The same key for another account, kind or amount is a caller's mistake: ``KeyReused``.
        """
        with self.transaction():
            found = self.by_key(key)
            if found is not None:
                if (found.account, found.kind, found.amount) != (account_id, kind, change):
                    raise KeyReused(key, found.seq)
                return found, False
            account = self.account(account_id)
            if not account.open:
                raise AccountClosed(account_id)
            entry = self.post(account_id, kind, change, actor, reason, key=key, **fields)
            return entry, True

    def entries(
        self,
        account_id: str | None = None,
        *,
        since: float | None = None,
        until: float | None = None,
        kinds: Iterable[EntryKind] | None = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[LedgerEntry]:
        """Entries oldest first, by posting time ``ts`` in [since, until)."""
        where, args = _filters(account_id, since, until, kinds)
        sql = f"SELECT {_ENTRY_COLUMNS} FROM ledger{where} ORDER BY seq"  # noqa: S608 (fixed)
        if limit is not None or offset:
            sql += " LIMIT ? OFFSET ?"
            args.extend([-1 if limit is None else limit, offset])
        return [_entry(row) for row in self._db.execute(sql, args)]

    def count_entries(
        self,
        account_id: str | None = None,
        *,
        since: float | None = None,
        until: float | None = None,
        kinds: Iterable[EntryKind] | None = None,
    ) -> int:
        """How many entries :meth:`entries` would return without a limit (for paging)."""
        where, args = _filters(account_id, since, until, kinds)
        row = self._db.execute(f"SELECT count(*) FROM ledger{where}", args).fetchone()  # noqa: S608
        return int(row[0])

    def balance_at(self, account_id: str, when: float) -> Decimal:
        """The balance just before ``when`` (posting time)."""
        row = self._db.execute(
            "SELECT balance_after FROM ledger WHERE account = ? AND ts < ? "
            "ORDER BY seq DESC LIMIT 1",
            (account_id, when),
        ).fetchone()
        return ZERO if row is None else Decimal(row[0])

    def verify(self) -> list[str]:
        """Problems in the ledger's chain of balances (empty: every balance adds up)."""
        problems: list[str] = []
        running: dict[str, Decimal] = {}
        for entry in self.entries():
            before = running.get(entry.account, ZERO)
            if entry.balance_before != before or entry.balance_after != before + entry.amount:
                problems.append(f"entry {entry.seq} of {entry.account} does not follow on")
            running[entry.account] = before + entry.amount
        for aid, total in running.items():
            if self.balance(aid) != total:
                problems.append(f"balance of {aid} is {self.balance(aid)}, the ledger sums {total}")
        return problems

    # -- derived tables for charging ---------------------------------------------------------

    def month_used(self, account_id: str, utility: Utility, month: float) -> Decimal:
        """Units charged (free ones included) to the account in the month starting ``month``."""
        key = (account_id, utility, round(month))
        used = self._usage.get(key)
        if used is None:
            row = self._db.execute(
                "SELECT quantity FROM usage WHERE account = ? AND utility = ? AND month = ?",
                (account_id, utility.value, key[2]),
            ).fetchone()
            used = self._usage[key] = ZERO if row is None else Decimal(row[0])
        return used

    def add_usage(self, account_id: str, utility: Utility, month: float, quantity: Decimal) -> None:
        used = self.month_used(account_id, utility, month) + quantity
        self._usage[(account_id, utility, round(month))] = used
        self._db.execute(
            "INSERT OR REPLACE INTO usage VALUES (?, ?, ?, ?)",
            (account_id, utility.value, round(month), str(used)),
        )

    def charged(
        self, account_id: str, utility: Utility, hour: float
    ) -> tuple[Decimal, Decimal, int] | None:
        """(quantity charged so far, the hour's unit price, revisions) or None."""
        row = self._db.execute(
            "SELECT quantity, unit_price, revisions FROM charged "
            "WHERE account = ? AND utility = ? AND hour = ?",
            (account_id, utility.value, round(hour)),
        ).fetchone()
        return None if row is None else (Decimal(row[0]), Decimal(row[1]), int(row[2]))

    def charged_hours(self, start: float, end: float) -> dict[tuple[str, Utility, float], Decimal]:
        rows = self._db.execute(
            "SELECT account, utility, hour, quantity FROM charged WHERE hour >= ? AND hour < ?",
            (start, end),
        )
        return {(a, Utility(u), float(h)): Decimal(q) for a, u, h, q in rows}

    def set_charged(  # noqa: PLR0917 (one row's columns)
        self,
        account_id: str,
        utility: Utility,
        hour: float,
        quantity: Decimal,
        unit_price: Decimal,
        revisions: int,
    ) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO charged VALUES (?, ?, ?, ?, ?, ?)",
            (account_id, utility.value, round(hour), str(quantity), str(unit_price), revisions),
        )

    def get_state(self, key: str) -> str | None:
        row = self._db.execute("SELECT value FROM state WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_state(self, key: str, value: str) -> None:
        self._db.execute("INSERT OR REPLACE INTO state VALUES (?, ?)", (key, value))


def _filters(
    account_id: str | None,
    since: float | None,
    until: float | None,
    kinds: Iterable[EntryKind] | None,
) -> tuple[str, list[Any]]:
    """The WHERE clause (with its leading space, or empty) and its arguments."""
    where: list[str] = []
    args: list[Any] = []
    for clause, value in (("account = ?", account_id), ("ts >= ?", since), ("ts < ?", until)):
        if value is not None:
            where.append(clause)
            args.append(value)
    if kinds is not None:
        names = [k.value for k in kinds]
        where.append(f"kind IN ({', '.join('?' for _ in names)})")
        args.extend(names)
    return (" WHERE " + " AND ".join(where) if where else ""), args


def _replace(account: Account, **changes: Any) -> Account:
    return dataclasses.replace(account, **changes)
