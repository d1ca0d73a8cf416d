"""What the staff pages show (policies, overrides, alarms, audit log, accounts, calendar), as
plain data: the template and the page's ``?format=json`` twin render the same dict.

Lists are filtered and paged here, on the server (a 10,000-room campus has thousands of
overrides and alarm-log entries; the browser gets one page). Everything passes the account's
building limits (``controller.api.visibility``) before it is returned.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from controller.accounts import AccountStore
from controller.alarms.component import alarm_service
from controller.api.auth import Caller
from controller.api.visibility import (
    alarm_buildings,
    device_buildings,
    policy_buildings,
    visible,
)
from controller.app import Controller
from controller.audit import AuditEntry, AuditLog
from controller.calendar import SiteCalendar
from controller.policies.engine import PolicyEngine

from .i18n import Translator

__all__ = [
    "PAGE_SIZE",
    "alarms_view",
    "audit_view",
    "calendar_view",
    "engine_of",
    "overrides_view",
    "paged",
    "policies_view",
    "policy_form",
    "users_view",
]

PAGE_SIZE = 50
AUDIT_DEPTH = 10_000
"""Audit entries a search looks through (the newest first) before filtering by building."""

T = TypeVar("T")


def engine_of(ctrl: Controller) -> PolicyEngine | None:
    return ctrl.find(PolicyEngine)


def audit_of(ctrl: Controller) -> AuditLog | None:
    return ctrl.find(AuditLog)


def paged(
    items: Sequence[T], offset: int, render: Callable[[T], dict[str, Any]], size: int = PAGE_SIZE
) -> dict[str, Any]:
    """One page of ``items`` with what the page's "previous" and "next" links need."""
    offset = max(0, min(offset, max(0, len(items) - 1)))
    chunk = items[offset : offset + size]
    return {
        "items": [render(i) for i in chunk],
        "total": len(items),
        "offset": offset,
        "size": size,
        "prev": max(0, offset - size) if offset > 0 else None,
        "next": offset + size if offset + size < len(items) else None,
    }


def _contains(text: str | None, needle: str | None) -> bool:
    return not needle or (text is not None and needle.lower() in text.lower())


# -- policies -----------------------------------------------------------------------------
def policies_view(
    engine: PolicyEngine, found: Caller, *, q: str, kind: str, state: str, offset: int
) -> dict[str, Any]:
    declared = visible(
        found, engine.admin.declared(), lambda p: policy_buildings(engine, p["config"])
    )
    types = sorted({p["type"] for p in declared})
    chosen = [
        p
        for p in declared
        if (not kind or p["type"] == kind)
        and (not state or p["enabled"] == (state == "on"))
        and (_contains(p["id"], q) or _contains(_name(p["config"]), q))
    ]
    return {
        "filters": {"q": q, "type": kind, "state": state},
        "types": types,
        "page": paged(chosen, offset, _policy_row),
    }


def _name(config: Mapping[str, Any]) -> str:
    name = config.get("name") or {}
    return " ".join(str(v) for v in name.values()) if isinstance(name, Mapping) else ""


def _policy_row(p: dict[str, Any]) -> dict[str, Any]:
    name = p["config"].get("name") or {}
    return {
        "id": p["id"],
        "type": p["type"],
        "enabled": p["enabled"],
        "source": p["source"],
        "units": p["units"],
        "name_zh": name.get("zh") if isinstance(name, Mapping) else None,
        "name_en": name.get("en") if isinstance(name, Mapping) else None,
    }


_FIXED = ("id", "type", "enabled")
"""Fields the form shows but does not let people edit (enable/disable is its own action)."""


def policy_form(engine: PolicyEngine, policy_id: str, *, copy: bool = False) -> dict[str, Any]:
    """The fields of a declared policy for the edit form: scalars as inputs, lists and
    objects (scope, windows) as JSON text. ``copy``: a new policy starting from this one."""
    declared = {p["id"]: p for p in engine.admin.declared()}
    config = declared[policy_id]["config"]
    fields = []
    for key, raw in config.items():
        value = raw
        if key in _FIXED:
            continue
        if isinstance(value, bool):
            kind = "bool"
        elif isinstance(value, int | float):
            kind = "number"
        elif isinstance(value, str):
            kind = "text"
        elif value is None:
            kind = "empty"
        else:
            kind = "json"
            if isinstance(value, dict):  # the scope: leave out what is empty (the default)
                value = {k: v for k, v in raw.items() if v not in ([], None, {})}
        fields.append({"key": key, "kind": kind, "value": value})
    return {
        "id": "" if copy else policy_id,
        "copy_of": policy_id if copy else None,
        "type": config["type"],
        "enabled": config.get("enabled", True),
        "source": "new" if copy else declared[policy_id]["source"],
        "fields": fields,
        # a copy must not be saved over a declared policy (saving under an id replaces it)
        "taken": sorted(declared) if copy else [],
    }


# -- overrides ----------------------------------------------------------------------------
def overrides_view(
    ctrl: Controller, engine: PolicyEngine, found: Caller, t: Translator, *, offset: int
) -> dict[str, Any]:
    active = visible(found, engine.views.overrides(), lambda o: device_buildings(ctrl, o.devices))
    active.sort(key=lambda o: o.expires_at)
    policies = visible(
        found, engine.admin.declared(), lambda p: policy_buildings(engine, p["config"])
    )
    buildings = [
        {"id": b.id, "name": t.name(b.name.zh, b.name.en)}
        for b in ctrl.site.buildings.values()
        if found.account.sees(b.id)
    ]
    return {
        "page": paged(active, offset, lambda o: o.to_json()),
        "policies": [p["id"] for p in policies],
        "buildings": buildings,
    }


