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

from controller.cli_site import load_or_exit
from controller.commission import BusUnreachable, ProbedPoint, adhoc_link, probe_device, scan_bus
from controller.commission_meters import (
    MeterProtocol,
    MeterScan,
    adhoc_frame_link,
    probe_meter,
    scan_meters,
)
from controller.config import LoadedSite, Profile, ProfileLibrary
from controller.config.site import (
    Cjt188Link,
    Dlt645Link,
    ModbusTcpLink,
    RtuOverTcpLink,
    SerialLink,
)
from controller.integrations.meters import frame_spec
from controller.integrations.modbus import link_spec
from drivers.link.frames import FrameSpec
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
BaudOption = Annotated[
    int | None, typer.Option(help="Serial ports only (Modbus 9600, meters 2400).")
]
ParityOption = Annotated[
    str | None, typer.Option(help="Serial ports only: N, E or O (Modbus N, meters E).")
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
    return load_or_exit(path)


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


def _meter_link(
    site: LoadedSite | None,
    target: str,
    protocol: MeterProtocol,
    *,
    baudrate: int | None,
    parity: str | None,
    timeout: float | None,
) -> FrameSpec:
    """A DL/T 645 or CJ/T 188 bus: the site's link of that type, or an ad-hoc address
    (2400 8E1 unless told, the usual setting of both kinds of meter)."""
    if site is not None and target in site.links:
        config = site.links[target]
        if not isinstance(config, Dlt645Link | Cjt188Link) or config.type != protocol:
            raise _fail(f"link {target!r} is a {config.type} link, not {protocol}")
        return frame_spec(config, timeout=timeout)
    try:
        return adhoc_frame_link(
            target, baudrate=baudrate or 2400, parity=parity or "E", timeout=timeout or 1.0
        )
    except ValueError as err:
        raise _fail(str(err)) from None


def _site_protocol(site: LoadedSite | None, target: str) -> str:
    if site is not None and target in site.links:
        kind = site.links[target].type
        return kind if kind in ("dlt645", "cjt188") else "modbus"
    return "modbus"


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
    link: LinkArgument,
    unit: Annotated[
        str,
        typer.Argument(
            metavar="UNIT_OR_ADDRESS",
            help="Modbus unit id (1–247), or the meter's address as printed on its nameplate "
            "(DL/T 645: 12 digits, CJ/T 188: 14 digits).",
        ),
    ],
    profile: Annotated[
        str, typer.Argument(help="Profile id, e.g. eastron/sdm120 or chint/ddsu666-dlt645.")
    ],
    *,
    site: SiteOption = None,
    baudrate: BaudOption = None,
    parity: ParityOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Read one device now and print every point decoded (nothing is recorded).

    The profile's protocol says how: Modbus by unit id, DL/T 645 and CJ/T 188 by address.
    Exits 1 when the bus cannot be reached or no point could be read.
    """
    loaded = _site(site)
    chosen = _profile(_library(site), profile)
    notes: list[str] = []
    try:
        if chosen.protocol in ("dlt645", "cjt188"):
            protocol: MeterProtocol = "dlt645" if chosen.protocol == "dlt645" else "cjt188"
            spec = _meter_link(
                loaded, link, protocol, baudrate=baudrate, parity=parity, timeout=None
            )
            try:
                probed = asyncio.run(probe_meter(spec, protocol, unit, chosen))
            except ValueError as err:
                raise _fail(str(err)) from None
            points, notes = probed.points, probed.notes
        elif chosen.protocol == "modbus":
            if not unit.isdigit() or not 1 <= int(unit) <= 247:
                raise _fail(f"a Modbus unit id is 1–247, not {unit!r}")
            modbus = _link(loaded, link, baudrate or 9600, parity or "N")
            points = asyncio.run(probe_device(modbus, int(unit), chosen))
        else:
            raise _fail(f"profile {profile!r} is {chosen.protocol}: probe reads bus devices only")
    except BusUnreachable as err:
        raise _fail(str(err)) from None
    if as_json:
        out = [
            {"key": p.point.key, "value": p.value, "unit": p.point.unit, "error": p.error}
            for p in points
        ]
        console.print_json(json.dumps(out, ensure_ascii=False))
    else:
        what = "unit" if chosen.protocol == "modbus" else "address"
        table = RichTable("key", "name", "value", title=f"{link} {what} {unit} · {profile}")
        for p in points:
            table.add_row(p.point.key, p.point.name.zh, _value_text(p))
        console.print(table)
    for note in notes:  # on stderr, so --json stays one document
        err_console.print(f"[yellow]note[/yellow] {note}", highlight=False)
    if all(p.error is not None for p in points):
        raise typer.Exit(EXIT_FAILED)


def scan(
    link: LinkArgument,
    *,
    site: SiteOption = None,
    protocol: Annotated[
        str | None,
        typer.Option(help="modbus, dlt645 or cjt188 (default: the site link's type, else modbus)."),
    ] = None,
    meter: Annotated[
        list[str] | None,
        typer.Option(
            "--meter",
            help="DL/T 645 / CJ/T 188: a meter address to try (repeatable); with --site the "
            "link's devices are tried too.",
        ),
    ] = None,
    first: Annotated[int, typer.Option(min=1, max=247, help="Modbus: first unit id.")] = 1,
    last: Annotated[int, typer.Option(min=1, max=247, help="Modbus: last unit id.")] = 247,
    table: Annotated[
        str, typer.Option(help="Modbus: register table, holding, input, coil or discrete.")
    ] = "holding",
    address: Annotated[int, typer.Option(min=0, max=65535, help="Modbus: register to read.")] = 0,
    timeout: Annotated[
        float | None,
        typer.Option(min=0.05, max=10, help="Seconds per try (Modbus 0.3, meters 1.0)."),
    ] = None,
    baudrate: BaudOption = None,
    parity: ParityOption = None,
) -> None:
    """Which devices answer on a bus. Exits 1 when none does or the bus cannot be reached.

    Modbus: every unit id in --first..--last (an exception reply counts as an answer).
    DL/T 645 / CJ/T 188: the wildcard read-address request (names the meter only when it is
    alone on the line), then a read at each known address (--meter, the site's devices).
    """
    loaded = _site(site)
    kind = protocol or _site_protocol(loaded, link)
    if kind in ("dlt645", "cjt188"):
        meter_protocol: MeterProtocol = "dlt645" if kind == "dlt645" else "cjt188"
        _scan_meters(
            loaded,
            link,
            meter_protocol,
            meter or [],
            timeout=timeout,
            baudrate=baudrate,
            parity=parity,
        )
        return
    if kind != "modbus":
        raise typer.BadParameter("use modbus, dlt645 or cjt188", param_hint="--protocol")
    if last < first:
        raise typer.BadParameter("--last must not be below --first", param_hint="--last")
    try:
        chosen = Table(table)
    except ValueError:
        raise typer.BadParameter(
            "use holding, input, coil or discrete", param_hint="--table"
        ) from None
    base = _link(loaded, link, baudrate or 9600, parity or "N")
    spec = dataclasses.replace(base, timeout=timeout or 0.3)
    try:
        found = asyncio.run(scan_bus(spec, range(first, last + 1), table=chosen, address=address))
    except BusUnreachable as err:
        raise _fail(str(err)) from None
    typer.echo(f"{len(found)} unit(s) answer on {link}: {' '.join(map(str, found)) or '—'}")
    if not found:
        raise typer.Exit(EXIT_FAILED)


def _scan_meters(
    site: LoadedSite | None,
    target: str,
    protocol: MeterProtocol,
    addresses: list[str],
    *,
    timeout: float | None,
    baudrate: int | None,
    parity: str | None,
) -> None:
    spec = _meter_link(site, target, protocol, baudrate=baudrate, parity=parity, timeout=timeout)
    declared = []
    if site is not None and target in site.links:
        declared = [d.address for d in site.devices.values() if d.link == target and d.address]
    try:
        result = asyncio.run(scan_meters(spec, protocol, [*addresses, *declared]))
    except ValueError as err:
        raise _fail(str(err)) from None
    except BusUnreachable as err:
        raise _fail(str(err)) from None
    for line in _scan_lines(result, protocol):
        typer.echo(line)
    if result.alone is None and not result.found:
        raise typer.Exit(EXIT_FAILED)


def _scan_lines(result: MeterScan, protocol: MeterProtocol) -> list[str]:
    wildcard = "AAAAAAAAAAAA" if protocol == "dlt645" else "AAAAAAAAAAAAAA"

    def kind(address: str) -> str:
        meter_type = result.meter_types.get(address)
        return f" (type {meter_type:02X})" if meter_type is not None else ""

    if result.alone is not None:
        lines = [f"alone on the line ({wildcard}): {result.alone}{kind(result.alone)}"]
    else:
        lines = [
            f"no single meter answered {wildcard} — none on the line, or several "
            f"(their replies collide): {result.alone_error}"
        ]
    if result.tried:
        missing = [a for a in result.tried if a not in result.found]
        found = " ".join(a + kind(a) for a in result.found) or "—"
        lines.append(f"{len(result.found)} of {len(result.tried)} address(es) answer: {found}")
        if missing:
            lines.append(f"silent: {' '.join(missing)}")
    elif result.alone is None:
        lines.append("give the meters' addresses (--meter, or --site) to check each")
    return lines


def register(app: typer.Typer) -> None:
    """Add the commissioning commands to the ``sanjie`` command."""
    app.command("profiles")(profiles)
    app.command("probe")(probe)
    app.command("scan")(scan)
