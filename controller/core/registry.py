"""The entity registry: every point of every device of a site, indexed for lookups."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator

from controller.config.loader import LoadedSite

from .entity import Entity, entity_id

__all__ = ["EntityRegistry"]


class EntityRegistry:
    """Entities by id, by device and by building; built once from a validated site."""

    def __init__(self, entities: Iterable[Entity]) -> None:
        self._by_id: dict[str, Entity] = {}
        self._by_device: dict[str, list[Entity]] = defaultdict(list)
        for entity in entities:
            if entity.entity_id in self._by_id:
                raise ValueError(f"duplicate entity id {entity.entity_id}")
            self._by_id[entity.entity_id] = entity
            self._by_device[entity.device_id].append(entity)

    @classmethod
    def from_site(cls, site: LoadedSite) -> EntityRegistry:
        return cls(_entities(site))

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


def _entities(site: LoadedSite) -> Iterator[Entity]:
    for device in site.devices.values():
        profile = site.profile_of(device)
        building = site.buildings[device.building]
        rooms = {r.id: r for r in building.rooms} if device.room else {}
        base = {
            "campus": site.campus.id,
            "building": building.id,
            "building_kind": building.kind.value,
            "device": device.id,
            "profile": device.profile,
        }
        if device.room:
            base["room"] = device.room
            base["floor"] = str(rooms[device.room].floor)
        if device.area:
            base["area"] = device.area
            area = next(a for a in building.areas if a.id == device.area)
            if area.floor is not None:
                base["floor"] = str(area.floor)
        if device.circuit:
            base["circuit"] = device.circuit.value
        for point in profile.points:
            yield Entity(
                entity_id=entity_id(device.id, point.key),
                device_id=device.id,
                point_key=point.key,
                name_zh=point.name.zh,
                name_en=point.name.en or point.name.zh,
                kind=point.kind,
                unit=point.unit,
                device_class=point.device_class,
                state_class=point.state_class,
                writable=point.writable,
                tags={**base, "kind": point.kind.value},
            )
