"""Load a site file and its profiles, validate everything, and cross-check references.

Every problem is collected and reported at once (``ConfigError.issues``), each with file,
line, column and field path. Valid items survive a bad neighbour so cross-checks still run.
Devices made by a building's templates are checked like written ones; their problems point at
the template and name the device.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from pydantic import BaseModel, TypeAdapter, ValidationError

from .common import paused_gc
from .device_map import device_profile
from .errors import (
    ConfigError,
    ConfigIssue,
    error_message,
    format_path,
    issues_from_validation,
    locate,
)
from .expand import devices_from_templates, layout_rooms
from .paths import builtin_dir
from .profile import POSITIONED_CHECKS, Profile, profile_problems
from .site import (
    MODBUS_LINK_TYPES,
    Building,
    Calendar,
    Campus,
    Device,
    Link,
    Sinks,
)
from .yamlsrc import Located, LocatedDict, Position, YamlSourceError, load_yaml_file

if TYPE_CHECKING:
    from controller.policies.config import PolicyConfig

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
_MAX_ISSUES_PER_TEMPLATE = 5
"""A broken template would otherwise repeat its error once per room."""

M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True)
class LoadedSite:
    """A validated site with every profile it references. Lookups are by id.

    Buildings list every room (room layouts expanded); ``devices`` holds the written devices
    and those the buildings' templates describe.
    """

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
        """The device's profile, with its function code and CT/PT ratios applied."""
        profile = self.profiles[device.profile]
        return device_profile(profile, device) if device.rewires else profile


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
        ids: set[str] = set()
        for base in self.dirs:
            ids.update(p.relative_to(base).with_suffix("").as_posix() for p in base.rglob("*.yaml"))
        return sorted(ids)


def _load_profile_checked(path: Path) -> Profile | list[ConfigIssue]:
    try:
        data = load_yaml_file(path)
    except YamlSourceError as err:
        return [ConfigIssue(err.position, "", err.message)]
    try:
        profile = Profile.model_validate(data, context={POSITIONED_CHECKS: True})
    except ValidationError as err:
        return sorted(issues_from_validation(err, data), key=_reading_order)
    issues = []
    for loc, message in profile_problems(profile):
        position, where = locate(data, loc)
        issues.append(ConfigIssue(position, format_path(where), message))
    return sorted(issues, key=_reading_order) or profile


def load_profile(path: Path | str) -> Profile:
    """Load one profile file; ConfigError with positions if it is invalid."""
    result = _load_profile_checked(Path(path))
    if isinstance(result, list):
        raise ConfigError(result)
    return result


@dataclass(frozen=True, slots=True)
class _Origin:
    """Where an item's fields were written: its own mapping, or the template that made it."""

    raw: Any
    path: tuple[str | int, ...]
    made: str | None = None
    """For a device made by a template: its id, named in every message."""

    def issue(self, key: str, message: str) -> ConfigIssue:
        raw = self.raw
        if (
            self.made is not None
            and key == "unit_id"
            and isinstance(raw, dict)
            and "unit_id_start" in raw
        ):
            key = "unit_id_start"
        position = raw.position_of(key) if isinstance(raw, Located) else None
        if self.made is not None:
            message = f"{message} (device {self.made})"
        return ConfigIssue(position, format_path([*self.path, key]), message)

    @property
    def position(self) -> Position | None:
        return self.raw.position if isinstance(self.raw, Located) else None


@dataclass(frozen=True, slots=True)
class _Entry(Generic[M]):
    item: M
    origin: _Origin


