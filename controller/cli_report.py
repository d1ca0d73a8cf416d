"""``sanjie report``: build a campaign report from the controller's stores, with a progress bar."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from controller.cli_site import load_or_exit
from controller.reports import ReportError, ReportRequest, parse_scope, parse_span
from controller.reports.generate import generate, total_steps
from controller.reports.render import parse_formats

__all__ = ["register"]

console = Console()
err_console = Console(stderr=True, soft_wrap=True)


def report_command(
    *,
    period: Annotated[
        str, typer.Option(help="YYYY-MM (a month) or YYYY-MM-DD..YYYY-MM-DD (inclusive).")
    ],
    site: Annotated[Path, typer.Option(help="The site file.")] = Path("site.yaml"),
    scope: Annotated[
        str, typer.Option(help="campus, building:ID, canteen:ID, floor:ID/N or room:ID/ROOM.")
    ] = "campus",
    formats: Annotated[
        str, typer.Option("--format", help="Comma-separated: xlsx, pdf, html, csv.")
    ] = "xlsx,pdf",
    out: Annotated[Path, typer.Option(help="Folder for the files.")] = Path("reports"),
    baseline: Annotated[
        str | None,
        typer.Option(help="Baseline period (default: the site's reports.baseline rule)."),
    ] = None,
    language: Annotated[str, typer.Option("--lang", help="zh (default) or en.")] = "zh",
    data_dir: Annotated[
        Path, typer.Option(help="The controller's base folder (its stores are under var/).")
    ] = Path(),
) -> None:
    """Build the 三节 campaign report for a period and scope."""
    loaded = load_or_exit(site)
    try:
        if language not in ("zh", "en"):
            raise typer.BadParameter("use zh or en", param_hint="--lang")
        request = ReportRequest(
            parse_span(period, "--period"),
            parse_scope(scope, loaded, "--scope"),
            language,
            parse_span(baseline, "--baseline") if baseline else None,
        )
        wanted = parse_formats(formats, "--format")
        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.completed}/{task.total}"),
            TimeElapsedColumn(),
            console=err_console,
            transient=True,
        ) as progress:
            task = progress.add_task("report", total=total_steps(wanted))

            def step(what: str) -> None:
                progress.update(task, advance=1, description=what)

            _, files = asyncio.run(
                generate(loaded, data_dir, request, formats=wanted, out_dir=out, on_step=step)
            )
    except ReportError as err:
        err_console.print(f"[red]report failed:[/red] {err}", highlight=False)
        raise typer.Exit(1) from None
    for path in files:
        console.print(str(path), highlight=False)


def register(app: typer.Typer) -> None:
    """Add ``report`` to the ``sanjie`` command."""
    app.command("report")(report_command)
