"""``sanjie backup DIR`` and ``sanjie restore DIR``: the commands around ``controller.backup``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from controller.backup import BackupError, Manifest, backup, restore
from controller.service import state_dir

__all__ = ["register"]

console = Console()
err_console = Console(stderr=True, soft_wrap=True)

DataDir = Annotated[
    Path, typer.Option(help="The controller's base folder (its state files are in DATA_DIR/var).")
]


def _print(manifest: Manifest, verb: str, where: str) -> None:
    for f in manifest.files:
        console.print(f"  {f.name}  schema v{f.schema_version}  {f.bytes:,} bytes", highlight=False)
    console.print(f"{verb} {len(manifest.files)} store(s) {where}", highlight=False)


def backup_command(
    dest: Annotated[Path, typer.Argument(help="A new (or empty) folder for the copies.")],
    *,
    data_dir: DataDir = Path(),
) -> None:
    """Copy every SQLite store consistently, also while the controller runs."""
    try:
        manifest = backup(state_dir(data_dir), dest)
    except BackupError as err:
        err_console.print(f"[red]backup failed:[/red] {err}", highlight=False)
        raise typer.Exit(1) from None
    _print(manifest, "backed up", f"into {dest}")


def restore_command(
    source: Annotated[Path, typer.Argument(help="A folder written by `sanjie backup`.")],
    *,
    data_dir: DataDir = Path(),
) -> None:
    """Replace the controller's stores with a backup (stop the controller first)."""
    try:
        manifest = restore(source, state_dir(data_dir))
    except BackupError as err:
        err_console.print(f"[red]restore failed:[/red] {err}", highlight=False)
        raise typer.Exit(1) from None
    _print(manifest, "restored", f"from {source} (made by sanjie {manifest.sanjie_version})")


def register(app: typer.Typer) -> None:
    """Add ``backup`` and ``restore`` to the ``sanjie`` command."""
    app.command("backup")(backup_command)
    app.command("restore")(restore_command)
