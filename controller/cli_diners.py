"""``sanjie diners``: import canteen diner counts from a card-system or turnstile export (CSV).

The file format is in ``controller.reports.diners`` and ``docs/reports.md``. The counts go to
``var/diners.sqlite3``, where reports read them; the import is also in the audit log. It is
safe while the controller runs (its own SQLite file, read when a report is built).
"""

from __future__ import annotations

import datetime as dt
import getpass
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from controller.audit import AuditLog
from controller.cli_site import load_or_exit
from controller.core.clock import SystemClock
from controller.reports.diners import DinerStore, parse_diner_csv
from controller.reports.errors import DinerCsvError
from controller.reports.sources import DINERS_NAME

__all__ = ["register"]

console = Console()
err_console = Console(stderr=True, soft_wrap=True)
diners = typer.Typer(help="Canteen diner counts imported from a card-system export (CSV).")

SiteFile = Annotated[Path, typer.Option(help="The site file.")]
DataDir = Annotated[
    Path, typer.Option(help="The controller's base folder (its stores are under var/).")
]
EXIT_BAD_FILE = 2


def _actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # no name for this uid (a container)
        return "cli"


@diners.command("import")
def import_counts(
    file: Annotated[Path, typer.Argument(help="CSV with the header canteen,date,meal,count.")],
    *,
    site: SiteFile = Path("site.yaml"),
    data_dir: DataDir = Path(),
) -> None:
    """Import diner counts (all rows or none); a re-import of the same file changes nothing."""
    loaded = load_or_exit(site)
    try:
        text = file.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as err:
        err_console.print(f"[red]cannot read {file}:[/red] {err}", highlight=False)
        raise typer.Exit(EXIT_BAD_FILE) from None
    try:
        rows = parse_diner_csv(text, loaded)
    except DinerCsvError as err:
        for line, field, reason in err.problems:
            err_console.print(f"{file}:{line}: {field}: {reason}", highlight=False, markup=False)
        err_console.print(f"[red]{len(err.problems)} bad row(s)[/red]: nothing imported")
        raise typer.Exit(EXIT_BAD_FILE) from None
    var = data_dir / "var"
    clock = SystemClock(loaded.campus.timezone)
    store = DinerStore(var / DINERS_NAME)
    try:
        result = store.put(rows, source=f"csv:{file.name}", now=clock.time())
    finally:
        store.close()
    audit = AuditLog(var / "audit.sqlite3", clock)
    try:
        audit.record(
            _actor(),
            "diners.import",
            file.name,
            details={"rows": result.rows, "added": result.added, "changed": result.changed},
        )
    finally:
        audit.close()
    console.print(
        f"{result.rows} row(s): {result.added} added, {result.changed} changed, "
        f"{result.unchanged} already imported",
        highlight=False,
    )


@diners.command("list")
def list_counts(
    *,
    first: Annotated[str, typer.Option("--from", help="First day, YYYY-MM-DD.")],
    last: Annotated[str, typer.Option("--to", help="Last day, YYYY-MM-DD.")],
    data_dir: DataDir = Path(),
) -> None:
    """Print the imported counts of the days --from..--to as CSV (the import format)."""
    try:
        start, end = dt.date.fromisoformat(first), dt.date.fromisoformat(last)
    except ValueError as err:
        raise typer.BadParameter(str(err), param_hint="--from/--to") from None
    path = data_dir / "var" / DINERS_NAME
    console.print("canteen,date,meal,count", highlight=False)
    if not path.exists():
        return
    store = DinerStore(path)
    try:
        for row in store.between(start, end):
            console.print(f"{row.canteen},{row.date},{row.meal},{row.count}", highlight=False)
    finally:
        store.close()


def register(app: typer.Typer) -> None:
    """Add ``diners`` to the ``sanjie`` command."""
    app.add_typer(diners, name="diners")
