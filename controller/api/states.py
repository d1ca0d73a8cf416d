"""States as readers see them, and filters checked against the site.

Shared by the entity and state routes and the building and room routes: a state carries the
entity's name, unit and device and whether it is live, so a client never joins two calls; a
filter naming a building, room, device or kind the site does not have answers 422 naming it
(``?building=dorm-9`` is a typo, not an empty campus).
"""

from __future__ import annotations

from controller.app import Controller
from controller.config.profile import Point, PointKind
from controller.config.site import Circuit
from controller.core import Entity
from controller.core.vocabulary import to_api

from .errors import ApiError, FieldError
from .schemas import StateOut

__all__ = ["check_filters", "point_of", "state_out"]

_KINDS = frozenset(k.value for k in PointKind)
_CIRCUITS = frozenset(c.value for c in Circuit)


def point_of(ctrl: Controller, entity: Entity) -> Point:
    """The profile point behind ``entity``."""
    return ctrl.site.profile_of(ctrl.site.devices[entity.device_id]).point(entity.point_key)


def state_out(ctrl: Controller, entity: Entity, lang: str) -> StateOut:
    """The entity's current state in the API's vocabulary, with its name and unit."""
    current = ctrl.states.get(entity.entity_id)
    name = entity.name_en if lang == "en" and entity.name_en else entity.name_zh
    common = {"device_id": entity.device_id, "name": name, "unit": entity.unit}
    if current is None:
        return StateOut(
            entity_id=entity.entity_id,
            value=None,
            timestamp=None,
            quality=None,
            available=False,
            **common,
        )
    return StateOut(
        entity_id=entity.entity_id,
        value=to_api(point_of(ctrl, entity), current.value),
        timestamp=current.timestamp,
        quality=current.quality.value,
        available=current.available,
        **common,
    )


def check_filters(
    ctrl: Controller,
    *,
    building: str | None = None,
    room: str | None = None,
    device: str | None = None,
    kind: str | None = None,
    circuit: str | None = None,
) -> None:
    """422 for a filter value the site does not know (all of them named at once)."""
    site = ctrl.site
    problems: list[FieldError] = []

    def unknown(field: str, value: str, what: str) -> None:
        problems.append(
            FieldError(
                loc=["query", field], msg=f"no {what} {value!r} on this site", type="unknown"
            )
        )

    if building is not None and building not in site.buildings:
        unknown("building", building, "building")
    if room is not None:
        places = [site.buildings[building]] if building in site.buildings else []
        if building is None:
            places = list(site.buildings.values())
        if places and not any(r.id == room for b in places for r in b.rooms):
            unknown("room", room, "room")
    if device is not None and device not in site.devices:
        unknown("device", device, "device")
    if kind is not None and kind not in _KINDS:
        unknown("kind", kind, "point kind")
    if circuit is not None and circuit not in _CIRCUITS:
        unknown("circuit", circuit, "circuit")
    if problems:
        raise ApiError(422, "; ".join(p.msg for p in problems), problems)
