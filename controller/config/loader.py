"""Load a site file and its profiles, validate everything, and cross-check references.

Every problem is collected and reported at once (``ConfigError.issues``), each with file,
line, column and field path. Valid items survive a bad neighbour so cross-checks still run.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, TypeAdapter, ValidationError

from .errors import ConfigError, ConfigIssue, format_path, issues_from_validation
from .paths import builtin_dir
from .profile import Profile
from .site import (
    MODBUS_LINK_TYPES,
    Building,
    Calendar,
    Campus,
    Device,
    Link,
    PolicyConfig,
    Sinks,
)
from .yamlsrc import Located, LocatedDict, Position, YamlSourceError, load_yaml_file

__all__ = ["LoadedSite", "ProfileLibrary", "load_profile", "load_site"]

_SECTIONS = {
    "campus",
    "profile_dirs",
    "buildings",
    "links",
    "devices",
    "sinks",
    "policies",
    "calendar",
}

M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True)
class LoadedSite:
    """A validated site with every profile it references. Lookups are by id."""

    source: Path
    campus: Campus
    buildings: dict[str, Building]
    links: dict[str, Any]
    devices: dict[str, Device]
    profiles: dict[str, Profile]
    sinks: Sinks
    policies: list[PolicyConfig]
    calendar: Calendar
    policy_positions: dict[str, Position | None] = field(default_factory=dict)

    def profile_of(self, device: Device) -> Profile:
        return self.profiles[device.profile]


class ProfileLibrary:
    """Finds profiles by id (``vendor/model``) in the site's folders, then the built-in ones."""

    def __init__(self, dirs: list[Path]) -> None:
        self.dirs = [*dirs, builtin_dir("profiles")]
        self._cache: dict[str, Profile | list[ConfigIssue] | None] = {}

    def find(self, profile_id: str) -> Path | None:
        for base in self.dirs:
            candidate = base / f"{profile_id}.yaml"
            if candidate.is_file():
                return candidate
        return None

    def load(self, profile_id: str) -> Profile | list[ConfigIssue] | None:
        """The profile, its issues, or None when no folder has it."""
        if profile_id not in self._cache:
            path = self.find(profile_id)
            self._cache[profile_id] = None if path is None else _load_profile_checked(path)
        return self._cache[profile_id]

    def available(self) -> list[str]:
        ids = set()
        for base in self.dirs:
            ids.update(str(p.relative_to(base).with_suffix("")) for p in base.rglob("*.yaml"))
        return sorted(ids)


def _load_profile_checked(path: Path) -> Profile | list[ConfigIssue]:
    try:
        data = load_yaml_file(path)
    except YamlSourceError as err:
        return [ConfigIssue(err.position, "", err.message)]
    try:
        return Profile.model_validate(data)
    except ValidationError as err:
        return issues_from_validation(err, data)


def load_profile(path: Path) -> Profile:
    """Load one profile file; ConfigError with positions if it is invalid."""
    result = _load_profile_checked(path)
    if isinstance(result, list):
        raise ConfigError(result)
    return result


class _Collector:
    """Validates pieces of the raw document, keeping good items and every issue."""

    def __init__(self, root: Any) -> None:
        self.root = root
        self.issues: list[ConfigIssue] = []

    def add(self, position: Position | None, path: list[str | int], message: str) -> None:
        self.issues.append(ConfigIssue(position, format_path(path), message))

    def position(self, container: Any, key: Any) -> Position | None:
        if isinstance(container, Located):
            return container.position_of(key)
        return None

    def one(self, model: Callable[[Any], M], data: Any, path: list[str | int]) -> M | None:
        try:
            return model(data)
        except ValidationError as err:
            self.issues.extend(issues_from_validation(err, data, path))
            return None

    def items(self, section: str, model: Callable[[Any], M]) -> Iterator[tuple[int, M, Any]]:
        raw = self.root.get(section) if isinstance(self.root, dict) else None
        if raw is None:
            return
        if not isinstance(raw, list):
            self.add(self.position(self.root, section), [section], "must be a list")
            return
        for index, item in enumerate(raw):
            parsed = self.one(model, item, [section, index])
            if parsed is not None:
                yield index, parsed, item


