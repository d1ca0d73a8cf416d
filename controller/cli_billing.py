"""``sanjie billing …``: prepaid billing from the shell, for the finance office and the night shift.

Reads (``balances``, ``statement``, ``export``, ``verify``) open the ledger next to the running
controller's (SQLite in WAL mode: a consistent snapshot, nothing is locked for long). ``import``
writes, and a running controller keeps every balance in memory, so it refuses while the
controller runs (the lock ``sanjie restore`` also respects) and points to
``POST /api/billing/import``, which applies the file in the controller and restores cut rooms
within one poll cycle. Run without the controller (before the first start, or stopped), it
also creates the site's room accounts first, as the controller would.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import getpass
import json
import sys
from collections.abc import Iterator
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated, Literal

import typer
from rich.console import Console
from rich.table import Table

from controller.backup import BackupError, hold_lock
from controller.billing import (
    BillingError,
    CsvImport,
    LedgerStore,
    statement,
    summary_rows,
    sync_accounts,
)
from controller.billing.component import STORE_NAME
from controller.billing.money import to_cents
from controller.billing.statements import (
    STATEMENT_COLUMNS,
    SUMMARY_COLUMNS,
    Statement,
    month_bounds,
    statement_rows,
    to_csv,
    to_xlsx,
)
from controller.config import ConfigError, LoadedSite, load_site
from controller.core import SystemClock
from controller.service import state_dir

__all__ = ["register"]

console = Console()
err_console = Console(stderr=True, soft_wrap=True)

billing = typer.Typer(
    help="Prepaid billing: balances, campus-card imports, statements, exports.",
    no_args_is_help=True,
)

SiteFile = Annotated[Path, typer.Option(help="The site file (its billing: section and zone).")]
DataDir = Annotated[
    Path, typer.Option(help="The controller's base folder (the ledger is in DATA_DIR/var).")
]
Month = Annotated[
    str | None, typer.Option(help="Calendar month, e.g. 2026-03 (default: this month).")
]
Output = Annotated[
    Path | None, typer.Option(help="Write the file here (default: standard output).")
]
ExportFormat = Literal["csv", "xlsx"]


def _fail(message: str) -> typer.Exit:
    err_console.print(f"[red]{message}[/red]", highlight=False)
    return typer.Exit(1)


def _site(path: Path) -> LoadedSite:
    try:
        site = load_site(path)
    except ConfigError as err:
        raise _fail(str(err)) from None
    if site.billing is None:
        raise _fail(f"{path}: the site has no billing: section")
    return site


@contextlib.contextmanager
def _ledger(site: LoadedSite, data_dir: Path, *, create: bool = False) -> Iterator[LedgerStore]:
    """The site's ledger, closed afterwards; a billing error ends the command with its text."""
    path = state_dir(data_dir) / STORE_NAME
    if not create and not path.exists():
        raise _fail(f"no billing ledger at {path}: has the controller run with billing yet?")
    try:
        store = LedgerStore(path, SystemClock(site.campus.timezone))
    except BillingError as err:
        raise _fail(str(err)) from None
    try:
        yield store
    except BillingError as err:
        raise _fail(str(err)) from None
    finally:
        store.close()


def _actor() -> str:
    """Who imports from the shell: the login name, in the ledger's ``actor``."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # no name for this uid (a container)
        return "cli"


def _period(month: str | None, site: LoadedSite) -> tuple[str, float, float]:
    clock = SystemClock(site.campus.timezone)
    name = month or clock.now().strftime("%Y-%m")
    try:
        start, end = month_bounds(name, clock.tz)
    except ValueError as err:
        raise typer.BadParameter(str(err), param_hint="--month") from None
    return name, start, end


def _write(data: bytes, output: Path | None) -> None:
    if output is None:
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
        return
    output.write_bytes(data)
    err_console.print(f"wrote {output} ({len(data):,} bytes)", highlight=False)


@billing.command("import")
def import_batch(
    file: Annotated[Path, typer.Argument(help="A campus-card batch file (CSV).")],
    *,
    site: SiteFile = Path("site.yaml"),
    data_dir: DataDir = Path(),
) -> None:
    """Apply a campus-card batch file of top-ups (all lines or none).

    A line imported before (same transaction id) is skipped. Refused while the controller
    runs: import through its API then.
    """
    loaded = _site(site)
    try:
        data = file.read_bytes()
    except OSError as err:
        raise _fail(f"cannot read {file}: {err.strerror}") from None
    try:
        with hold_lock(state_dir(data_dir)), _ledger(loaded, data_dir, create=True) as store:
            assert loaded.billing is not None
            made = sync_accounts(store, loaded, loaded.billing)
            if made:
                console.print(f"created {made} room account(s) from the site", highlight=False)
            result = CsvImport(store).run(data, actor=_actor(), source=f"campus-card:{file.name}")
    except BackupError:
        raise _fail(
            "the controller is running: import through it instead, "
            "POST /api/billing/import (a top-up token), so balances and cut-offs follow at once"
        ) from None
    console.print(
        f"{result.lines} line(s): {result.applied} applied ({to_cents(result.total)} yuan), "
        f"{result.duplicates} imported before",
        highlight=False,
    )


@billing.command("balances")
def balances(
    *,
    site: SiteFile = Path("site.yaml"),
    data_dir: DataDir = Path(),
    building: Annotated[str | None, typer.Option(help="Only this building.")] = None,
    below: Annotated[
        str | None, typer.Option(help="Only balances below this many yuan, e.g. 10.")
    ] = None,
) -> None:
    """Every account's balance (lowest first)."""
    loaded = _site(site)
    limit = _yuan(below) if below is not None else None
    with _ledger(loaded, data_dir) as store:
        found = store.balances()
        table = Table("account", "building", "room", "beds", "balance (yuan)", "state")
        rows = sorted(
            (a for a in store.accounts() if building in (None, a.building)),
            key=lambda a: (found[a.id], a.id),
        )
        for account in rows:
            value = found[account.id]
            if limit is not None and value >= limit:
                continue
            state = "closed" if not account.open else ("exempt" if account.exempt_until else "")
            table.add_row(
                account.id,
                account.building,
                account.room,
                str(account.beds),
                str(to_cents(value)),
                state,
            )
    console.print(table)


