"""The alarm service of a site, from its ``alarms:``/``notify:``/``workorders:`` sections.

``controller.assemble`` calls ``build_alarms`` once; everything here is plain wiring: the
buses and buildings the manager groups by, the channels with their secrets (registered with
the log redaction, robot URL keys included), routes, the detectors over the components that
exist, and work orders when the site has a ``workorders:`` section.
"""

from __future__ import annotations

import logging
import urllib.parse
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from controller.app import Controller
from controller.calendar import SiteCalendar
from controller.config import LoadedSite
from controller.config.alarms import (
    AggregateRuleConfig,
    ChannelConfig,
    EmailChannelConfig,
    NotifyConfig,
    WebhookChannelConfig,
)
from controller.policies.scope import SiteIndex
from controller.redaction import register_secrets
from controller.workorders import Category, WorkOrder, WorkOrders, WorkOrderStore

from .aggregates import AggregateRule, AggregateRules
from .component import AlarmService
from .detectors import (
    OUTBOX_KEY,
    Source,
    calendar_source,
    delivery_source,
    mqtt_source,
    outbox_source,
    recorder_source,
)
from .manager import AlarmManager
from .model import AlarmScope, Severity
from .notify import (
    Channel,
    DingTalkChannel,
    EmailChannel,
    Notifier,
    Outbox,
    QuietHours,
    Route,
    WebhookChannel,
    WeComChannel,
)
from .notify.router import Escalation
from .rules import ThresholdRule, ThresholdRules
from .store import AlarmStore

__all__ = ["aggregate_rule", "build_alarms", "build_channel", "bus_devices", "site_places"]

_LOGGER = logging.getLogger(__name__)

_POLLED = frozenset({"modbus_tcp", "rtu_over_tcp", "serial"})


def bus_devices(site: LoadedSite) -> dict[str, list[str]]:
    """Polled bus (link id) → the devices behind it: the unit of a "whole bus down" alarm."""
    buses: dict[str, list[str]] = {}
    for device in site.devices.values():
        if site.links[device.link].type in _POLLED:
            buses.setdefault(device.link, []).append(device.id)
    return buses


def _buildings(site: LoadedSite, buses: dict[str, list[str]]) -> dict[str, str]:
    """Target prefix → building, for routing by building (a bus inside one building too)."""
    out = {device.id: device.building for device in site.devices.values()}
    out.update({bid: bid for bid in site.buildings})
    for bus, devices in buses.items():
        where = {site.devices[d].building for d in devices}
        if len(where) == 1:
            out[bus] = where.pop()
    return out


def site_places(site: LoadedSite) -> set[str]:
    """What a work order may name: ``building/room``, ``building/area``, a building."""
    out = set(site.buildings)
    for building in site.buildings.values():
        out.update(f"{building.id}/{room.id}" for room in building.rooms)
        out.update(f"{building.id}/{area.id}" for area in building.areas)
    return out


def _place_of(site: LoadedSite, buildings: dict[str, str]) -> Any:
    def place_of(target: str) -> str:
        device = site.devices.get(target) or site.devices.get(target.rsplit(".", 1)[0])
        if device is not None:
            spot = device.room or device.area
            return f"{device.building}/{spot}" if spot else device.building
        return buildings.get(target, target)  # a bus inside one building: that building

    return place_of


def _online(controller: Controller, buses: dict[str, list[str]]) -> Any:
    def online(target: str) -> bool:
        devices = buses.get(target, [target])  # a bus is back when all its devices are
        return all(controller.states.is_available(d) for d in devices)

    return online