# -- alarms -------------------------------------------------------------------------------
def alarms_view(
    ctrl: Controller,
    engine: PolicyEngine,
    found: Caller,
    *,
    history: bool,
    severity: str,
    kind: str,
    building: str,
    offset: int,
) -> dict[str, Any]:
    service = alarm_service(ctrl.components)
    if service is not None:  # the one list: devices, buses, rules, aggregates, policies, ...
        records = visible(
            found, service.alarms(history=history, limit=10_000), lambda r: (r.building,)
        )
        rows = [(r.to_json(), frozenset([r.building])) for r in records]
    else:
        listed = engine.views.alarm_history(10_000) if history else engine.views.active_alarms()
        mine = visible(found, listed, lambda a: alarm_buildings(ctrl, a))
        rows = [(a.to_json(), alarm_buildings(ctrl, a)) for a in mine]
    kinds = sorted({str(a["kind"]) for a, _ in rows})
    chosen = [
        a
        for a, where in rows
        if (not severity or a["severity"] == severity)
        and (not kind or a["kind"] == kind)
        and (not building or building in where)
    ]
    return {
        "filters": {
            "history": history,
            "severity": severity,
            "kind": kind,
            "building": building,
        },
        "kinds": kinds,
        "buildings": [b for b in ctrl.site.buildings if found.account.sees(b)],
        "page": paged(chosen, offset, lambda a: a),
    }


# -- audit --------------------------------------------------------------------------------
def _entry_buildings(ctrl: Controller, entry: AuditEntry) -> frozenset[str | None]:
    target = entry.target
    entity = ctrl.registry.get(target)
    if entity is not None:
        return frozenset([entity.building])
    if target in ctrl.site.devices:
        return device_buildings(ctrl, [target])
    head = target.split("/", 1)[0].split(".", 1)[0]
    return frozenset([head if head in ctrl.site.buildings else None])


def _epoch(day: str, tz: dt.tzinfo, *, end: bool = False) -> float | None:
    """``2026-12-07`` → the local midnight starting (or, with ``end``, ending) that day."""
    if not day:
        return None
    try:
        date = dt.date.fromisoformat(day)
    except ValueError:
        return None
    start = dt.datetime.combine(date, dt.time(), tzinfo=tz)
    return (start + dt.timedelta(days=1 if end else 0)).timestamp()


def audit_view(
    ctrl: Controller,
    found: Caller,
    *,
    who: str,
    what: str,
    target: str,
    since: str,
    until: str,
    offset: int,
) -> dict[str, Any]:
    """Audit entries, newest first, searched by who (part of the name), what (action prefix),
    target (prefix) and day range."""
    log = audit_of(ctrl)
    entries: list[AuditEntry] = []
    if log is not None:
        tz = ctrl.clock.tz
        entries = log.query(
            since=_epoch(since, tz),
            until=_epoch(until, tz, end=True),
            target=target or None,
            limit=AUDIT_DEPTH,
        )
    chosen = [
        e
        for e in visible(found, entries, lambda e: _entry_buildings(ctrl, e))
        if _contains(e.actor, who) and (not what or e.action.startswith(what))
    ]
    actions = sorted(Counter(e.action for e in entries))
    return {
        "filters": {"who": who, "what": what, "target": target, "since": since, "until": until},
        "actions": actions,
        "page": paged(chosen, offset, lambda e: e.to_json()),
        "depth": AUDIT_DEPTH,
    }


# -- accounts -----------------------------------------------------------------------------
def users_view(store: AccountStore) -> dict[str, Any]:
    return {
        "users": [
            {
                "name": a.name,
                "display_name": a.display_name,
                "role": a.role.value,
                "buildings": sorted(a.buildings) if a.buildings is not None else None,
                "disabled": a.disabled,
                "lang": a.lang,
            }
            for a in store.accounts()
        ]
    }


# -- calendar -----------------------------------------------------------------------------
def calendar_view(ctrl: Controller, year: int) -> dict[str, Any]:
    """Every day of ``year`` with its day types and where its working/rest status comes from
    (the site's holidays file, the chinese-calendar library, or plain weekdays)."""
    engine = engine_of(ctrl)
    calendar = engine.ctx.calendar if engine is not None else SiteCalendar.from_site(ctrl.site)
    day = dt.date(year, 1, 1)
    days: list[dict[str, Any]] = []
    while day.year == year:
        info = calendar.day(day)
        days.append(
            {
                "date": day.isoformat(),
                "weekday": day.weekday(),
                "types": sorted(t.value for t in info.types),
                "holiday": info.holiday,
                "semester": info.semester,
                "vacation": info.vacation,
                "source": info.source,
            }
        )
        day += dt.timedelta(days=1)
    counts = Counter(t for d in days for t in d["types"])
    sources = Counter(str(d["source"]) for d in days)
    months = [[d for d in days if int(str(d["date"])[5:7]) == m] for m in range(1, 13)]
    return {
        "year": year,
        "counts": dict(sorted(counts.items())),
        "sources": dict(sorted(sources.items())),
        "provisional": year in calendar.unknown_years,
        "months": months,
        "special": [d for d in days if d["holiday"] or "makeup_workday" in d["types"]],
    }
