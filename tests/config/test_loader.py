"""Site validation: every error at once, each with file:line:column and the field path."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from controller.config.paths import builtin_dir
from tests.config.conftest import SITE_HEAD, Writer
from tests.config.sites import issues_of, loads

SiteWith = Callable[[str], Path]

GOOD = """\
- {id: dorm-1.101.elec, profile: eastron/sdm120, building: dorm-1, room: "101", link: gw-1,
   unit_id: 1}
- {id: dorm-1.201.elec, profile: eastron/sdm120, building: dorm-1, room: "201", link: gw-1,
   unit_id: 2}
"""


def test_a_good_site_loads(site_with: SiteWith) -> None:
    site = loads(site_with(GOOD))
    assert list(site.devices) == ["dorm-1.101.elec", "dorm-1.201.elec"]
    assert site.profiles["eastron/sdm120"].model == "SDM120-Modbus"
    assert site.campus.timezone == "Asia/Shanghai"
    assert [r.id for r in site.buildings["dorm-1"].rooms] == ["101", "201"]


def test_unit_id_out_of_range(site_with: SiteWith) -> None:
    path = site_with(
        GOOD + '- {id: dorm-1.201.ac, profile: intesis/ac-gateway, building: dorm-1, room: "201", '
        "link: gw-1, unit_id: 300}\n"
    )
    assert issues_of(path) == [f"{path}:18:106 devices[2].unit_id: must be 1–247"]


def test_unknown_profile_link_and_room(site_with: SiteWith) -> None:
    path = site_with(
        GOOD + '- {id: dorm-1.201.x, profile: acme/x, building: dorm-1, room: "202", link: gw-9, '
        "unit_id: 3}\n"
    )
    assert issues_of(path) == [
        f"{path}:18:33 devices[2].profile: unknown profile 'acme/x' "
        f"(looked in {builtin_dir('profiles')})",
        f"{path}:18:65 devices[2].room: building 'dorm-1' has no room '202'",
        f"{path}:18:78 devices[2].link: unknown link 'gw-9'",
    ]


def test_duplicate_device_id_points_at_both(site_with: SiteWith) -> None:
    path = site_with(
        GOOD + '- {id: dorm-1.101.elec, profile: eastron/sdm120, building: dorm-1, room: "101", '
        "link: gw-1, unit_id: 9}\n"
    )
    assert issues_of(path) == [
        f"{path}:18:10 devices[2].id: duplicate id 'dorm-1.101.elec' (first at {path}:14:10)"
    ]


def test_unit_id_reused_on_one_bus(site_with: SiteWith) -> None:
    path = site_with(
        GOOD + "- {id: dorm-1.meter, profile: eastron/sdm630, building: dorm-1, link: gw-1, "
        "unit_id: 2}\n"
    )
    assert issues_of(path) == [
        f"{path}:18:88 devices[2].unit_id: unit id 2 is already used on bus 'gw-1' by "
        "'dorm-1.201.elec'"
    ]


def test_unknown_field_points_at_the_key_and_suggests(site_with: SiteWith) -> None:
    path = site_with(
        "- {id: dorm-1.meter, profile: eastron/sdm630, building: dorm-1, link: gw-1, unti_id: 2}\n"
    )
    assert issues_of(path) == [
        f"{path}:14:79 devices[0].unti_id: unknown field (did you mean 'unit_id'?)"
    ]


def test_missing_required_field_points_at_the_item(site_with: SiteWith) -> None:
    path = site_with("- id: dorm-1.meter\n  profile: eastron/sdm630\n  unit_id: 4\n")
    assert issues_of(path) == [
        f"{path}:14:5 devices[0].building: required field is missing",
        f"{path}:14:5 devices[0].link: required field is missing",
    ]


def test_protocol_must_match_the_link(site_with: SiteWith) -> None:
    path = site_with(
        "- {id: plug, profile: tasmota/energy-plug, building: dorm-1, link: gw-1, unit_id: 9}\n"
        "- {id: meter, profile: eastron/sdm120, building: dorm-1, link: mqtt}\n"
        "- {id: meter2, profile: eastron/sdm120, building: dorm-1, link: gw-1}\n"
    )
    assert issues_of(path) == [
        f"{path}:14:70 devices[0].link: mqtt profile 'tasmota/energy-plug' on rtu_over_tcp "
        "link 'gw-1'",
        f"{path}:15:66 devices[1].link: modbus profile 'eastron/sdm120' on mqtt link 'mqtt'",
        f"{path}:16:5 devices[2].unit_id: required for a device on Modbus link 'gw-1'",
    ]


def test_three_broken_devices_give_three_issues_in_file_order(site_with: SiteWith) -> None:
    path = site_with(
        "- {id: a, profile: eastron/sdm120, building: dorm-1, link: gw-1, unit_id: 0}\n"
        "- {id: b, profile: eastron/sdm120, building: dorm-9, link: gw-1, unit_id: 2}\n"
        "- {id: c d, profile: eastron/sdm120, building: dorm-1, link: gw-1, unit_id: 3}\n"
        "- {id: e, profile: eastron/sdm120, building: dorm-1, link: gw-1, unit_id: 4}\n"
    )
    assert issues_of(path) == [
        f"{path}:14:77 devices[0].unit_id: must be 1–247",
        f"{path}:15:48 devices[1].building: unknown building 'dorm-9'",
        f"{path}:16:10 devices[2].id: 'c d' is not a valid id: use letters, digits, '-', '_' "
        "and '.', starting with a letter or digit",
    ]


def test_error_in_an_included_file_names_that_file(write_files: Writer) -> None:
    from tests.config.conftest import SITE_HEAD

    base = write_files(
        **{
            "site.yaml": SITE_HEAD + "devices: !include devices/*.yaml\n",
            "devices/a.yaml": "- {id: a, profile: eastron/sdm120, building: dorm-1, link: gw-1, "
            "unit_id: 1}\n",
            "devices/b.yaml": "# dorm 1, floor 2\n"
            "- {id: b, profile: eastron/sdm120, building: dorm-1, link: gw-1, unit_id: 1,\n"
            "   circuit: heating}\n",
        }
    )
    b = base / "devices" / "b.yaml"
    assert issues_of(base / "site.yaml") == [
        f"{b}:3:13 devices[1].circuit: 'heating' is not allowed; expected 'ac', 'sockets', "
        "'lighting', 'power', 'main', 'kitchen', 'cold_water', 'hot_water', 'shower' or 'other'",
    ]


def test_unknown_sections_and_missing_campus(write_files: Writer) -> None:
    base = write_files(**{"site.yaml": "buildings: []\ndevise: []\n"})
    path = base / "site.yaml"
    assert issues_of(path) == [
        f"{path}:1:1 campus: required section is missing",
        f"{path}:2:1 devise: unknown section",
    ]


def test_link_errors(site_with: SiteWith) -> None:
    path = site_with("[]\n")
    text = path.read_text(encoding="utf-8").replace(
        "  - {id: mqtt, type: mqtt}\n",
        "  - {id: mqtt, type: mqtt}\n"
        "  - {id: gw-2, type: rtu_over_tcp, host: 127.0.0.1, port: 15020}\n"
        "  - {id: gw-3, type: modbus, host: 127.0.0.1}\n"
        "  - {id: gw-4, type: modbus_tcp, host: 127.0.0.1, port: 70000}\n",
    )
    path.write_text(text, encoding="utf-8")
    assert issues_of(path) == [
        f"{path}:13:59 links[2].port: 127.0.0.1:15020 is already the endpoint of link 'gw-1'",
        f"{path}:14:5 links[3]: unknown type 'modbus'; expected 'modbus_tcp', 'rtu_over_tcp', "
        "'serial', 'mqtt', 'dlt645', 'cjt188'",
        f"{path}:15:57 links[4].port: must be 1–65535",
    ]


def test_bad_profile_in_a_site_profile_dir(write_files: Writer) -> None:
    from tests.config.conftest import SITE_HEAD

    base = write_files(
        **{
            "site.yaml": SITE_HEAD.replace("buildings:", "profile_dirs: [myprofiles]\nbuildings:")
            + "devices:\n"
            "  - {id: a, profile: acme/m1, building: dorm-1, link: gw-1, unit_id: 1}\n"
            "  - {id: b, profile: acme/m1, building: dorm-1, link: gw-1, unit_id: 2}\n",
            "myprofiles/acme/m1.yaml": """\
                manufacturer: Acme
                model: M1
                protocol: modbus
                source: test
                points:
                  - {key: voltage, name: {zh: 电压}, kind: voltage, unit: V,
                     modbus: {table: input, address: 0, type: float32}}
                  - {key: current, name: {zh: 电流}, kind: current, unit: A,
                     modbus: {table: input, address: 1, type: float32}}
                """,
        }
    )
    site, profile = base / "site.yaml", base / "myprofiles/acme/m1.yaml"
    assert issues_of(site) == [
        f"{profile}:9:38 points[1].modbus.address: 'current' overlaps 'voltage' (points[0]) at "
        "input register 1 (0x0001)",
        f"{site}:15:22 devices[0].profile: profile 'acme/m1' is invalid (its errors are listed "
        "too)",
        f"{site}:16:22 devices[1].profile: profile 'acme/m1' is invalid (its errors are listed "
        "too)",
    ]


def test_policies_are_validated_with_positions(site_with: SiteWith) -> None:
    path = site_with(GOOD)
    path.write_text(
        path.read_text(encoding="utf-8")
        + "policies:\n  - {id: p1, type: no_such_policy}\n  - {id: p2}\n",
        encoding="utf-8",
    )
    issues = issues_of(path)
    assert len(issues) == 2
    assert issues[0].startswith(f"{path}:19:5 policies[0]: unknown type 'no_such_policy'")
    assert issues[1] == f"{path}:20:5 policies[1]: needs a 'type' field"


def test_loading_pauses_the_garbage_collector_only_while_it_builds(site_with: SiteWith) -> None:
    import gc

    path = site_with(GOOD)
    assert gc.isenabled()
    loads(path)
    assert gc.isenabled()
    gc.disable()
    try:
        loads(path)
        assert not gc.isenabled(), "a caller's choice is left alone"
    finally:
        gc.enable()


def test_mqtt_export_sink_names_an_mqtt_link(write_files: Writer) -> None:
    def site(sink: str) -> Path:
        text = SITE_HEAD + "sinks:\n  mqtt: " + sink + "\n"  # the sink is on line 14
        return write_files(**{"site.yaml": text}) / "site.yaml"

    loaded = loads(site("{link: mqtt, prefix: campus/sanjie}"))
    assert loaded.sinks.mqtt is not None
    assert (loaded.sinks.mqtt.prefix, loaded.sinks.mqtt.discovery) == ("campus/sanjie", True)
    path = site("{link: gw-1}")
    assert issues_of(path) == [
        f"{path}:14:16 sinks.mqtt.link: link 'gw-1' is a rtu_over_tcp link, not an MQTT broker"
    ]
    path = site("{link: broker-9}")
    assert issues_of(path) == [f"{path}:14:16 sinks.mqtt.link: unknown link 'broker-9'"]
    path = site("{link: mqtt, prefix: a/#}")
    (issue,) = issues_of(path)
    assert issue.startswith(f"{path}:14:30 sinks.mqtt.prefix: ")
    assert issue.endswith("cannot hold the wildcards '+' or '#'")
