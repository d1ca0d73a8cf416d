"""The ``sanjie`` command line.

Exit codes: 0 success, 1 invalid configuration or failed check, 2 usage error, 130 interrupted.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from pathlib import Path
from typing import Annotated, cast

import typer
from rich.console import Console
from rich.table import Table

from controller import (
    cli_accounts,
    cli_alarms,
    cli_backup,
    cli_billing,
    cli_commission,
    cli_diners,
    cli_report,
    eventloop,
)
from controller.cli_site import EXIT_INVALID, load_or_exit
from controller.config import ConfigError, LoadedSite
from controller.config.paths import builtin_dir
from controller.config.profile import Profile

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


def example_site() -> Path:
    """The example campus shipped with sanjie."""
    return builtin_dir("examples") / "campus" / "site.yaml"


_MAX_BUILDING_ROWS = 20
"""Bigger campuses are summarised per kind of building: 84 identical dorm rows help no one."""


def _entity_counts(site: LoadedSite) -> Counter[str]:
    """Entities per building, counted from the profiles (no need to build 200k entities)."""
    counts: Counter[str] = Counter()
    for device in site.devices.values():
        counts[device.building] += len(site.profiles[device.profile].points)
    return counts


def summary_table(site: LoadedSite, entities: Counter[str] | None = None) -> Table:
    """Buildings (or kinds of building) with rooms, devices and entities."""
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
    entities_per = entities if entities is not None else _entity_counts(site)
    buildings = list(site.buildings.values())
    if len(buildings) <= _MAX_BUILDING_ROWS:
        for b in buildings:
            table.add_row(
                f"{b.name.zh} / {b.name.en or b.id}",
                b.kind.value,
                str(b.floors),
                str(len(b.rooms)),
                str(devices_per[b.id]),
                str(entities_per[b.id]),
            )
        return table
    for kind in dict.fromkeys(b.kind for b in buildings):
        same = [b for b in buildings if b.kind is kind]
        table.add_row(
            f"{len(same)} × {kind.value}",
            kind.value,
            str(sum(b.floors for b in same)),
            str(sum(len(b.rooms) for b in same)),
            str(sum(devices_per[b.id] for b in same)),
            str(sum(entities_per[b.id] for b in same)),
        )
    return table


def print_summary(site: LoadedSite) -> None:
    """The site's structure: buildings, devices per profile, and the totals."""
    entities = _entity_counts(site)
    console.print(summary_table(site, entities))
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
        f"{len(site.devices)} devices, {entities.total()} entities, "
        f"{len(site.policies)} policies",
        soft_wrap=True,
    )


@app.command("check-config")
def check_config(
    path: Annotated[Path, typer.Argument(help="The site file (site.yaml).")],
) -> None:
    """Validate a site and its profiles: print every error (exit 1) or a summary (exit 0)."""
    started = time.perf_counter()
    site = load_or_exit(path)
    print_summary(site)
    console.print(
        f"[green]OK[/green] {path} in {time.perf_counter() - started:.2f} s", soft_wrap=True
    )


@app.command("policies")
def policies(
    path: Annotated[Path, typer.Argument(help="The site file (site.yaml).")],
) -> None:
    """List the site's policies: type, priority and how many units (rooms, devices) each drives."""
    from controller.calendar import SiteCalendar
    from controller.policies.scope import SiteIndex
    from controller.policies.types import build_policy

    site = load_or_exit(path)
    index = SiteIndex.from_site(site)
    calendar = SiteCalendar.from_site(site)
    table = Table(title="策略 Policies")
    for column in ("id", "类型 Type", "启用 On", "优先级 Priority", "单元 Units", "名称 Name"):
        table.add_column(column)
    for config in site.policies:
        policy = build_policy(config, index, calendar)
        name = config.name.get() if config.name else ""
        on = "yes" if config.enabled else "no"
        units = str(len(policy.units))
        table.add_row(config.id, config.type, on, str(policy.priority), units, name)
    console.print(table)