def aggregate_rule(config: AggregateRuleConfig, index: SiteIndex) -> AggregateRule | None:
    """One ``alarms.aggregates`` rule with its scope resolved to devices (None: the scope
    selects no device, which the caller logs)."""
    scope = config.scope
    chosen = None if scope.is_empty else index.select(scope)
    if chosen is not None and not chosen:
        return None
    where, target = AlarmScope.SITE, config.id
    if chosen and config.per == "scope":
        rooms = {d.room_ref for d in chosen}
        buildings = {d.building for d in chosen}
        if len(rooms) == 1 and None not in rooms:
            where, target = AlarmScope.ROOM, str(rooms.pop())
        elif len(buildings) == 1:
            where, target = AlarmScope.BUILDING, buildings.pop()
    window = config.window
    return AggregateRule(
        id=config.id,
        quantity=config.quantity,
        per=config.per,
        devices=None if chosen is None else tuple(sorted(d.id for d in chosen)),
        above=config.above,
        below=config.below,
        hysteresis=config.hysteresis,
        periods=config.periods,
        window=None
        if window is None
        else (int(window.start.split(":")[0]), int(window.end.split(":")[0])),
        severity=Severity.parse(config.severity),
        target=target,
        scope=where,
    )


def _aggregates(controller: Controller, recorder: Any) -> AggregateRules | None:
    conf = controller.site.alarms
    if recorder is None or not conf.aggregates:
        return None
    index = SiteIndex.from_site(controller.site)
    rules = []
    for config in conf.aggregates:
        rule = aggregate_rule(config, index)
        if rule is None:
            _LOGGER.warning("Aggregate rule %s: its scope selects no device; not run", config.id)
        else:
            rules.append(rule)
    return AggregateRules(
        rules,
        lambda: recorder.consumption,
        controller.clock.tz,
        settle_s=conf.aggregate_settle_s,
    )


def build_channel(config: ChannelConfig, clock: Any = None) -> Channel:
    """One channel of ``notify.channels``; its secret and URL key go to the log redaction."""
    if isinstance(config, EmailChannelConfig):
        if config.password:
            register_secrets([config.password])
        return EmailChannel(
            config.id,
            config.host,
            config.port,
            config.sender,
            list(config.to),
            user=config.username,
            password=config.password,
            starttls=config.starttls,
            tls=config.tls,
            timeout=config.timeout_s,
        )
    query = urllib.parse.parse_qsl(urllib.parse.urlsplit(config.url).query)
    register_secrets([v for _, v in query] + ([config.secret] if config.secret else []))
    if isinstance(config, WebhookChannelConfig):
        return WebhookChannel(config.id, config.url, config.secret, config.timeout_s)
    if config.type == "wecom":
        return WeComChannel(config.id, config.url, config.timeout_s)
    return DingTalkChannel(config.id, config.url, config.secret, config.timeout_s, clock)


def _notifier(notify: NotifyConfig, outbox: Outbox, clock: Any) -> Notifier | None:
    if not notify.channels:
        return None
    channels = {c.id: build_channel(c, clock) for c in notify.channels}
    routes = [
        Route(
            tuple(r.channels),
            Severity.parse(r.min_severity),
            frozenset(r.buildings),
            frozenset(r.kinds),
        )
        for r in notify.routes
    ]
    quiet = notify.quiet_hours
    esc = notify.escalation
    return Notifier(
        outbox,
        channels,
        clock,
        routes,
        quiet=None
        if quiet is None
        else QuietHours.parse(quiet.start, quiet.end, quiet.breakthrough),
        escalation=None
        if esc is None
        else Escalation(esc.after_s, tuple(esc.channels), Severity.parse(esc.min_severity)),
        digest_channels=tuple(notify.digest.channels) if notify.digest else (),
        digest_hour=notify.digest.hour if notify.digest else 8,
    )


def _sla_notice(notifier: Notifier | None, notify: NotifyConfig) -> Any:
    """A work order past its SLA goes to the escalation channels (once: the outbox key)."""
    if notifier is None or notify.escalation is None:
        return None
    channels = notify.escalation.channels

    def notice(order: WorkOrder) -> None:
        message = {
            "change": "escalated",
            "key": f"workorder:{order.id}",
            "kind": "workorder_sla",
            "severity": "warning",
            "target": order.room,
            "message_zh": f"报修单 {order.id}（{order.room}，{order.category}）已超时未完成",
            "message_en": f"work order {order.id} ({order.room}, {order.category}) is past its SLA",
            "workorder": order.to_json(),
        }
        for name in channels:
            notifier.outbox.enqueue(f"workorder:{order.id}:sla:{name}", name, message)

    return notice


