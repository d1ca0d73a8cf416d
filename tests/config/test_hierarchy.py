"""The meter hierarchy: parents checked at load time, and a level per metered kind."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from controller.config import load_site
from controller.config.hierarchy import MeterLink, meter_links
from tests.config.sites import issues_of, loads
from tests.conftest import EXAMPLE_SITE

SiteWith = Callable[[str], Path]

TREE = """\
- {id: dorm-1.main, profile: acrel/adl400, building: dorm-1, link: gw-1, unit_id: 1}
- {id: dorm-1.101.elec, profile: eastron/sdm120, building: dorm-1, room: "101", link: gw-1,
   unit_id: 2, parent: dorm-1.main}
- {id: dorm-1.101.ac, profile: intesis/ac-gateway-panasonic, building: dorm-1, room: "101",
   link: gw-1, unit_id: 3, parent: dorm-1.101.elec}
"""


def test_levels_follow_the_parents(site_with: SiteWith) -> None:
    site = loads(site_with(TREE))
    links = meter_links(site.devices, site.profiles)
    assert links[("dorm-1.main", "active_energy")] == MeterLink("", 0)
    assert links[("dorm-1.101.elec", "active_energy")] == MeterLink("dorm-1.main", 1)
    assert links[("dorm-1.101.ac", "active_energy")] == MeterLink("dorm-1.101.elec", 2)


def test_unknown_parent_is_reported_where_it_is_written(site_with: SiteWith) -> None:
    path = site_with(TREE.replace("parent: dorm-1.main}", "parent: dorm-1.mian}"))
    assert issues_of(path) == [
        f"{path}:16:26 devices[1].parent: unknown parent meter 'dorm-1.mian'"
    ]


def test_a_cycle_is_refused(site_with: SiteWith) -> None:
    path = site_with(TREE.replace("unit_id: 1}", "unit_id: 1, parent: dorm-1.101.ac}"))
    issues = issues_of(path)
    assert len(issues) == 3
    assert all("(a cycle)" in issue for issue in issues)


def test_a_parent_must_meter_something_the_child_meters(site_with: SiteWith) -> None:
    path = site_with(
        TREE + "- {id: dorm-1.101.cold, profile: xintai/water-meter-valve, building: dorm-1, "
        'room: "101", link: gw-1, unit_id: 4, parent: dorm-1.main}\n'
    )
    assert issues_of(path) == [
        f"{path}:19:125 devices[3].parent: parent 'dorm-1.main' meters none of what this one "
        "meters (water_volume)"
    ]


def test_own_parent_is_refused(site_with: SiteWith) -> None:
    path = site_with(TREE.replace("parent: dorm-1.main}", "parent: dorm-1.101.elec}"))
    assert issues_of(path)[0] == f"{path}:15:5 devices[1]: a meter cannot be its own parent"


def test_example_campus_counts_each_meter_on_one_level() -> None:
    site = load_site(EXAMPLE_SITE)
    links = meter_links(site.devices, site.profiles)
    assert links[("dorm-1.101.elec", "active_energy")] == MeterLink("dorm-1.main", 1)
    assert links[("dorm-1.f3.lighting", "active_energy")] == MeterLink("dorm-1.main", 1)
    assert links[("dorm-1.101.hot", "water_volume")] == MeterLink("dorm-1.hot-water", 1)
    assert links[("dorm-1.101.cold", "water_volume")] == MeterLink("", 0)
    assert links[("bath-1.shower.s01", "water_volume")] == MeterLink("bath-1.hot-water", 1)
    tops = {d for (d, kind), link in links.items() if kind == "active_energy" and not link.level}
    assert tops == {"dorm-1.main", "dorm-2.main", "canteen-1.main", "bath-1.main"}
