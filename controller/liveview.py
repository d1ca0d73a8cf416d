"""A live terminal view of a running controller (rich): buildings, components, recent events.

Generic on purpose: it shows any component's ``status()`` dict in a panel (scalars as rows,
a dict of dicts as a table, e.g. the Modbus buses), so components added to the demo later
appear without touching this module.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from rich import box
from rich.console import Console, Group, JustifyMethod, OverflowMethod, RenderableType
from rich.live import Live
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from controller.app import Controller
from controller.config.profile import PointKind
from controller.core import AvailabilityChanged, CommandCompleted, Entity, Event
from controller.core.bus import BusClosed, Subscription

__all__ = ["DailyCounters", "LiveView"]

_ELECTRICITY = PointKind.ACTIVE_ENERGY
_WATER = PointKind.WATER_VOLUME
_MAX_COLUMNS = 9
_MAX_ROWS = 12
QUIET = frozenset({"audit", "calendar", "reports", "web-live", "api"})
"""Components whose figures a newcomer does not need to watch: one shared line while they run."""


def _top_level(entities: list[Entity], kind: PointKind) -> list[Entity]:
    """The meters to add up for a building without double counting sub-meters.

    Electricity: the ``main`` meters if there are any, else all. Water, per circuit (cold,
    hot, …): the building-level meters (no room, no area) if any, else all of that circuit.
    """
    chosen = [e for e in entities if e.kind is kind]
    if kind is _ELECTRICITY:
        mains = [e for e in chosen if e.circuit == "main"]
        return mains or chosen
    by_circuit: dict[str | None, list[Entity]] = {}
    for e in chosen:
        by_circuit.setdefault(e.circuit, []).append(e)
    out: list[Entity] = []
    for group in by_circuit.values():
        building_level = [e for e in group if e.room is None and "area" not in e.tags]
        out.extend(building_level or group)
    return out


@dataclass
class DailyCounters:
    """Consumption today per building, from cumulative counters seen while running.

    Adds up increases between refreshes; a counter that goes down (meter replaced, rolled
    over) restarts from zero rather than subtracting. Resets at local midnight.
    """

    members: dict[str, dict[PointKind, list[str]]]
    day: dt.date | None = None
    totals: dict[tuple[str, PointKind], float] = field(default_factory=dict)
    last: dict[str, float] = field(default_factory=dict)

    @classmethod
    def for_controller(cls, controller: Controller) -> DailyCounters:
        per_building: dict[str, list[Entity]] = {}
        for entity in controller.registry:
            per_building.setdefault(entity.building, []).append(entity)
        members = {
            b: {k: [e.entity_id for e in _top_level(ents, k)] for k in (_ELECTRICITY, _WATER)}
            for b, ents in per_building.items()
        }
        return cls(members)

    def update(self, controller: Controller) -> None:
        today = controller.clock.now().date()
        if today != self.day:
            self.day = today
            self.totals.clear()
        states = controller.states
        for building, kinds in self.members.items():
            for kind, ids in kinds.items():
                total = self.totals.get((building, kind), 0.0)
                for eid in ids:
                    value = states.value(eid)
                    if not isinstance(value, int | float) or isinstance(value, bool):
                        continue
                    previous = self.last.get(eid)
                    self.last[eid] = float(value)
                    if previous is not None:
                        total += value - previous if value >= previous else float(value)
                self.totals[(building, kind)] = total

    def today(self, building: str, kind: PointKind) -> float:
        return self.totals.get((building, kind), 0.0)


def _scalar(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.3f}".rstrip("0").rstrip(".") if abs(value) < 1e6 else f"{value:,.0f}"
    if isinstance(value, list | tuple | set | frozenset):
        return f"{len(value)} items" if len(value) > 3 else ", ".join(map(str, value)) or "–"
    if isinstance(value, dict):
        return (
            f"{len(value)} entries"
            if len(value) > 3
            else ", ".join(f"{k}={_scalar(v)}" for k, v in value.items()) or "–"
        )
    return "–" if value is None else str(value)


def _short(line: str, building: str) -> str:
    """An error line for the building's row: without the building's id (the row says it), the
    value written, or the entity's id repeated in the error text."""
    line = line.replace(f" {building}.", " ", 1)
    head, sep, error = line.partition(" failed: ")
    if not sep:
        return line
    when, entity = head.split(" ")[:2]
    error = error.replace(f"{building}.{entity}", "").lstrip(": ")
    return f"{when} {entity} ✗ {error}"


