"""``sanjie profiles``, ``sanjie probe`` and ``sanjie scan``: the installer's commands.

Kept apart from ``cli.py`` so the commissioning tools and their output format live in one
place; ``cli.py`` only registers them.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table as RichTable

from controller.commission import BusUnreachable, ProbedPoint, adhoc_link, probe_device, scan_bus
from controller.config import ConfigError, LoadedSite, Profile, ProfileLibrary, load_site
from controller.config.site import ModbusTcpLink, RtuOverTcpLink, SerialLink
from controller.integrations.modbus import link_spec
from drivers.modbus import LinkSpec
from wire.modbus import Table

__all__ = ["register"]

console = Console()
err_console = Console(stderr=True, soft_wrap=True)
EXIT_FAILED = 1

LinkArgument = Annotated[
    str,
    typer.Argument(help="A link id of --site, tcp://HOST:PORT, rtu+tcp://HOST:PORT or /dev/tty…"),
]
SiteOption = Annotated[
    Path | None,
    typer.Option("--site", help="A site file whose link ids and profile folders to use."),
]


def _fail(message: str) -> typer.Exit:
    err_console.print(f"[red]{message}[/red]", highlight=False)
    return typer.Exit(EXIT_FAILED)


def _site(path: Path | None) -> LoadedSite | None:
    if path is None:
        return None
    try:
        return load_site(path)
    except ConfigError as err:
        for issue in err.issues:
            err_console.print(str(issue), markup=False, highlight=False)
        raise _fail(f"{len(err.issues)} error(s) in {path}") from None


def _library(site_path: Path | None) -> ProfileLibrary:
    return ProfileLibrary([site_path.parent / "profiles"] if site_path else [])


def _profile(library: ProfileLibrary, name: str) -> Profile:
    found = library.load(name)
    if found is None:
        raise _fail(f"no profile {name!r}; `sanjie profiles` lists them")
    if isinstance(found, list):
        for issue in found:
            err_console.print(str(issue), markup=False, highlight=False)
        raise _fail(f"profile {name!r} is invalid")
    return found


def _link(site: LoadedSite | None, target: str, baudrate: int, parity: str) -> LinkSpec:
    if site is not None and target in site.links:
        config = site.links[target]
        if not isinstance(config, ModbusTcpLink | RtuOverTcpLink | SerialLink):
            raise _fail(f"link {target!r} is not a Modbus link")
        return link_spec(config)
    try:
        return adhoc_link(target, baudrate=baudrate, parity=parity)
    except ValueError as err:
        raise _fail(str(err)) from None


def profiles(
    name: Annotated[str | None, typer.Argument(help="Show one profile: vendor/model.")] = None,
    *,
    site: SiteOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List the device profiles (built in, and the site's own), or show one point by point."""
    library = _library(site)
    if name is None:
        rows = []
        for profile_id in library.available():
            found = library.load(profile_id)
            if isinstance(found, Profile):
                rows.append((profile_id, found))
        if as_json:
            out = [
                {
                    "id": pid,
                    "manufacturer": p.manufacturer,
                    "model": p.model,
                    "protocol": p.protocol,
                    "points": len(p.points),
                }
                for pid, p in rows
            ]
            console.print_json(json.dumps(out, ensure_ascii=False))
            return
        table = RichTable("profile", "manufacturer", "model", "protocol", "points")
        for pid, p in rows:
            table.add_row(pid, p.manufacturer, p.model, p.protocol, str(len(p.points)))
        console.print(table)
        return
    profile = _profile(library, name)
    if as_json:
        console.print_json(profile.model_dump_json(exclude_none=True))
        return
    console.print(
        f"[bold]{name}[/bold]: {profile.manufacturer} {profile.model} ({profile.protocol})"
    )
    console.print(f"source: {profile.source}", highlight=False)
    table = RichTable("key", "name", "unit", "address", "type", "writable")
    for point in profile.points:
        where = "—"
        kind = "—"
        if point.modbus is not None:
            where = (
                f"{point.modbus.table.value} {point.modbus.address} (0x{point.modbus.address:04X})"
            )
            kind = point.modbus.type.value
        elif point.mqtt is not None:
            where = point.mqtt.model_dump_json(exclude_none=True)
        elif point.dlt645 is not None:
            bit = f" bit {point.dlt645.bit}" if point.dlt645.bit is not None else ""
            where = f"DI {point.dlt645.di.upper()}{bit}"
            # standard identifiers take their packing from the driver's table
            kind = point.dlt645.encoding if point.dlt645.length else "standard"
        elif point.cjt188 is not None:
            where = f"901F {point.cjt188.field}"
        table.add_row(
            point.key, point.name.zh, point.unit or "", where, kind, "yes" if point.writable else ""
        )
    console.print(table)