class _Collector:
    """Validates pieces of the raw document, keeping good items and every issue."""

    def __init__(self, root: Any) -> None:
        self.root = root
        self.issues: list[ConfigIssue] = []
        self._per_template: dict[tuple[str | int, ...], int] = {}

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

    def items(self, section: str, model: Callable[[Any], M]) -> Iterator[_Entry[M]]:
        raw = self.root.get(section)
        if raw is None:
            return
        if not isinstance(raw, list):
            self.add(self.position(self.root, section), [section], "must be a list")
            return
        for index, item in enumerate(raw):
            parsed = self.one(model, item, [section, index])
            if parsed is not None:
                yield _Entry(parsed, _Origin(item, (section, index)))

    def from_origin(self, origin: _Origin, key: str, message: str) -> None:
        """An issue about an item; a template's issues are capped (one per room is noise)."""
        if origin.made is not None:
            seen = self._per_template.get(origin.path, 0)
            self._per_template[origin.path] = seen + 1
            if seen >= _MAX_ISSUES_PER_TEMPLATE:
                return
        self.issues.append(origin.issue(key, message))

    def template_summaries(self) -> None:
        for path, count in self._per_template.items():
            if count > _MAX_ISSUES_PER_TEMPLATE:
                self.add(
                    None,
                    list(path),
                    f"{count - _MAX_ISSUES_PER_TEMPLATE} more problems with devices made by "
                    f"this template (the first {_MAX_ISSUES_PER_TEMPLATE} are listed)",
                )


def load_site(path: Path | str) -> LoadedSite:
    """Load and validate ``path``; raises ConfigError listing every problem."""
    with paused_gc():
        return _load_site(Path(path))


def _load_site(path: Path) -> LoadedSite:
    try:
        root = load_yaml_file(path)
    except YamlSourceError as err:
        raise ConfigError([ConfigIssue(err.position, "", err.message)]) from err
    if not isinstance(root, dict):
        raise ConfigError([ConfigIssue(Position(str(path), 1, 1), "", "a site file is a mapping")])
    col = _Collector(root)
    for key in root:
        if key not in _SECTIONS:
            where = root.key_position_of(key) if isinstance(root, LocatedDict) else None
            col.add(where, [key], "unknown section")

    campus = None
    if "campus" not in root:
        col.add(getattr(root, "position", None), ["campus"], "required section is missing")
    else:
        campus = col.one(Campus.model_validate, root["campus"], ["campus"])

    buildings = _expand_buildings(
        col, _unique(col, col.items("buildings", Building.model_validate))
    )
    link_adapter: TypeAdapter[Any] = TypeAdapter(Link)
    links = _unique(col, col.items("links", link_adapter.validate_python))
    devices = _unique(col, _all_devices(col, buildings))
    policies = _unique(col, col.items("policies", _validate_policy))
    sinks = col.one(Sinks.model_validate, root.get("sinks") or {}, ["sinks"])
    calendar = col.one(Calendar.model_validate, root.get("calendar") or {}, ["calendar"])

    dirs_raw = root.get("profile_dirs") or []
    profile_dirs = [path.parent / str(d) for d in dirs_raw] if isinstance(dirs_raw, list) else []
    library = ProfileLibrary(profile_dirs)
    profiles = _check_devices(col, devices, links, buildings, library)
    _check_links(col, links)
    _check_sinks(col, sinks, links, root.get("sinks"))
    _check_policies(col, policies, buildings, devices)
    col.template_summaries()

    if col.issues or campus is None or sinks is None or calendar is None:
        raise ConfigError(sorted(col.issues, key=_reading_order))
    return LoadedSite(
        source=path,
        campus=campus,
        buildings={bid: _plain(entry.item) for bid, entry in buildings.items()},
        links={lid: entry.item for lid, entry in links.items()},
        devices={did: entry.item for did, entry in devices.items()},
        profiles=profiles,
        sinks=sinks,
        policies=[entry.item for entry in policies.values()],
        calendar=calendar,
        policy_positions={pid: entry.origin.position for pid, entry in policies.items()},
    )


def _reading_order(issue: ConfigIssue) -> tuple[bool, str, int, int]:
    """File by file, top to bottom; issues without a place last (stable otherwise)."""
    where = issue.position
    if where is None:
        return (True, "", 0, 0)
    return (False, where.file, where.line, where.column)


def _validate_policy(data: Any) -> Any:
    # Deferred: the policy models import the site models (a top-level import is a cycle), and
    # building their validator takes a while, so sites without policies skip it.
    from controller.policies.config import policy_adapter

    return policy_adapter().validate_python(data)