@app.command("calendar")
def calendar(
    path: Annotated[Path, typer.Argument(help="The site file (site.yaml).")],
    year: Annotated[
        int | None, typer.Option(min=2000, max=2100, help="Default: this year.")
    ] = None,
) -> None:
    """Print every non-ordinary day of a year (holidays, make-up working days) with its source."""
    import datetime as dt
    import zoneinfo

    from controller.calendar import SiteCalendar
    from controller.calendar_report import year_table

    site = load_or_exit(path)
    try:
        site_calendar = SiteCalendar.from_site(site)
    except ConfigError as err:
        for issue in err.issues:
            err_console.print(str(issue), markup=False, highlight=False)
        raise typer.Exit(EXIT_INVALID) from None
    console.print(
        year_table(
            site_calendar, year or dt.datetime.now(zoneinfo.ZoneInfo(site.campus.timezone)).year
        )
    )


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
    *,
    rooms: Annotated[int, typer.Option(min=1, help="Dorm rooms to generate.")] = 240,
    out: Annotated[Path, typer.Option(help="Output folder.")] = Path("generated-site"),
    rooms_per_floor: Annotated[int, typer.Option(min=1, max=20)] = 20,
    floors: Annotated[int, typer.Option(min=1, max=60)] = 6,
    first_port: Annotated[int, typer.Option(min=1024, max=65000)] = 15020,
    explicit: Annotated[
        bool,
        typer.Option(
            "--explicit",
            help="Write every dorm room and device out instead of per-floor/per-room templates.",
        ),
    ] = False,
    relay_password: Annotated[
        str | None,
        typer.Option(
            help="The DL/T 645 links' relay password (6 digits, or 'random' for a fresh one); "
            "without one the meters refuse relay commands (the example campus keeps none).",
        ),
    ] = None,
) -> None:
    """Write an N-room campus (for benchmarks and trials) and print its site file."""
    from controller.sitegen import SiteShape, random_relay_password, write_site

    if relay_password == "random":  # noqa: S105 (a keyword, not a password)
        relay_password = random_relay_password()

    started = time.perf_counter()
    try:
        shape = SiteShape(
            rooms=rooms,
            rooms_per_floor=rooms_per_floor,
            floors=floors,
            first_port=first_port,
            layout="explicit" if explicit else "templates",
            relay_password=relay_password,
        )
    except ValueError as err:
        raise typer.BadParameter(str(err)) from err
    site = write_site(out, shape)
    console.print(f"wrote {site} in {time.perf_counter() - started:.2f} s")


def _demo_logging(live: bool) -> None:
    """Warnings and errors above the live view: rich keeps them out of its way only when they
    go through the console the view draws on (stderr when headless)."""
    import logging

    from rich.logging import RichHandler

    root = logging.getLogger()
    if not root.handlers:
        root.addHandler(RichHandler(console=console if live else err_console, show_path=False))
        root.setLevel(logging.WARNING)
        # aiomqtt's back-pressure notes: the emulated devices publish faster than real ones
        logging.getLogger("mqtt").setLevel(logging.ERROR)


def _loop_choice(loop: str) -> eventloop.LoopChoice:
    """``--loop``, checked (a typo is a usage error, not a silent fallback)."""
    if loop not in eventloop.LOOPS:
        raise typer.BadParameter(f"use one of {', '.join(eventloop.LOOPS)}", param_hint="--loop")
    return cast(eventloop.LoopChoice, loop)


