"""What the policies and the staff do to one room, for its page: the policies that cover it,
the points they hold now, its quota balances, the overrides exempting it and the latest
commands sent to it.

A dorm manager answering "why is my socket off?" needs these on the room's page, not spread
over the policies, overrides and audit pages. Everything is read per room (the engine's units
of the room's devices, the holds of its points, audit entries by device prefix), never by
walking the campus, so the page stays as cheap on a 10,000-room campus as on a small one.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from controller.app import Controller

from .staff_views import audit_of, engine_of

__all__ = ["RECENT_COMMANDS", "room_policies"]

RECENT_COMMANDS = 10
"""Commands listed on a room page (the audit page has the rest)."""


def room_policies(
    ctrl: Controller, building_id: str, room_id: str, rows: Sequence[dict[str, Any]]
) -> dict[str, Any]:
    """The room's policy section from the room view's device ``rows`` (each with its
    ``entities``); empty lists when this controller runs no policy engine or audit log."""
    devices = [str(d["id"]) for d in rows]
    names = {str(e["entity_id"]): str(e["name"]) for d in rows for e in d["entities"]}
    return {
        **_engine_part(ctrl, f"{building_id}/{room_id}", devices, names),
        "commands": _recent_commands(ctrl, devices, names),
    }


def _engine_part(
    ctrl: Controller, room_key: str, devices: list[str], names: dict[str, str]
) -> dict[str, Any]:
    engine = engine_of(ctrl)
    if engine is None:
        return {"covering": [], "holds": [], "quotas": [], "overrides": []}
    core = engine.core
    refs = set(core.find_units(room_key))
    for device in devices:
        refs.update(core.find_units(device))
    holds = []
    for entity_id, name in names.items():
        want = core.winner(entity_id)
        if want is not None:
            holds.append(
                {
                    "policy": want.policy_id,
                    "entity_id": entity_id,
                    "name": name,
                    "value": want.value,
                }
            )
    mine = set(devices)
    return {
        "covering": sorted({core.policies[pi].id for pi, _ in refs}),
        "holds": holds,
        "quotas": [dataclasses.asdict(b) for b in engine.views.quota_balances(room=room_key)],
        "overrides": [
            {  # only this room's devices: an override may span buildings the reader cannot see
                "id": o.id,
                "kind": o.kind,
                "policies": None if o.policies is None else sorted(o.policies),
                "devices": sorted(o.devices & mine),
                "reason": o.reason,
                "actor": o.actor,
                "expires_at": o.expires_at,
            }
            for o in engine.views.overrides()
            if o.devices & mine
        ],
    }


def _recent_commands(
    ctrl: Controller, devices: list[str], names: dict[str, str]
) -> list[dict[str, Any]]:
    """The newest commands to the room's points, from any source (staff, policies, scripts)."""
    log = audit_of(ctrl)
    if log is None:
        return []
    entries = [
        entry
        for device in devices
        for entry in log.query(action="command", target=device, limit=RECENT_COMMANDS)
    ]
    entries.sort(key=lambda e: e.seq, reverse=True)
    return [
        {
            "ts": e.ts,
            "actor": e.actor,
            "entity_id": e.target,
            "name": names.get(e.target, e.target),
            "value": e.details.get("value"),
            "result": e.result,
            "reason": e.reason,
        }
        for e in entries[:RECENT_COMMANDS]
    ]
