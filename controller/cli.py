"""The ``sanjie`` command line.

Exit codes: 0 success, 1 invalid configuration or failed check, 2 usage error, 130 interrupted.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from controller.config import ConfigError, LoadedSite, load_site
from controller.config.paths import builtin_dir
from controller.config.profile import Profile
from controller.core import EntityRegistry

__all__ = ["app", "main"]

app = typer.Typer(
    name="sanjie",
    help="sanjie 三节: metering and savings controller for campus dorms and canteens.",
    no_args_is_help=True,
    rich_markup_mode="rich",
    pretty_exceptions_enable=False,
)
console = Console()
err_console = Console(stderr=True, soft_wrap=True)

EXIT_INVALID = 1


def example_site() -> Path:
    """The example campus shipped with sanjie."""
    return builtin_dir("examples") / "campus" / "site.yaml"


def load_or_exit(path: Path) -> LoadedSite:
    """Load a site, or print every configuration error and exit 1."""
    try:
        return load_site(path)
    except ConfigError as err:
        for issue in err.issues:
            err_console.print(str(issue), markup=False, highlight=False)
        err_console.print(f"[red]{len(err.issues)} error(s)[/red] in {path}")
        raise typer.Exit(EXIT_INVALID) from None


def summary_table(site: LoadedSite, registry: EntityRegistry) -> Table:
    """Buildings with their rooms, devices and entities, for check-config and the demo."""
    table = Table(title=f"{site.campus.name.zh} ({site.campus.id})", show_lines=False)
    for col in (
        "楼宇 Building",
        "类型 Kind",
        "楼层 Floors",
        "房间 Rooms",
        "设备 Devices",
        "实体 Entities",
    ):
        table.add_column(col)
    devices_per = Counter(d.building for d in site.devices.values())
    entities_per = Counter(e.building for e in registry)
    for b in site.buildings.values():
        table.add_row(
            f"{b.name.zh} / {b.name.en or b.id}",
            b.kind.value,
            str(b.floors),
            str(len(b.rooms)),
            str(devices_per[b.id]),
            str(entities_per[b.id]),
        )
    return table


def print_summary(site: LoadedSite, registry: EntityRegistry) -> None:
    console.print(summary_table(site, registry))
    per_profile = Counter(d.profile for d in site.devices.values())
    table = Table(title="设备型号 Devices per profile")
    table.add_column("Profile")
    table.add_column("Model")
    table.add_column("Devices", justify="right")
    for pid, count in sorted(per_profile.items()):
        prof = site.profiles[pid]
        table.add_row(pid, f"{prof.manufacturer} {prof.model}", str(count))
    console.print(table)
    rooms = sum(len(b.rooms) for b in site.buildings.values())
    console.print(
        f"{len(site.buildings)} buildings, {rooms} rooms, {len(site.links)} links, "
        f"{len(site.devices)} devices, {len(registry)} entities, {len(site.policies)} policies"
    )


@app.command("check-config")
def check_config(
    path: Annotated[Path, typer.Argument(help="The site file (site.yaml).")],
) -> None:
    """Validate a site and its profiles: print every error (exit 1) or a summary (exit 0)."""
    started = time.perf_counter()
    site = load_or_exit(path)
    registry = EntityRegistry.from_site(site)
    print_summary(site, registry)
    console.print(f"[green]OK[/green] {path} in {time.perf_counter() - started:.2f} s")


@app.command("schema")
def schema(
    out: Annotated[Path, typer.Option(help="Folder to write the schemas into.")] = Path("schema"),
) -> None:
    """Write JSON Schemas for site and profile files (for editor autocompletion)."""
    from controller.config.schema import site_json_schema

    out.mkdir(parents=True, exist_ok=True)
    (out / "site.schema.json").write_text(
        json.dumps(site_json_schema(), indent=2, ensure_ascii=False), encoding="utf-8"
    )
    (out / "profile.schema.json").write_text(
        json.dumps(Profile.model_json_schema(), indent=2, ensure_ascii=False), encoding="utf-8"
    )
    console.print(f"wrote {out / 'site.schema.json'} and {out / 'profile.schema.json'}")


@app.command("gen-site")
def gen_site(
    rooms: Annotated[int, typer.Option(min=1, help="Dorm rooms to generate.")] = 240,
    out: Annotated[Path, typer.Option(help="Output folder.")] = Path("generated-site"),
    rooms_per_floor: Annotated[int, typer.Option(min=1, max=20)] = 20,
    floors: Annotated[int, typer.Option(min=1, max=60)] = 6,
    first_port: Annotated[int, typer.Option(min=1024, max=65000)] = 15020,
) -> None:
    """Write an N-room campus (for benchmarks and trials) and print its site file."""
    from controller.sitegen import SiteShape, write_site

    started = time.perf_counter()
    site = write_site(
        out,
        SiteShape(
            rooms=rooms, rooms_per_floor=rooms_per_floor, floors=floors, first_port=first_port
        ),
    )
    console.print(f"wrote {site} in {time.perf_counter() - started:.2f} s")


@app.command("demo")
def demo(
    site: Annotated[
        Path | None, typer.Option(help="Site file; the example campus when omitted.")
    ] = None,
) -> None:
    """Run the demo campus. For now: load the example campus, validate it, show its structure."""
    path = site or example_site()
    loaded = load_or_exit(path)
    registry = EntityRegistry.from_site(loaded)
    print_summary(loaded, registry)


def main() -> None:
    """Console-script entry point."""
    try:
        app()
    except KeyboardInterrupt:
        raise SystemExit(130) from None