def _value_text(probed: ProbedPoint) -> str:
    if probed.error is not None:
        return f"[red]{probed.error}[/red]"
    unit = probed.point.unit or ""
    return f"{probed.value} {unit}".strip()


def probe(
    link: Annotated[
        str,
        typer.Argument(
            help="A link id of --site, tcp://HOST:PORT, rtu+tcp://HOST:PORT or /dev/tty…"
        ),
    ],
    unit: Annotated[int, typer.Argument(min=1, max=247, help="Modbus unit id.")],
    profile: Annotated[str, typer.Argument(help="Profile id, e.g. eastron/sdm120.")],
    *,
    site: SiteOption = None,
    baudrate: Annotated[int, typer.Option(help="Serial ports only.")] = 9600,
    parity: Annotated[str, typer.Option(help="Serial ports only: N, E or O.")] = "N",
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Read one device now and print every point decoded (nothing is recorded).

    Exits 1 when the bus cannot be reached or no point could be read.
    """
    loaded = _site(site)
    spec = _link(loaded, link, baudrate, parity)
    chosen = _profile(_library(site), profile)
    try:
        points = asyncio.run(probe_device(spec, unit, chosen))
    except BusUnreachable as err:
        raise _fail(str(err)) from None
    if as_json:
        out = [
            {"key": p.point.key, "value": p.value, "unit": p.point.unit, "error": p.error}
            for p in points
        ]
        console.print_json(json.dumps(out, ensure_ascii=False))
    else:
        table = RichTable("key", "name", "value", title=f"{link} unit {unit} · {profile}")
        for p in points:
            table.add_row(p.point.key, p.point.name.zh, _value_text(p))
        console.print(table)
    if all(p.error is not None for p in points):
        raise typer.Exit(EXIT_FAILED)


def scan(
    link: Annotated[
        str,
        typer.Argument(
            help="A link id of --site, tcp://HOST:PORT, rtu+tcp://HOST:PORT or /dev/tty…"
        ),
    ],
    *,
    site: SiteOption = None,
    first: Annotated[int, typer.Option(min=1, max=247, help="First unit id to try.")] = 1,
    last: Annotated[int, typer.Option(min=1, max=247, help="Last unit id to try.")] = 247,
    table: Annotated[
        str, typer.Option(help="Register table to read: holding, input, coil or discrete.")
    ] = "holding",
    address: Annotated[int, typer.Option(min=0, max=65535, help="Register to read.")] = 0,
    timeout: Annotated[float, typer.Option(min=0.05, max=10, help="Seconds per unit id.")] = 0.3,
    baudrate: Annotated[int, typer.Option(help="Serial ports only.")] = 9600,
    parity: Annotated[str, typer.Option(help="Serial ports only: N, E or O.")] = "N",
) -> None:
    """Which unit ids answer on a bus (a Modbus exception reply counts as an answer)."""
    if last < first:
        raise typer.BadParameter("--last must not be below --first", param_hint="--last")
    try:
        chosen = Table(table)
    except ValueError:
        raise typer.BadParameter(
            "use holding, input, coil or discrete", param_hint="--table"
        ) from None
    base = _link(_site(site), link, baudrate, parity)
    spec = dataclasses.replace(base, timeout=timeout)
    try:
        found = asyncio.run(scan_bus(spec, range(first, last + 1), table=chosen, address=address))
    except BusUnreachable as err:
        raise _fail(str(err)) from None
    typer.echo(f"{len(found)} unit(s) answer on {link}: {' '.join(map(str, found)) or '—'}")


def register(app: typer.Typer) -> None:
    """Add the commissioning commands to the ``sanjie`` command."""
    app.command("profiles")(profiles)
    app.command("probe")(probe)
    app.command("scan")(scan)
