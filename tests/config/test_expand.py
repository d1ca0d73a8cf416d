"""Room layouts and per-floor/per-room device templates: expansion and positioned errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from controller.config.site import Circuit
from controller.sitegen import SiteShape, write_site
from tests.config.conftest import Writer
from tests.config.sites import issues_of, loads

CAMPUS = "campus: {id: t, name: {zh: 测试}}\n"
LINKS = """\
links:
  - {id: gw-dorm-1-f1, type: rtu_over_tcp, host: 127.0.0.1, port: 15001}
  - {id: gw-dorm-1-f2, type: rtu_over_tcp, host: 127.0.0.1, port: 15002}
  - {id: gw-dorm-1-f3, type: rtu_over_tcp, host: 127.0.0.1, port: 15003}
"""


def building(extra: str) -> str:
    return (
        "buildings:\n"
        "  - id: dorm-1\n"
        "    kind: dorm\n"
        "    name: {zh: 一号楼}\n"
        "    floors: 3\n" + extra
    )


ROOM_TEMPLATES = """\
    room_layout: {per_floor: 3, count: 7, capacity: 6}
    floor_devices:
      - {id: "{building}.f{floor}.light", profile: chint/ddsu666, link: "gw-{building}-f{floor}",
         unit_id: 101, circuit: lighting, tags: ["floor-{floor}"], name: {zh: "{floor}层照明"}}
    room_devices:
      - {id: "{building}.{room}.elec", profile: eastron/sdm120, link: "gw-{building}-f{floor}",
         unit_id_start: 1}
      - {id: "{building}.{room}.ac", profile: intesis/ac-gateway, link: "gw-{building}-f{floor}",
         unit_id_start: 21, circuit: ac}