def _calendar(site: LoadedSite, engine: Any, calendar: SiteCalendar | None) -> SiteCalendar:
    """The calendar instance shared with the watch that reloads it (see ``build_alarms``)."""
    if calendar is not None:
        return calendar
    shared = getattr(getattr(engine, "ctx", None), "calendar", None)
    return shared if isinstance(shared, SiteCalendar) else SiteCalendar.from_site(site)


def build_alarms(
    controller: Controller,
    state_dir: Path,
    *,
    engine: Any = None,
    audit: Any = None,
    recorder: Any = None,
    mqtt: Sequence[Any] = (),
    calendar: SiteCalendar | None = None,
    tick_s: float = 5.0,
) -> AlarmService:
    """The alarm service for ``controller``'s site, its files in ``state_dir``.

    ``calendar`` is the instance the calendar watch reloads (default: the policy engine's, so a
    holidays file reloaded by API or SIGHUP clears the provisional-year alarm here too).

    Call ``close()`` on the result when the controller has stopped (``assemble`` puts it on
    the exit stack).
    """
    site, clock = controller.site, controller.clock
    conf = site.alarms
    buses = bus_devices(site)
    rules = [
        ThresholdRule(
            id=r.id,
            entity_id=r.entity,
            below=r.below,
            above=r.above,
            hysteresis=r.hysteresis,
            duration_s=r.for_s,
            severity=Severity.parse(r.severity),
        )
        for r in conf.rules
    ]
    manager = AlarmManager(
        AlarmStore(state_dir / "alarms.sqlite3"),
        clock,
        buses=buses,
        buildings=_buildings(site, buses),
        grace_s=conf.grace_s,
        flap_window_s=conf.flap_window_s,
        rules=ThresholdRules(rules) if rules else None,
    )
    outbox = Outbox(
        state_dir / "notify.sqlite3",
        clock,
        base_backoff_s=site.notify.retry_s,
        max_attempts=site.notify.max_attempts,
    )
    sources: list[Source] = [
        mqtt_source(mqtt, clock, conf.grace_s),
        calendar_source(_calendar(site, engine, calendar), clock),
    ]
    if recorder is not None:
        sources += [
            recorder_source(recorder, clock, conf.grace_s),
            outbox_source(recorder, clock, conf.outbox_warn_ratio),
        ]
        manager.claim(OUTBOX_KEY, "outbox")
    notifier = _notifier(site.notify, outbox, clock)
    if notifier is not None:
        sources.append(delivery_source(outbox))
    orders = None
    if site.workorders is not None:
        wo = site.workorders
        orders = WorkOrders(
            WorkOrderStore(state_dir / "workorders.sqlite3"),
            clock,
            sla_s={Category(k): v for k, v in wo.sla_s.items()},
            auto_kinds=wo.auto_kinds,
            device_online=_online(controller, buses),
            public_limit=wo.public_limit,
            public_window_s=wo.public_window_s,
            places=site_places(site),
            devices=set(site.devices) | set(buses),  # an order from a bus alarm names the bus
            place_of=_place_of(site, _buildings(site, buses)),
            on_escalate=_sla_notice(notifier, site.notify),
            photo_max_bytes=wo.photo_max_bytes,
        )
    return AlarmService(
        manager,
        controller.bus,
        notifier=notifier,
        outbox=outbox,
        workorders=orders,
        sources=sources,
        engine=engine,
        audit=audit,
        aggregates=_aggregates(controller, recorder),
        tick_s=tick_s,
        step_every=conf.step_every_s,
    )
