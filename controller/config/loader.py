"""Load a site file and its profiles, validate everything, and run the cross-checks.

Every problem is collected and reported at once (``ConfigError.issues``), each with file,
line, column and field path. Valid items survive a bad neighbour (``collect``) so the
cross-checks between sections (``checks``) still run.
Devices made by a building's templates are checked like written ones; their problems point at
the template and name the device.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypeVar

from pydantic import TypeAdapter, ValidationError

from .alarms import AlarmsConfig, NotifyConfig, WorkOrdersConfig, check_alarms
from .billing import BillingConfig
from .checks import check_devices, check_links, check_policies, check_sinks
from .collect import Collector, Entry, Origin
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
from .hierarchy import hierarchy_problems
from .paths import builtin_dir
from .policies import PolicyConfig, policy_adapter
from .profile import POSITIONED_CHECKS, Profile, profile_problems
from .reports import ReportSettings
from .site import AnyLink, Building, Calendar, Campus, Device, Link, Sinks
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
    "alarms",
    "notify",
    "workorders",
    "reports",
    "billing",
}


class _Identified(Protocol):
    @property
    def id(self) -> str: ...


Item = TypeVar("Item", bound=_Identified)


@dataclass(frozen=True)
class LoadedSite:
    """A validated site with every profile it references. Lookups are by id.

    Buildings list every room (room layouts expanded); ``devices`` holds the written devices
    and those the buildings' templates describe.
    """

    source: Path
    campus: Campus
    buildings: dict[str, Building]
    links: dict[str, AnyLink]
    devices: dict[str, Device]
    profiles: dict[str, Profile]
    sinks: Sinks
    policies: list[PolicyConfig]
    calendar: Calendar
    policy_positions: dict[str, Position | None] = field(default_factory=dict)
    alarms: AlarmsConfig = field(default_factory=AlarmsConfig)
    notify: NotifyConfig = field(default_factory=NotifyConfig)
    workorders: WorkOrdersConfig | None = None
    reports: ReportSettings = field(default_factory=ReportSettings)
    billing: BillingConfig | None = None

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
    col = Collector(root)
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
    link_adapter: TypeAdapter[AnyLink] = TypeAdapter(Link)
    links = _unique(col, col.items("links", link_adapter.validate_python))
    devices = _unique(col, _all_devices(col, buildings))
    policies = _unique(col, col.items("policies", _validate_policy))
    sinks = col.one(Sinks.model_validate, root.get("sinks") or {}, ["sinks"])
    calendar = col.one(Calendar.model_validate, root.get("calendar") or {}, ["calendar"])
    alarms = col.one(AlarmsConfig.model_validate, root.get("alarms") or {}, ["alarms"])
    notify = col.one(NotifyConfig.model_validate, root.get("notify") or {}, ["notify"])
    workorders = None
    if root.get("workorders") is not None:
        workorders = col.one(WorkOrdersConfig.model_validate, root["workorders"], ["workorders"])
    reports = col.one(ReportSettings.model_validate, root.get("reports") or {}, ["reports"])
    billing = _billing(col, root, buildings, notify)

    dirs_raw = root.get("profile_dirs") or []
    profile_dirs = [path.parent / str(d) for d in dirs_raw] if isinstance(dirs_raw, list) else []
    library = ProfileLibrary(profile_dirs)
    profiles = check_devices(col, devices, links, buildings, library)
    for device_id, message in hierarchy_problems({d: e.item for d, e in devices.items()}, profiles):
        col.from_origin(devices[device_id].origin, "parent", message)
    check_links(col, links)
    check_sinks(col, sinks, links, root.get("sinks"))
    check_policies(col, policies, buildings, devices)
    check_alarms(
        col,
        (alarms, notify),
        (root.get("alarms"), root.get("notify")),
        set(devices),
        {bid: entry.item for bid, entry in buildings.items()},
    )
    col.template_summaries()

    if (
        col.issues
        or campus is None
        or sinks is None
        or calendar is None
        or reports is None
        or alarms is None
        or notify is None
    ):
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
        alarms=alarms,
        notify=notify,
        workorders=workorders,
        reports=reports,
        billing=billing,
    )


def _reading_order(issue: ConfigIssue) -> tuple[bool, str, int, int]:
    """File by file, top to bottom; issues without a place last (stable otherwise)."""
    where = issue.position
    if where is None:
        return (True, "", 0, 0)
    return (False, where.file, where.line, where.column)


def _validate_policy(data: Any) -> PolicyConfig:
    # The validator is built on first use: it takes a while, and sites without policies skip it.
    return policy_adapter().validate_python(data)


def _billing(
    col: Collector,
    root: Any,
    buildings: dict[str, Entry[Building]],
    notify: NotifyConfig | None,
) -> BillingConfig | None:
    """The optional ``billing:`` section; the buildings and notify channels it names must exist."""
    raw = root.get("billing")
    if raw is None:
        return None
    billing = col.one(BillingConfig.model_validate, raw, ["billing"])
    if billing is None:
        return None
    for index, bid in enumerate(billing.buildings or []):
        if bid not in buildings:
            where = col.position(raw.get("buildings"), index) if isinstance(raw, dict) else None
            col.add(where, ["billing", "buildings", index], f"unknown building {bid!r}")
    channels = [c.id for c in notify.channels] if notify is not None else []
    for index, name in enumerate(billing.notify):
        if name not in channels:
            where = col.position(raw.get("notify"), index) if isinstance(raw, dict) else None
            known = ", ".join(channels) if channels else "none: add notify.channels"
            col.add(where, ["billing", "notify", index], f"unknown channel {name!r} ({known})")
    _opening_rooms(col, raw, billing, buildings)
    return billing


def _opening_rooms(
    col: Collector, raw: Any, billing: BillingConfig, buildings: dict[str, Entry[Building]]
) -> None:
    """Each ``opening_balances`` key names a room of a building of the site."""
    balances = raw.get("opening_balances") if isinstance(raw, dict) else None
    for account in billing.opening_balances:
        bid, _, room = account.partition(".")
        entry = buildings.get(bid)
        if entry is not None and any(r.id == room for r in entry.item.rooms):
            continue
        col.add(
            col.position(balances, account),
            ["billing", "opening_balances", account],
            f"no room {account!r}: keys are <building>.<room> of the site's rooms",
        )


def _unique(col: Collector, entries: Iterator[Entry[Item]]) -> dict[str, Entry[Item]]:
    """Index items by id, reporting duplicates at the second occurrence."""
    out: dict[str, Entry[Item]] = {}
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
    col: Collector, buildings: dict[str, Entry[Building]]
) -> dict[str, Entry[Building]]:
    """Buildings with their room layouts expanded into rooms."""
    out: dict[str, Entry[Building]] = {}
    for bid, entry in buildings.items():
        building = entry.item
        rooms, problems = layout_rooms(building)
        for where, message in problems:
            position, real = locate(entry.origin.raw, where)
            col.add(position, [*entry.origin.path, *real], message)
        expanded = building.model_copy(update={"rooms": rooms, "room_layout": None})
        out[bid] = Entry(expanded, entry.origin)
    return out


def _all_devices(col: Collector, buildings: dict[str, Entry[Building]]) -> Iterator[Entry[Device]]:
    """The written devices, then those made by each building's templates."""
    yield from col.items("devices", Device.model_validate)
    validate = Device.model_validate
    for entry in buildings.values():
        building = entry.item
        for made in devices_from_templates(building, building.rooms):
            raw_templates = entry.origin.raw.get(made.section)
            origin = Origin(
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
            yield Entry(device, origin)


def _plain(building: Building) -> Building:
    """The loaded form of a building: its templates now live in the site's device list."""
    if not building.room_devices and not building.floor_devices:
        return building
    return building.model_copy(update={"room_devices": [], "floor_devices": []})
