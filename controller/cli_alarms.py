"""``sanjie alarms …`` and ``sanjie workorder …``: the alarm list and repair orders from a shell.

They work on the controller's own files in ``DATA_DIR/var`` (SQLite, WAL), so they also work
while ``sanjie run`` is running: an acknowledgement written here is picked up by the service
on its next tick (and stops escalation). Every change names a staff account with ``--as``; the
account must exist and be an operator or admin, and the change is audited under its name, as
through the API.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from controller.accounts import AccountError, AccountStore, Role
from controller.alarms import AlarmRecord, AlarmStore
from controller.alarms.build import bus_devices, site_places
from controller.alarms.model import AlarmError
from controller.audit import AuditLog
from controller.config import ConfigError, load_site
from controller.core import SystemClock
from controller.service import state_dir
from controller.workorders import WorkOrder, WorkOrderError, WorkOrders, WorkOrderStore

__all__ = ["offline_targets", "register"]

console = Console()
err_console = Console(stderr=True, soft_wrap=True)

alarms_app = typer.Typer(
    help="The controller's alarm list: list, acknowledge.", no_args_is_help=True
)
orders_app = typer.Typer(
    help="Repair work orders (网上报修): list, open, assign, start, done, close, room links.",
    no_args_is_help=True,
)

DataDir = Annotated[
    Path, typer.Option(help="The controller's base folder (its state files are in DATA_DIR/var).")
]
As = Annotated[str, typer.Option("--as", help="Your staff account (operator or admin).")]
AsJson = Annotated[bool, typer.Option("--json", help="JSON lines instead of a table.")]


def _fail(err: Exception | str) -> typer.Exit:
    err_console.print(f"[red]{err}[/red]", highlight=False)
    return typer.Exit(1)


def _actor(data_dir: Path, name: str) -> str:
    """The account's audit label, if it may change things (exit 1 otherwise)."""
    store = AccountStore(state_dir(data_dir) / "accounts.sqlite3", SystemClock())
    try:
        account = store.get(name)
    except AccountError as err:
        raise _fail(err) from None
    finally:
        store.close()
    if account.disabled or not account.at_least(Role.OPERATOR):
        raise _fail(f"account {name} may not change alarms or work orders (needs operator)")
    return account.label


def _when(ts: float | None) -> str:
    if ts is None:
        return ""
    return dt.datetime.fromtimestamp(ts, SystemClock().tz).strftime("%Y-%m-%d %H:%M")


@contextlib.contextmanager
def _alarm_store(data_dir: Path) -> Iterator[AlarmStore]:
    try:
        store = AlarmStore(state_dir(data_dir) / "alarms.sqlite3")
    except AlarmError as err:
        raise _fail(err) from None
    try:
        yield store
    finally:
        store.close()


@alarms_app.command("list")
def alarms_list(
    *,
    history: Annotated[bool, typer.Option(help="Cleared alarms too, newest first.")] = False,
    limit: Annotated[int, typer.Option(min=1, max=10_000)] = 200,
    as_json: AsJson = False,
    data_dir: DataDir = Path(),
) -> None:
    """Active alarms, worst first (or the history)."""
    with _alarm_store(data_dir) as store:
        found = store.history(limit) if history else _worst_first(store.active())[:limit]
    if as_json:
        for record in found:
            console.print_json(json.dumps(record.to_json(), ensure_ascii=False))
        return
    table = Table("key", "severity", "since", "count", "acknowledged", "cleared", "message")
    for r in found:
        table.add_row(
            r.key,
            str(r.severity),
            _when(r.first_seen),
            str(r.count),
            r.acked_by or "",
            _when(r.cleared_at),
            r.message_zh or r.message_en,
        )
    console.print(table)


def _worst_first(records: list[AlarmRecord]) -> list[AlarmRecord]:
    return sorted(records, key=lambda r: (-r.severity.rank, r.first_seen))


@alarms_app.command("ack")
def alarms_ack(key: str, *, actor: As, data_dir: DataDir = Path()) -> None:
    """Acknowledge an active alarm (stops its escalation)."""
    label = _actor(data_dir, actor)
    clock = SystemClock()
    with _alarm_store(data_dir) as store:
        record = store.get(key)
        if record is None or not record.active:
            raise _fail(f"no active alarm {key!r}")
        fresh = store.add_ack(key, record.first_seen, label, clock.time())
    if fresh:
        _audit(data_dir, label, "alarm.ack", record.target, record.message_en)
    console.print(
        f"acknowledged {key}" if fresh else f"{key} was already acknowledged", highlight=False
    )
    if record.evidence.get("source") == "policies":
        console.print(
            "a policy alarm: a running service passes the acknowledgement to the policy"
            " engine on its next tick; if the service is stopped, acknowledge it again once it"
            " runs",
            highlight=False,
        )


def _audit(data_dir: Path, actor: str, action: str, target: str, reason: str) -> None:
    log = AuditLog(state_dir(data_dir) / "audit.sqlite3", SystemClock())
    try:
        log.record(actor, action, target, reason=reason, source="cli")
    finally:
        log.close()


