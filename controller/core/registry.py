"""The entity registry: every point of every device of a site, indexed for lookups."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from controller.config.common import paused_gc
from controller.config.hierarchy import MeterLink, meter_links
from controller.config.loader import LoadedSite
from controller.config.profile import Profile, StateClass
from controller.config.site import Building, Device

from .entity import Entity, entity_maker

__all__ = ["EntityRegistry"]


class EntityRegistry:
    """Entities by id, by device and by building; built once from a validated site."""

    def __init__(self, entities: Iterable[Entity]) -> None:
        self._by_id: dict[str, Entity] = {}
        self._by_device: dict[str, list[Entity]] = {}
        by_id, by_device = self._by_id, self._by_device
        for entity in entities:
            eid = entity.entity_id
            if eid in by_id:
                raise ValueError(f"duplicate entity id {eid}")
            by_id[eid] = entity
            same_device = by_device.get(entity.device_id)
            if same_device is None:
                by_device[entity.device_id] = [entity]
            else:
                same_device.append(entity)

    @classmethod
    def from_site(cls, site: LoadedSite) -> EntityRegistry:
        """Every point of every device of ``site``, tagged with its place on the campus."""
        with paused_gc():
            registry = cls(())
            by_id, by_device = registry._by_id, registry._by_device
            # Device by device: a device's entities come as one list (its ``of_device``). Ids
            # differ across devices (device ids are unique and point keys hold no dot), so
            # one count per device finds a profile that repeats a key.
            for device_id, entities in _entities(site):
                by_device[device_id] = entities
                before = len(by_id)
                for entity in entities:
                    by_id[entity.entity_id] = entity
                if len(by_id) != before + len(entities):
                    raise ValueError(f"duplicate entity id on device {device_id}")
            return registry

    def __getitem__(self, entity_id: str) -> Entity:
        return self._by_id[entity_id]

    def __contains__(self, entity_id: object) -> bool:
        return entity_id in self._by_id

    def __iter__(self) -> Iterator[Entity]:
        return iter(self._by_id.values())

    def __len__(self) -> int:
        return len(self._by_id)

    def get(self, entity_id: str) -> Entity | None:
        return self._by_id.get(entity_id)

    def of_device(self, device_id: str) -> list[Entity]:
        return self._by_device.get(device_id, [])

    @property
    def device_ids(self) -> list[str]:
        return list(self._by_device)

    def select(self, **tags: str) -> list[Entity]:
        """Entities whose tags match all of ``tags`` (e.g. building="dorm-1", kind="relay")."""
        return [e for e in self._by_id.values() if all(e.tags.get(k) == v for k, v in tags.items())]


def _device_tags(
    site: LoadedSite, device: Device, building: Building, rooms: dict[str, tuple[str, str]]
) -> dict[str, str]:
    """The location tags every entity of ``device`` carries (``kind`` is added per point)."""
    tags = {
        "campus": site.campus.id,
        "building": building.id,
        "building_kind": building.kind.value,
        "device": device.id,
        "profile": device.profile,
    }
    if device.room is not None:
        tags["room"] = device.room
        tags["floor"], tags["occupants"] = rooms[device.room]
    if device.area is not None:
        tags["area"] = device.area
        area = next(a for a in building.areas if a.id == device.area)
        if area.floor is not None:
            tags["floor"] = str(area.floor)
    if device.circuit is not None:
        tags["circuit"] = device.circuit.value
    return tags


def _point_facts(profile: Profile) -> list[tuple[Any, ...]]:
    """What every entity of a profile's point shares, read once per profile."""
    return [
        (
            point.key,
            point.name.zh,
            point.name.en or point.name.zh,
            point.kind,
            point.unit,
            point.device_class,
            point.state_class,
            point.writable,
            point.kind.value,
        )
        for point in profile.points
    ]


def _entities(site: LoadedSite) -> Iterator[tuple[str, list[Entity]]]:
    """Each device's id and its entities, in the profile's order of points."""
    make = entity_maker()
    # Per building and per profile once: a campus has 40k devices but a few dozen of those.
    rooms_of = {
        bid: {room.id: (str(room.floor), str(room.occupancy)) for room in b.rooms}
        for bid, b in site.buildings.items()
    }
    facts = {pid: _point_facts(profile) for pid, profile in site.profiles.items()}
    links = meter_links(site.devices, site.profiles)
    for device in site.devices.values():
        building = site.buildings[device.building]
        base = _device_tags(site, device, building, rooms_of[building.id])
        device_id = device.id
        # A device's points of one kind carry the same tags: they share one dict (a water
        # meter's 11 points have 5 kinds), which nobody mutates.
        shared: dict[tuple[str, MeterLink | None], dict[str, str]] = {}
        entities: list[Entity] = []
        for key, zh, en, kind, unit, device_class, state_class, writable, kind_tag in facts[
            device.profile
        ]:
            link = links.get((device_id, kind_tag))
            if state_class is not StateClass.TOTAL_INCREASING:
                link = None
            tags = shared.get((kind_tag, link))
            if tags is None:
                tags = shared[(kind_tag, link)] = _with_link(base, kind_tag, link)
            entities.append(
                make(
                    f"{device_id}.{key}",
                    device_id,
                    key,
                    zh,
                    en,
                    kind,
                    unit,
                    device_class,
                    state_class,
                    writable,
                    tags,
                )
            )
        yield device_id, entities


def _with_link(base: dict[str, str], kind: str, link: MeterLink | None) -> dict[str, str]:
    """The entity's tags: a consumption counter also carries its ``level`` and ``parent``."""
    if link is None:
        return {**base, "kind": kind}
    tags = {**base, "kind": kind, "level": str(link.level)}
    if link.parent:
        tags["parent"] = link.parent
    return tags