def _one_line(status: dict[str, Any]) -> str:
    """A component's scalar figures as ``key value`` pairs; a dict of dicts as its count."""
    parts: list[str] = []
    for key, value in status.items():
        if isinstance(value, dict) and value and all(isinstance(v, dict) for v in value.values()):
            parts.append(f"{key} {len(value)}")
        elif not isinstance(value, dict | list | tuple | set | frozenset):
            parts.append(f"{key} {_scalar(value)}")
    return "  ".join(parts)


def status_panel(name: str, status: dict[str, Any]) -> Panel:
    """A component's status: scalars as key/value rows, each dict of dicts as a table."""
    rows = Table.grid(padding=(0, 2))
    rows.add_column(style="cyan")
    rows.add_column()
    tables: list[RenderableType] = []
    for key, value in status.items():
        if isinstance(value, dict) and value and all(isinstance(v, dict) for v in value.values()):
            tables.append(_dict_table(key, value))
        else:
            rows.add_row(key, _scalar(value))
    return Panel(Group(rows, *tables), title=f"[bold]{name}[/bold]", expand=True)


def _dict_table(title: str, items: dict[str, dict[str, Any]]) -> Table:
    columns: list[str] = []
    for item in items.values():
        for key, value in item.items():
            if (
                key not in columns
                and not isinstance(value, dict | list)
                and len(columns) < _MAX_COLUMNS
            ):
                columns.append(key)
    table = Table(title=title, title_justify="left", expand=True, show_edge=False)
    table.add_column("id")
    for column in columns:
        table.add_column(column, overflow="fold")
    for row_id, item in list(items.items())[:_MAX_ROWS]:
        table.add_row(row_id, *(_scalar(item.get(c)) for c in columns))
    if len(items) > _MAX_ROWS:
        table.caption = f"… {len(items) - _MAX_ROWS} more"
    return table