def _unique(col: _Collector, entries: Iterator[_Entry[Any]]) -> dict[str, _Entry[Any]]:
    """Index items by id, reporting duplicates at the second occurrence."""
    out: dict[str, _Entry[Any]] = {}
    for entry in entries:
        item_id = entry.item.id
        first = out.get(item_id)
        if first is None:
            out[item_id] = entry
            continue
        origin = first.origin
        where = origin.raw.position_of("id") if isinstance(origin.raw, Located) else None
        col.from_origin(entry.origin, "id", f"duplicate id {item_id!r} (first at {where})")
    return out


def _expand_buildings(
    col: _Collector, buildings: dict[str, _Entry[Building]]
) -> dict[str, _Entry[Building]]:
    """Buildings with their room layouts expanded into rooms."""
    out: dict[str, _Entry[Building]] = {}
    for bid, entry in buildings.items():
        building = entry.item
        rooms, problems = layout_rooms(building)
        for where, message in problems:
            position, real = locate(entry.origin.raw, where)
            col.add(position, [*entry.origin.path, *real], message)
        expanded = building.model_copy(update={"rooms": rooms, "room_layout": None})
        out[bid] = _Entry(expanded, entry.origin)
    return out


def _all_devices(
    col: _Collector, buildings: dict[str, _Entry[Building]]
) -> Iterator[_Entry[Device]]:
    """The written devices, then those made by each building's templates."""
    yield from col.items("devices", Device.model_validate)
    validate = Device.model_validate
    for entry in buildings.values():
        building = entry.item
        for made in devices_from_templates(building, building.rooms):
            raw_templates = entry.origin.raw.get(made.section)
            origin = _Origin(
                raw_templates[made.index],
                (*entry.origin.path, made.section, made.index),
                str(made.fields["id"]),
            )
            try:
                device = validate(made.fields)
            except ValidationError as err:
                for error in err.errors():
                    key = str(error["loc"][0]) if error["loc"] else "id"
                    col.from_origin(origin, key, error_message(error))
                continue
            yield _Entry(device, origin)


def _plain(building: Building) -> Building:
    """The loaded form of a building: its templates now live in the site's device list."""
    if not building.room_devices and not building.floor_devices:
        return building
    return building.model_copy(update={"room_devices": [], "floor_devices": []})


class _DeviceChecks:
    """Cross-checks of devices against profiles, buildings and links, and unit ids per bus."""

    def __init__(
        self,
        col: _Collector,
        links: dict[str, _Entry[Any]],
        buildings: dict[str, _Entry[Building]],
        library: ProfileLibrary,
    ) -> None:
        self.col = col
        self.links = links
        self.library = library
        self.profiles: dict[str, Profile] = {}
        self._reported: set[str] = set()
        self._unit_ids: dict[tuple[str, int], str] = {}
        # Sets, not lists: a check per device must not scan every room of its building.
        self._rooms = {bid: {r.id for r in e.item.rooms} for bid, e in buildings.items()}
        self._areas = {bid: {a.id for a in e.item.areas} for bid, e in buildings.items()}

    def check(self, device: Device, origin: _Origin) -> None:
        protocol = self._profile(device, origin)
        self._place(device, origin)
        self._link(device, origin, protocol)

    def _profile(self, device: Device, origin: _Origin) -> str | None:
        known = self.profiles.get(device.profile)
        if known is not None:
            return known.protocol  # the common case: a profile seen before, and valid
        loaded = self.library.load(device.profile)
        if loaded is None:
            dirs = ", ".join(str(d) for d in self.library.dirs)
            self.col.from_origin(
                origin, "profile", f"unknown profile {device.profile!r} (looked in {dirs})"
            )
            return None
        if isinstance(loaded, list):
            if device.profile not in self._reported:
                self.col.issues.extend(loaded)
                self._reported.add(device.profile)
            message = f"profile {device.profile!r} is invalid (its errors are listed too)"
            self.col.from_origin(origin, "profile", message)
            return None
        self.profiles[device.profile] = loaded
        return loaded.protocol

    def _place(self, device: Device, origin: _Origin) -> None:
        rooms = self._rooms.get(device.building)
        if rooms is None:
            self.col.from_origin(origin, "building", f"unknown building {device.building!r}")
        elif device.room is not None and device.room not in rooms:
            message = f"building {device.building!r} has no room {device.room!r}"
            self.col.from_origin(origin, "room", message)
        elif device.area is not None and device.area not in self._areas[device.building]:
            message = f"building {device.building!r} has no area {device.area!r}"
            self.col.from_origin(origin, "area", message)

    def _link(self, device: Device, origin: _Origin, protocol: str | None) -> None:
        entry = self.links.get(device.link)
        if entry is None:
            self.col.from_origin(origin, "link", f"unknown link {device.link!r}")
            return
        link = entry.item
        modbus_link = link.type in MODBUS_LINK_TYPES
        if protocol is not None and (protocol == "modbus") != modbus_link:
            message = f"{protocol} profile {device.profile!r} on {link.type} link {link.id!r}"
            self.col.from_origin(origin, "link", message)
        if not modbus_link:
            if device.unit_id is not None:
                message = f"MQTT link {link.id!r} takes topic_base, not unit_id"
                self.col.from_origin(origin, "unit_id", message)
            return
        if device.unit_id is None:
            message = f"required for a device on Modbus link {link.id!r}"
            self.col.from_origin(origin, "unit_id", message)
            return
        owner = self._unit_ids.setdefault((link.id, device.unit_id), device.id)
        if owner != device.id:
            message = f"unit id {device.unit_id} is already used on bus {link.id!r} by {owner!r}"
            self.col.from_origin(origin, "unit_id", message)