def load_site(path: Path | str) -> LoadedSite:
    """Load and validate ``path``; raises ConfigError listing every problem."""
    path = Path(path)
    try:
        root = load_yaml_file(path)
    except YamlSourceError as err:
        raise ConfigError([ConfigIssue(err.position, "", err.message)]) from err
    if not isinstance(root, dict):
        raise ConfigError([ConfigIssue(Position(str(path), 1, 1), "", "a site file is a mapping")])
    col = _Collector(root)
    for key in root:
        if key not in _SECTIONS:
            col.add(col.position(root, key), [key], "unknown section")

    campus = None
    if "campus" not in root:
        col.add(getattr(root, "position", None), ["campus"], "required section is missing")
    else:
        campus = col.one(Campus.model_validate, root["campus"], ["campus"])

    buildings = _unique(col, "buildings", col.items("buildings", Building.model_validate))
    link_adapter: TypeAdapter[Any] = TypeAdapter(Link)
    links = _unique(col, "links", col.items("links", link_adapter.validate_python))
    devices = _unique(col, "devices", col.items("devices", Device.model_validate))
    policies = _unique(col, "policies", col.items("policies", PolicyConfig.model_validate))
    sinks = col.one(Sinks.model_validate, root.get("sinks") or LocatedDict(), ["sinks"])
    calendar = col.one(Calendar.model_validate, root.get("calendar") or LocatedDict(), ["calendar"])

    dirs_raw = root.get("profile_dirs") or []
    profile_dirs = [path.parent / str(d) for d in dirs_raw] if isinstance(dirs_raw, list) else []
    library = ProfileLibrary(profile_dirs)
    profiles = _check_devices(col, devices, links, buildings, library)

    if col.issues or campus is None or sinks is None or calendar is None:
        raise ConfigError(col.issues)
    return LoadedSite(
        source=path,
        campus=campus,
        buildings={b.id: b for b, _ in buildings.values()},
        links={link.id: link for link, _ in links.values()},
        devices={d.id: d for d, _ in devices.values()},
        profiles=profiles,
        sinks=sinks,
        policies=[p for p, _ in policies.values()],
        calendar=calendar,
        policy_positions={pid: pos for pid, (_, pos) in policies.items()},
    )


def _unique(
    col: _Collector, section: str, items: Iterator[tuple[int, Any, Any]]
) -> dict[str, tuple[Any, Position | None]]:
    """Index items by id, reporting duplicates at the second occurrence."""
    out: dict[str, tuple[Any, Position | None]] = {}
    for index, item, raw in items:
        pos = col.position(raw, "id")
        if item.id in out:
            first = out[item.id][1]
            col.add(pos, [section, index, "id"], f"duplicate id {item.id!r} (first at {first})")
            continue
        out[item.id] = (item, pos)
    return out


def _check_devices(
    col: _Collector,
    devices: dict[str, tuple[Device, Position | None]],
    links: dict[str, tuple[Any, Position | None]],
    buildings: dict[str, tuple[Building, Position | None]],
    library: ProfileLibrary,
) -> dict[str, Profile]:
    profiles: dict[str, Profile] = {}
    bad_profiles: set[str] = set()
    unit_ids: dict[tuple[str, int], str] = {}
    raw_devices = col.root.get("devices") or []
    index_of = {raw.get("id"): i for i, raw in enumerate(raw_devices) if isinstance(raw, dict)}
    for device, _ in devices.values():
        i = index_of.get(device.id, 0)
        raw = raw_devices[i]

        def report(key: str, message: str, raw: Any = raw, i: int = i) -> None:
            col.add(col.position(raw, key), ["devices", i, key], message)

        loaded = library.load(device.profile)
        if loaded is None:
            report("profile", f"unknown profile {device.profile!r} (looked in {_dirs(library)})")
        elif isinstance(loaded, list):
            if device.profile not in bad_profiles:
                col.issues.extend(loaded)
                bad_profiles.add(device.profile)
            report("profile", f"profile {device.profile!r} is invalid (see above)")
        else:
            profiles[device.profile] = loaded

        building = buildings.get(device.building)
        if building is None:
            report("building", f"unknown building {device.building!r}")
        else:
            b = building[0]
            if device.room is not None and device.room not in {r.id for r in b.rooms}:
                report("room", f"building {b.id!r} has no room {device.room!r}")
            if device.area is not None and device.area not in {a.id for a in b.areas}:
                report("area", f"building {b.id!r} has no area {device.area!r}")

        link_entry = links.get(device.link)
        if link_entry is None:
            report("link", f"unknown link {device.link!r}")
            continue
        link = link_entry[0]
        protocol = None if not isinstance(loaded, Profile) else loaded.protocol
        if link.type in MODBUS_LINK_TYPES:
            if protocol == "mqtt":
                report("link", f"MQTT profile {device.profile!r} on Modbus link {link.id!r}")
            if device.unit_id is None:
                report("unit_id", f"required for a device on Modbus link {link.id!r}")
            else:
                key = (link.id, device.unit_id)
                if key in unit_ids:
                    report(
                        "unit_id",
                        f"unit id {device.unit_id} is already used on bus {link.id!r} by "
                        f"{unit_ids[key]!r}",
                    )
                else:
                    unit_ids[key] = device.id
        elif protocol == "modbus":
            report("link", f"Modbus profile {device.profile!r} on MQTT link {link.id!r}")
        elif device.unit_id is not None:
            report("unit_id", f"MQTT link {link.id!r} takes topic_base, not unit_id")
    return profiles


def _dirs(library: ProfileLibrary) -> str:
    return ", ".join(str(d) for d in library.dirs)