"""


def test_layout_and_templates_expand(write_files: Writer) -> None:
    base = write_files(**{"site.yaml": CAMPUS + building(ROOM_TEMPLATES) + LINKS})
    site = loads(base / "site.yaml")
    dorm = site.buildings["dorm-1"]
    assert [(r.id, r.floor, r.capacity) for r in dorm.rooms] == [
        ("101", 1, 6),
        ("102", 1, 6),
        ("103", 1, 6),
        ("201", 2, 6),
        ("202", 2, 6),
        ("203", 2, 6),
        ("301", 3, 6),
    ]
    # The loaded building is plain: its templates became devices.
    assert (dorm.room_layout, dorm.room_devices, dorm.floor_devices) == (None, [], [])
    assert len(site.devices) == 3 + 7 * 2
    light = site.devices["dorm-1.f2.light"]
    assert (light.link, light.unit_id, light.tags, light.circuit) == (
        "gw-dorm-1-f2",
        101,
        ["floor-2"],
        Circuit.LIGHTING,
    )
    assert light.name is not None
    assert light.name.zh == "2层照明"
    units = {d.id: (d.link, d.unit_id, d.room) for d in site.devices.values() if d.room}
    assert units["dorm-1.101.elec"] == ("gw-dorm-1-f1", 1, "101")
    assert units["dorm-1.203.ac"] == ("gw-dorm-1-f2", 23, "203")
    assert units["dorm-1.301.elec"] == ("gw-dorm-1-f3", 1, "301")


@pytest.mark.parametrize("rooms", [240, 130])
def test_templates_load_exactly_like_the_explicit_layout(tmp_path: Path, rooms: int) -> None:
    compact = loads(write_site(tmp_path / "t", SiteShape(rooms=rooms)))
    explicit = loads(write_site(tmp_path / "e", SiteShape(rooms=rooms, layout="explicit")))
    assert compact.devices == explicit.devices
    assert compact.buildings == explicit.buildings
    assert compact.links == explicit.links


def test_unknown_placeholder_points_at_the_template_field(write_files: Writer) -> None:
    templates = ROOM_TEMPLATES.replace('"{building}.{room}.elec"', '"{building}.{rom}.elec"')
    base = write_files(**{"site.yaml": CAMPUS + building(templates) + LINKS})
    path = base / "site.yaml"
    assert issues_of(path) == [
        f"{path}:12:14 buildings[0].room_devices[0].id: unknown placeholder {{rom}}; use "
        "{building}, {floor}, {room}, {index}",
    ]


def test_errors_of_made_devices_point_at_the_template_and_name_the_device(
    write_files: Writer,
) -> None:
    templates = ROOM_TEMPLATES.replace("unit_id_start: 21", "unit_id_start: 246")
    base = write_files(**{"site.yaml": CAMPUS + building(templates) + LINKS})
    path = base / "site.yaml"
    where = f"{path}:15:25 buildings[0].room_devices[1].unit_id_start"
    # Room 3 of floors 1 and 2 would get unit id 248.
    assert issues_of(path) == [
        f"{where}: must be 1–247 (device dorm-1.103.ac)",
        f"{where}: must be 1–247 (device dorm-1.203.ac)",
    ]


def test_a_broken_template_reports_five_devices_and_a_count(write_files: Writer) -> None:
    templates = ROOM_TEMPLATES.replace(
        'link: "gw-{building}-f{floor}",\n         unit_id_start: 1',
        'link: "gw-{building}-f{floor}",\n         unit_id_start: 1, tags: ["r {room}"]',
    )
    base = write_files(**{"site.yaml": CAMPUS + building(templates) + LINKS})
    path = base / "site.yaml"
    issues = issues_of(path)
    assert len(issues) == 6
    assert issues[0] == (
        f"{path}:13:34 buildings[0].room_devices[0].tags: 'r 101' is not a valid id: use "
        "letters, digits, '-' and '_', starting with a letter or digit (device dorm-1.101.elec)"
    )
    assert issues[-1] == (
        "buildings[0].room_devices[0]: 2 more problems with devices made by this template "
        "(the first 5 are listed)"
    )


def test_layout_room_ids_must_differ(write_files: Writer) -> None:
    layout = "    room_layout: {per_floor: 2, id: 'r{index}'}\n"
    base = write_files(**{"site.yaml": CAMPUS + building(layout) + LINKS})
    path = base / "site.yaml"
    assert issues_of(path) == [
        f"{path}:7:37 buildings[0].room_layout.id: room id 'r1' repeats: the pattern needs both "
        "{floor} and {index}"
    ]


def test_layout_rooms_and_written_rooms_must_not_clash(write_files: Writer) -> None:
    layout = (
        "    room_layout: {per_floor: 2}\n"
        "    rooms:\n"
        "      - {id: '102', floor: 1}\n"
        "      - {id: '900', floor: 3}\n"
    )
    base = write_files(**{"site.yaml": CAMPUS + building(layout) + LINKS})
    path = base / "site.yaml"
    assert issues_of(path) == [
        f"{path}:9:14 buildings[0].rooms[0].id: room '102' is also made by room_layout"
    ]


def test_layout_must_fit_the_floors(write_files: Writer) -> None:
    layout = "    room_layout: {per_floor: 2, count: 7}\n"
    base = write_files(**{"site.yaml": CAMPUS + building(layout) + LINKS})
    path = base / "site.yaml"
    assert issues_of(path) == [
        f"{path}:3:5 buildings[0]: room_layout holds at most 6 rooms on floors 1–3, not 7"
    ]


def test_made_device_ids_clash_with_written_ones(write_files: Writer) -> None:
    devices = (
        "devices:\n"
        "  - {id: dorm-1.f1.light, profile: chint/ddsu666, building: dorm-1, link: gw-dorm-1-f1,"
        " unit_id: 102}\n"
    )
    base = write_files(**{"site.yaml": CAMPUS + building(ROOM_TEMPLATES) + LINKS + devices})
    path = base / "site.yaml"
    assert issues_of(path) == [
        f"{path}:9:14 buildings[0].floor_devices[0].id: duplicate id 'dorm-1.f1.light' (first "
        f"at {path}:21:10) (device dorm-1.f1.light)",
    ]


ONE_GATEWAY = """\
    room_layout: {per_floor: 3, count: 7, capacity: 6}
    room_devices:
      - {id: "{building}.{room}.elec", profile: eastron/sdm120, link: gw-dorm-1,
         unit_id_start: 1, unit_ids_per: building}
      - {id: "{building}.{room}.ac", profile: intesis/ac-gateway, link: gw-dorm-1,
         unit_id_start: 101, unit_ids_per: building, circuit: ac}
links:
  - {id: gw-dorm-1, type: rtu_over_tcp, host: 127.0.0.1, port: 15001}
"""


def test_unit_ids_numbered_across_a_building_on_one_gateway(write_files: Writer) -> None:
    base = write_files(**{"site.yaml": CAMPUS + building(ONE_GATEWAY)})
    site = loads(base / "site.yaml")
    units = {d.id: d.unit_id for d in site.devices.values()}
    assert units["dorm-1.101.elec"] == 1
    assert units["dorm-1.103.elec"] == 3
    assert units["dorm-1.201.elec"] == 4  # floor 2 carries on where floor 1 stopped
    assert units["dorm-1.301.elec"] == 7
    assert units["dorm-1.301.ac"] == 107
    assert len(set(units.values())) == len(units)


def test_per_floor_numbering_on_one_gateway_names_the_clash(write_files: Writer) -> None:
    per_floor = ONE_GATEWAY.replace(", unit_ids_per: building", "")
    base = write_files(**{"site.yaml": CAMPUS + building(per_floor)})
    problems = issues_of(base / "site.yaml")
    assert any("unit id 1 is already used on bus 'gw-dorm-1'" in p for p in problems), problems