class LiveView:
    """Renders the controller a few times a second until cancelled."""

    def __init__(
        self, controller: Controller, *, speed: float = 1.0, title: str = "", banner: str = ""
    ) -> None:
        self.controller = controller
        self.speed = speed
        self.title = title or f"sanjie 三节 — {controller.site.campus.name.zh}"
        self.banner = banner
        """One line kept under the title (the demo's web address and account), since what
        was printed before the view scrolls away under the first log lines."""
        self.daily = DailyCounters.for_controller(controller)
        self.errors: dict[str, deque[str]] = {}
        self.events: deque[str] = deque(maxlen=8)
        self._devices: dict[str, dict[str, str]] = {}
        for entity in controller.registry:
            # a device is online once its first entity has a state and it is available
            self._devices.setdefault(entity.building, {}).setdefault(
                entity.device_id, entity.entity_id
            )
        self._started = time.monotonic()

    def note(self, event: Event) -> None:
        """Remember an availability change or a failed command for the building's row."""
        when = self.controller.clock.now().strftime("%H:%M:%S")
        if isinstance(event, AvailabilityChanged):
            device = event.device_id
            word = "back" if event.available else f"offline: {event.reason}"
            line = f"{when} {device} {word}"
        elif isinstance(event, CommandCompleted):
            device = event.entity_id.rsplit(".", 1)[0]
            result = "ok" if event.ok else f"failed: {event.error}"
            line = f"{when} {event.entity_id} := {event.value!r} {result}"
        else:
            return
        self.events.append(line)
        failed = (isinstance(event, AvailabilityChanged) and not event.available) or (
            isinstance(event, CommandCompleted) and not event.ok
        )
        entity = self.controller.registry.of_device(device)
        if entity and failed:
            self.errors.setdefault(entity[0].building, deque(maxlen=3)).append(line)

    def buildings_table(self, compact: bool = False) -> Table:
        """One row per building: online devices, today's electricity and water, the last
        error (a failed command or a device going offline, never a confirmed command)."""
        ctl = self.controller
        self.daily.update(ctl)
        table = Table(
            title="楼宇 Buildings   (today: since midnight or since start)",
            title_justify="left",
            box=box.SIMPLE_HEAD,
            show_edge=False,
            expand=True,
            pad_edge=False,
            padding=(0, 1),
        )
        columns: tuple[tuple[str, JustifyMethod], ...] = (
            ("楼宇 Building", "left"),
            ("在线 Online", "right"),
            ("电 kWh", "right"),
            ("水 m³", "right"),
            ("最近错误 Last error", "left"),
        )
        overflow: OverflowMethod = "ellipsis" if compact else "fold"
        for column, justify in columns:
            last = column.startswith("最近")
            table.add_column(
                column,
                justify=justify,
                overflow=overflow,
                no_wrap=compact,
                ratio=1 if last else None,
                min_width=12 if last else None,
            )
        states = ctl.states
        for building in ctl.site.buildings.values():
            devices = self._devices.get(building.id, {})
            online = sum(
                1 for d, eid in devices.items() if states.is_available(d) and states.get(eid)
            )
            errors = self.errors.get(building.id)
            name = building.name.zh if compact else f"{building.name.zh} {building.id}"
            table.add_row(
                name,
                f"{online}/{len(devices)}",
                f"{self.daily.today(building.id, _ELECTRICITY):,.2f}",
                f"{self.daily.today(building.id, _WATER):,.3f}",
                Text(
                    _short(errors[-1], building.id)
                    if errors and compact
                    else (errors[-1] if errors else ""),
                    style="red",
                ),
            )
        return table

    def components_table(self) -> Table:
        """One line per component: its supervision state and its scalar figures; the quiet
        ones (``QUIET``) share one line while they run, so the view fits 24 lines."""
        health = self.controller.health()
        table = Table(
            title="组件 Components",
            title_justify="left",
            box=None,
            show_header=False,
            expand=True,
            pad_edge=False,
            padding=(0, 1),
        )
        table.add_column(style="cyan", no_wrap=True)
        table.add_column(no_wrap=True)
        table.add_column(overflow="ellipsis", no_wrap=True, ratio=1)
        quiet: list[str] = []
        for component in self.controller.components:
            state = str(health.get(component.name, {}).get("state", "–"))
            if state == "running" and component.name in QUIET:
                quiet.append(component.name)
                continue
            style = "green" if state == "running" else "red"
            table.add_row(component.name, Text(state, style=style), _one_line(component.status()))
        if quiet:
            table.add_row("…", Text("running", style="green"), ", ".join(quiet))
        return table

    def render(self, height: int | None = None) -> RenderableType:
        """The whole view; with ``height`` (the terminal's lines) a compact form that fits it:
        one line per building and per component, as many recent events as there is room for."""
        ctl = self.controller
        now = ctl.clock.now().strftime("%Y-%m-%d %H:%M:%S")
        elapsed = time.monotonic() - self._started
        header = Text.assemble(
            (self.title, "bold"),
            f"  模拟 {now}  ×{self.speed:g}  运行 {elapsed:,.0f} s",
            overflow="ellipsis",
            no_wrap=True,
        )
        if height is None:
            panels = [status_panel(c.name, c.status()) for c in ctl.components]
            recent = Panel("\n".join(self.events) or "–", title="事件 Events")
            banner = [Text(self.banner)] if self.banner else []
            return Group(header, *banner, self.buildings_table(), *panels, recent)
        buildings = self.buildings_table(compact=True)
        components = self.components_table()
        top: list[RenderableType] = [header]
        if self.banner:
            top.append(Text(self.banner, style="bold", overflow="ellipsis", no_wrap=True))
        used = len(top) + (3 + len(ctl.site.buildings)) + (1 + components.row_count) + 1
        room = max(height - used - 1, 1)  # the last line stays free: Live's cursor sits there
        events = Text(overflow="ellipsis", no_wrap=True)
        events.append("事件 Events\n", style="italic")
        lines = list(self.events)[-room:] or ["–"]
        for i, line in enumerate(lines):
            style = "red" if ("failed" in line or "offline" in line) else ""
            events.append(line + ("\n" if i < len(lines) - 1 else ""), style=style)
        return Group(*top, buildings, components, events)

    async def run(self, console: Console | None, refresh: float = 0.5) -> None:
        """Draw every ``refresh`` seconds until cancelled, noting events from the bus.

        Without a console nothing is drawn, but counters and events are still tracked, so
        a final ``render()`` (headless runs) shows the whole run.
        """
        sub = self.controller.bus.subscribe(
            "liveview", [AvailabilityChanged, CommandCompleted], maxsize=1000
        )
        try:
            async with asyncio.TaskGroup() as group:
                group.create_task(self._drain(sub), name="liveview-events")
                if console is None:
                    while True:
                        await asyncio.sleep(refresh)
                        self.daily.update(self.controller)
                view = self.render(console.height)
                # "crop": a terminal smaller than the view cuts it instead of reprinting it.
                with Live(
                    view, console=console, auto_refresh=False, vertical_overflow="crop"
                ) as live:
                    while True:
                        await asyncio.sleep(refresh)
                        live.update(self.render(console.height), refresh=True)
        finally:
            sub.close()

    async def _drain(self, sub: Subscription) -> None:
        with contextlib.suppress(BusClosed):
            while True:
                self.note(await sub.get())