@app.command("demo")
def demo(
    site: Annotated[
        Path | None, typer.Option(help="Site file; the example campus when omitted.")
    ] = None,
    *,
    speed: Annotated[
        float, typer.Option(min=0.01, help="Emulated seconds per wall-clock second.")
    ] = 10.0,
    duration: Annotated[
        float | None, typer.Option(min=0, help="Stop after this many seconds (exit 0).")
    ] = None,
    seed: Annotated[int, typer.Option(help="Random seed of the emulated campus.")] = 0,
    free_ports: Annotated[
        bool, typer.Option(help="Emulators on free ports instead of the site's.")
    ] = False,
    headless: Annotated[
        bool, typer.Option(help="No live view; print the final state at the end.")
    ] = False,
    api_port: Annotated[
        int, typer.Option(min=0, max=65535, help="API port on 127.0.0.1 (0: no API).")
    ] = 8123,
    loop: Annotated[
        str, typer.Option(help="Event loop: auto (uvloop when installed), uvloop or asyncio.")
    ] = "auto",
) -> None:
    """Run the example campus: emulated devices, the controller polling them, a live view.

    Ctrl-C stops everything cleanly.
    """
    from controller.demo import DemoOptions, run_demo

    path = site or example_site()
    load_or_exit(path)
    _demo_logging(live=not headless and console.is_terminal)
    options = DemoOptions(
        site=path,
        speed=speed,
        duration=duration,
        seed=seed,
        free_ports=free_ports,
        headless=headless or not console.is_terminal,
        api_port=api_port or None,
    )
    try:
        eventloop.run(run_demo(options, console), _loop_choice(loop))
    except OSError as err:
        err_console.print(f"[red]cannot start the demo:[/red] {err} (try --free-ports)")
        raise typer.Exit(EXIT_INVALID) from None


@app.command("emulate")
def emulate(
    site: Annotated[Path, typer.Argument(help="The site file (site.yaml).")],
    *,
    speed: Annotated[
        float, typer.Option(min=0.01, help="Emulated seconds per wall-clock second.")
    ] = 1.0,
    seed: Annotated[int, typer.Option(help="Random seed of the device models.")] = 0,
    latency: Annotated[
        float | None,
        typer.Option(
            min=0, help="Seconds per transaction on every bus (default: from baud rates)."
        ),
    ] = None,
    free_ports: Annotated[
        bool, typer.Option(help="Listen on free ports instead of the site's.")
    ] = False,
    fault: Annotated[
        list[str] | None,
        typer.Option(
            help="Inject a fault, TARGET:KIND[=ARG] (repeatable), e.g. "
            "dorm-1.101.elec:no_reply, gw-dorm-1-f1:drop=50, dorm-1.101.cold:exception=2."
        ),
    ] = None,
    duration: Annotated[
        float | None, typer.Option(min=0, help="Stop after this many seconds.")
    ] = None,
    mqtt_fault_rate: Annotated[
        float,
        typer.Option(
            min=0, max=1, help="Share of MQTT messages sent malformed, duplicated or incomplete."
        ),
    ] = 0.0,
) -> None:
    """Serve every device of a site: Modbus on loopback where its links point, MQTT devices
    on their link's broker (a link without a host: the broker on this machine at the link's
    port, started there if none listens; `sanjie run` finds it there). Ctrl-C stops."""
    import asyncio
    import contextlib
    import signal

    from controller.broker import site_brokers
    from controller.core import ScaledClock
    from emulators.meterbus.serve import serve_meters
    from emulators.modbus.serve import serve_site
    from emulators.mqtt.serve import serve_mqtt

    loaded = load_or_exit(site)
    clock = ScaledClock(speed, tz=loaded.campus.timezone)

    async def serve() -> None:
        # SIGTERM (kill, systemd) stops as cleanly as Ctrl-C: local brokers are shut down too.
        task = asyncio.current_task()
        terminated = False

        def terminate() -> None:
            nonlocal terminated
            terminated = True
            if task is not None:
                task.cancel()

        with contextlib.suppress(NotImplementedError, RuntimeError):
            asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, terminate)
        try:
            await emulate_site()
        except asyncio.CancelledError:
            if not terminated:
                raise

    async def emulate_site() -> None:
        async with contextlib.AsyncExitStack() as stack:
            found = await site_brokers(loaded, stack, free_ports=free_ports)
            brokers = {link_id: (b.host, b.port) for link_id, b in found.items()}
            await stack.enter_async_context(
                serve_mqtt(
                    loaded, clock, console, brokers=brokers, seed=seed, fault_rate=mqtt_fault_rate
                )
            )
            modbus_faults = await stack.enter_async_context(
                serve_meters(
                    loaded,
                    clock,
                    console,
                    seed=seed,
                    latency=latency,
                    free_ports=free_ports,
                    faults=fault or [],
                )
            )
            await serve_site(
                loaded,
                clock,
                console,
                seed=seed,
                latency=latency,
                free_ports=free_ports,
                faults=modbus_faults,
                duration=duration,
            )

    try:
        asyncio.run(serve())
    except (OSError, ValueError) as err:
        err_console.print(f"[red]cannot emulate:[/red] {err}")
        raise typer.Exit(EXIT_INVALID) from None