def _yuan(text: str) -> Decimal:
    try:
        return Decimal(text)
    except InvalidOperation:
        raise typer.BadParameter(f"{text!r} is not a number", param_hint="--below") from None


@billing.command("statement")
def statement_command(
    account: Annotated[str, typer.Argument(help="The account: a room, e.g. dorm-1.101.")],
    *,
    month: Month = None,
    format: Annotated[
        Literal["text", "json", "csv", "xlsx"], typer.Option(help="text, json, csv or xlsx.")
    ] = "text",
    output: Output = None,
    site: SiteFile = Path("site.yaml"),
    data_dir: DataDir = Path(),
) -> None:
    """One account's statement for a month: opening, top-ups, use per utility, closing."""
    loaded = _site(site)
    name, start, end = _period(month, loaded)
    with _ledger(loaded, data_dir) as store:
        st = statement(store, account, start, end)
    if format == "text":
        _print_statement(st, name, loaded)
    elif format == "json":
        _write(json.dumps(st.to_json(), ensure_ascii=False, indent=2).encode() + b"\n", output)
    elif format == "csv":
        _write(to_csv(STATEMENT_COLUMNS, statement_rows(st)), output)
    else:
        _write(to_xlsx(STATEMENT_COLUMNS, statement_rows(st), f"{account} {name}"), output)


def _print_statement(st: Statement, month: str, site: LoadedSite) -> None:
    tz = SystemClock(site.campus.timezone).tz
    console.print(
        f"[bold]{st.account.id}[/bold]  {st.account.building} room {st.account.room}, "
        f"{st.account.beds} bed(s)  —  {month}",
        highlight=False,
    )
    figures = Table("", "yuan", show_header=False)
    for label, value in (
        ("opening balance", st.opening),
        ("top-ups", st.top_ups),
        ("refunds", -st.refunds),
        ("adjustments", st.adjustments),
        ("charges", -st.charges),
        ("closing balance", st.closing),
    ):
        figures.add_row(label, str(to_cents(value)))
    console.print(figures)
    uses = Table("utility", "used", "free", "held (not charged)", "charged (yuan)")
    for line in st.utilities.values():
        uses.add_row(
            line.utility.value,
            str(line.quantity),
            str(line.free),
            str(line.held),
            str(to_cents(line.amount)),
        )
    console.print(uses)
    entries = Table("time", "kind", "utility", "quantity", "amount", "balance", "who", "why")
    for e in st.entries:
        entries.add_row(
            dt.datetime.fromtimestamp(e.ts, tz).strftime("%m-%d %H:%M"),
            e.kind.value,
            e.utility.value if e.utility else "",
            "" if e.quantity is None else str(e.quantity),
            str(e.amount),
            str(e.balance_after),
            e.actor,
            e.reason,
        )
    console.print(entries)


@billing.command("export")
def export(
    *,
    month: Month = None,
    format: Annotated[ExportFormat, typer.Option(help="csv or xlsx.")] = "csv",
    output: Output = None,
    building: Annotated[str | None, typer.Option(help="Only this building.")] = None,
    site: SiteFile = Path("site.yaml"),
    data_dir: DataDir = Path(),
) -> None:
    """The finance office's month: one row per account.

    Opening, top-ups, refunds, use and charges per utility, closing: the same table as
    GET /api/billing/export.
    """
    loaded = _site(site)
    name, start, end = _period(month, loaded)
    with _ledger(loaded, data_dir) as store:
        rows = summary_rows(store, start, end, None if building is None else [building])
    if format == "xlsx":
        if output is None and sys.stdout.isatty():
            raise typer.BadParameter("an XLSX file needs --output", param_hint="--output")
        _write(to_xlsx(SUMMARY_COLUMNS, rows, f"billing {name}"), output)
    else:
        _write(to_csv(SUMMARY_COLUMNS, rows), output)


@billing.command("verify")
def verify(*, site: SiteFile = Path("site.yaml"), data_dir: DataDir = Path()) -> None:
    """Check the ledger: every entry follows on from the one before, every balance adds up."""
    loaded = _site(site)
    with _ledger(loaded, data_dir) as store:
        problems = store.verify()
        count = store.count_entries()
    for problem in problems[:50]:
        err_console.print(problem, highlight=False)
    if problems:
        raise _fail(f"{len(problems)} problem(s) in {count} ledger entries")
    console.print(f"{count} ledger entries, every balance adds up", highlight=False)


def register(app: typer.Typer) -> None:
    """Add ``billing`` to the ``sanjie`` command."""
    app.add_typer(billing, name="billing")