def _check_devices(
    col: _Collector,
    devices: dict[str, _Entry[Device]],
    links: dict[str, _Entry[Any]],
    buildings: dict[str, _Entry[Building]],
    library: ProfileLibrary,
) -> dict[str, Profile]:
    """Run the cross-checks on every device; the profiles they use, by id."""
    checks = _DeviceChecks(col, links, buildings, library)
    for entry in devices.values():
        checks.check(entry.item, entry.origin)
    return checks.profiles


def _check_links(col: _Collector, links: dict[str, _Entry[Any]]) -> None:
    """Two Modbus links to one host and port would fight over the same gateway connection."""
    endpoints: dict[tuple[str, int], str] = {}
    for link_id, entry in links.items():
        link = entry.item
        if link.type not in MODBUS_LINK_TYPES or link.type == "serial":
            continue
        owner = endpoints.setdefault((link.host, link.port), link_id)
        if owner != link_id:
            col.from_origin(
                entry.origin,
                "port",
                f"{link.host}:{link.port} is already the endpoint of link {owner!r}",
            )


def _check_sinks(
    col: _Collector, sinks: Sinks | None, links: dict[str, _Entry[Any]], raw: Any
) -> None:
    """The MQTT export names an MQTT link."""
    if sinks is None or sinks.mqtt is None:
        return
    link_id = sinks.mqtt.link
    raw_mqtt = raw.get("mqtt") if isinstance(raw, dict) else None
    where = col.position(raw_mqtt, "link")
    entry = links.get(link_id)
    if entry is None:
        col.add(where, ["sinks", "mqtt", "link"], f"unknown link {link_id!r}")
    elif entry.item.type != "mqtt":
        message = f"link {link_id!r} is a {entry.item.type} link, not an MQTT broker"
        col.add(where, ["sinks", "mqtt", "link"], message)


def _check_policies(
    col: _Collector,
    policies: dict[str, _Entry[Any]],
    buildings: dict[str, _Entry[Building]],
    devices: dict[str, _Entry[Device]],
) -> None:
    """Buildings, rooms, areas and devices a policy names must exist."""
    from controller.policies.config import check_policy_refs

    if not policies:
        return
    plain_buildings = {bid: entry.item for bid, entry in buildings.items()}
    plain_devices = {did: entry.item for did, entry in devices.items()}
    for entry in policies.values():
        for where, message in check_policy_refs(entry.item, plain_buildings, plain_devices):
            position, real = locate(entry.origin.raw, where)
            col.add(position, [*entry.origin.path, *real], message)