@app.command("run")
def run(
    site: Annotated[Path, typer.Argument(help="The site file (site.yaml).")],
    *,
    data_dir: Annotated[
        Path, typer.Option(help="Base folder; state files go to DATA_DIR/var.")
    ] = Path(),
    api_host: Annotated[str, typer.Option(help="Address the HTTP API listens on.")] = "127.0.0.1",
    api_port: Annotated[int, typer.Option(min=1, max=65535, help="Port of the HTTP API.")] = 8123,
    log_level: Annotated[
        str, typer.Option(help="Logging level: debug, info, warning or error.")
    ] = "info",
    speed: Annotated[
        float,
        typer.Option(
            min=0.01,
            hidden=True,
            help="Emulated seconds per wall-clock second: rehearsals and tests against "
            "`sanjie emulate`, never a real site.",
        ),
    ] = 1.0,
    start: Annotated[
        float | None,
        typer.Option(hidden=True, help="Epoch seconds the emulated clock starts at."),
    ] = None,
    loop: Annotated[
        str, typer.Option(help="Event loop: auto (uvloop when installed), uvloop or asyncio.")
    ] = "auto",
) -> None:
    """Run the controller of a site, as a service: devices, recorder, policies and the API.

    Exits 1 on an invalid site, 0 after SIGTERM or Ctrl-C.
    """
    from controller.logs import configure_logging
    from controller.service import ServiceOptions, run_service

    if log_level.upper() not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        raise typer.BadParameter("use debug, info, warning or error", param_hint="--log-level")
    loaded = load_or_exit(site)
    configure_logging(log_level)
    from controller.integrations.mqtt_export import CommandAccountError

    clock = None
    if speed != 1.0 or start is not None:
        from controller.core import ScaledClock

        clock = ScaledClock(speed, start, tz=loaded.campus.timezone)
        err_console.print(f"[yellow]emulated clock: {speed:g}× wall time[/yellow]")
    options = ServiceOptions(site, data_dir, api_host, api_port, clock=clock)
    try:
        eventloop.run(run_service(options, site=loaded), _loop_choice(loop))
    except (OSError, CommandAccountError) as err:
        err_console.print(f"[red]cannot start:[/red] {err}")
        raise typer.Exit(EXIT_INVALID) from None


def _version(value: bool) -> None:
    if value:
        from controller import __version__

        console.print(f"sanjie {__version__}")
        raise typer.Exit


@app.callback()
def _options(
    *,
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """sanjie 三节: metering and savings controller for campus dorms and canteens."""


cli_commission.register(app)
cli_backup.register(app)
cli_accounts.register(app)
cli_alarms.register(app)
cli_report.register(app)
cli_billing.register(app)
cli_diners.register(app)


def main() -> None:
    """Console-script entry point."""
    try:
        app()
    except KeyboardInterrupt:
        raise SystemExit(130) from None