def offline_targets(store: AlarmStore) -> set[str]:
    """Devices and buses the alarm list has offline now: a device alarm's target, a bus
    alarm's bus and every device behind it."""
    out: set[str] = set()
    for record in store.active():
        if record.kind in ("device_unavailable", "bus_down"):
            out.add(record.target)
            out.update(str(d) for d in record.evidence.get("devices", ()))
    return out


@contextlib.contextmanager
def _orders(data_dir: Path) -> Iterator[WorkOrders]:
    """The work orders, a device counted online unless the alarm list has it offline."""
    with _alarm_store(data_dir) as alarms:
        try:
            store = WorkOrderStore(state_dir(data_dir) / "workorders.sqlite3")
        except AlarmError as err:
            raise _fail(err) from None
        try:
            offline = offline_targets(alarms)
            yield WorkOrders(store, SystemClock(), device_online=lambda d: d not in offline)
        except WorkOrderError as err:
            raise _fail(err) from None
        finally:
            store.close()


def _show(order: WorkOrder) -> None:
    console.print(
        f"work order {order.id}: {order.status} — {order.room} {order.category}"
        f"{' → ' + order.assignee if order.assignee else ''}",
        highlight=False,
    )


@orders_app.command("list")
def orders_list(
    *,
    status: Annotated[
        str | None, typer.Option(help="new, assigned, in_progress, done, closed.")
    ] = None,
    room: Annotated[str | None, typer.Option(help="building/room")] = None,
    as_json: AsJson = False,
    data_dir: DataDir = Path(),
) -> None:
    """Work orders, oldest first."""
    with _orders(data_dir) as orders:
        found = orders.store.list(status, room)
    if as_json:
        for order in found:
            console.print_json(json.dumps(order.to_json(), ensure_ascii=False))
        return
    table = Table("id", "status", "room", "category", "assignee", "opened", "description")
    for o in found:
        table.add_row(
            str(o.id),
            str(o.status),
            o.room,
            str(o.category),
            o.assignee or "",
            _when(o.opened_at),
            o.description[:60],
        )
    console.print(table)


@orders_app.command("open")
def orders_open(
    *,
    room: Annotated[str, typer.Option(help="building/room, or a building.")],
    category: Annotated[str, typer.Option(help="electricity, water, ac, valve or other.")],
    description: Annotated[str, typer.Option(help="What is wrong.")],
    device: Annotated[str | None, typer.Option(help="The device, if one is concerned.")] = None,
    actor: As,
    site: Annotated[
        Path, typer.Option(help="The site file: the room and device must be in it.")
    ] = Path("site.yaml"),
    data_dir: DataDir = Path(),
) -> None:
    """Open a work order for a room (and device) of the site, as the API does."""
    label = _actor(data_dir, actor)
    try:
        loaded = load_site(site)
    except ConfigError as err:
        raise _fail(err) from None
    with _orders(data_dir) as orders:
        orders.places = frozenset(site_places(loaded))
        orders.devices = frozenset(loaded.devices) | frozenset(bus_devices(loaded))
        order = orders.open(room, category, description, actor=label, device=device)
    _show(order)


@orders_app.command("assign")
def orders_assign(order_id: int, assignee: str, *, actor: As, data_dir: DataDir = Path()) -> None:
    """Assign (or reassign) an order to a repair worker."""
    label = _actor(data_dir, actor)
    with _orders(data_dir) as orders:
        _show(orders.assign(order_id, assignee, actor=label))


@orders_app.command("start")
def orders_start(order_id: int, *, actor: As, data_dir: DataDir = Path()) -> None:
    """The repair is under way."""
    label = _actor(data_dir, actor)
    with _orders(data_dir) as orders:
        _show(orders.start(order_id, actor=label))


@orders_app.command("done")
def orders_done(
    order_id: int,
    *,
    note: Annotated[str, typer.Option(help="What was done.")] = "",
    actor: As,
    data_dir: DataDir = Path(),
) -> None:
    """The repair is done (closing follows, with a note)."""
    label = _actor(data_dir, actor)
    with _orders(data_dir) as orders:
        _show(orders.done(order_id, actor=label, note=note))


@orders_app.command("close")
def orders_close(
    order_id: int,
    *,
    note: Annotated[str, typer.Option(help="The closing note (required).")],
    actor: As,
    data_dir: DataDir = Path(),
) -> None:
    """Close with a note; an order about a device needs it answering again."""
    label = _actor(data_dir, actor)
    with _orders(data_dir) as orders:
        _show(orders.close(order_id, actor=label, note=note))


@orders_app.command("link")
def orders_link(room: str, *, actor: As, data_dir: DataDir = Path()) -> None:
    """The room's public repair-form path (print it as a QR code on the door)."""
    _actor(data_dir, actor)
    with _orders(data_dir) as orders:
        token = orders.store.room_token(room)
    console.print(f"/r/{token}", highlight=False)


def register(app: typer.Typer) -> None:
    """Add ``alarms`` and ``workorder`` to the ``sanjie`` command."""
    app.add_typer(alarms_app, name="alarms")
    app.add_typer(orders_app, name="workorder")
