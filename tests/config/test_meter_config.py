"""DL/T 645 and CJ/T 188 links, meter addresses and profiles: clear errors with positions."""

from __future__ import annotations

from pathlib import Path

from tests.config.conftest import SITE_HEAD, Writer
from tests.config.sites import issues_of, loads

LINKS = """\
  - {id: m645, type: dlt645, host: 127.0.0.1, port: 8899, relay_password: "123456"}
  - {id: m188, type: cjt188, transport: serial, device: /dev/ttyUSB1}
"""
"""Lines 13–14; devices start on line 16."""


def _site(write_files: Writer, devices: str, links: str = LINKS, **files: str) -> Path:
    head = SITE_HEAD.replace("  - {id: mqtt, type: mqtt}\n", "  - {id: mqtt, type: mqtt}\n" + links)
    return write_files(**{"site.yaml": head + "devices:\n" + devices, **files}) / "site.yaml"


GOOD = """\
  - {id: dorm-1.101.elec, profile: generic/dorm-prepaid-meter-dlt645, building: dorm-1,
     room: "101", link: m645, address: "101"}
  - {id: dorm-1.101.cold, profile: generic/cjt188-cold-water-valve, building: dorm-1,
     room: "101", link: m188, address: "00000000000101"}
"""


def test_meters_load_with_their_addresses_and_the_password_stays_secret(
    write_files: Writer,
) -> None:
    site = loads(_site(write_files, GOOD))
    assert site.devices["dorm-1.101.elec"].address == "101"
    link = site.links["m645"]
    assert link.type == "dlt645"
    assert "123456" not in repr(link)
    assert site.links["m188"].parity == "E"  # 2400 baud 8E1 unless told otherwise


def test_addresses_are_required_unique_and_short_enough(write_files: Writer) -> None:
    path = _site(
        write_files,
        GOOD
        + """\
  - {id: dorm-1.201.elec, profile: generic/dorm-prepaid-meter-dlt645, building: dorm-1,
     room: "201", link: m645}
  - {id: dorm-1.201.x, profile: generic/dorm-prepaid-meter-dlt645, building: dorm-1,
     room: "201", link: m645, address: "000000000101"}
  - {id: dorm-1.201.cold, profile: generic/cjt188-cold-water-valve, building: dorm-1,
     room: "201", link: m188, address: "123456789012345"}
  - {id: dorm-1.201.hot, profile: generic/cjt188-hot-water, building: dorm-1,
     room: "201", link: m188, address: "202", unit_id: 3}
""",
    )
    assert issues_of(path) == [
        f"{path}:20:5 devices[2].address: required for a meter on dlt645 link 'm645'",
        f"{path}:23:40 devices[3].address: address 000000000101 is already used on bus 'm645' "
        "by 'dorm-1.101.elec'",
        f"{path}:25:40 devices[4].address: a meter address is 1–14 digits (12 for DL/T 645, "
        "14 for CJ/T 188)",
        f"{path}:26:5 devices[5]: unit_id is for Modbus devices, topic_base for MQTT, address "
        "for DL/T 645 and CJ/T 188 meters: give one, not unit_id and address",
    ]


def test_a_meter_profile_on_another_link_and_an_address_on_modbus(write_files: Writer) -> None:
    path = _site(
        write_files,
        """\
  - {id: a, profile: generic/cjt188-hot-water, building: dorm-1, link: m645, address: "1"}
  - {id: b, profile: eastron/sdm120, building: dorm-1, link: gw-1, address: "1"}
""",
    )
    assert issues_of(path) == [
        f"{path}:16:72 devices[0].link: cjt188 profile 'generic/cjt188-hot-water' on dlt645 "
        "link 'm645'",
        f"{path}:17:5 devices[1].unit_id: required for a device on Modbus link 'gw-1'",
        f"{path}:17:77 devices[1].address: rtu_over_tcp link 'gw-1' takes no address",
    ]


def test_meter_link_errors(write_files: Writer) -> None:
    path = _site(
        write_files,
        "  []\n",
        links="""\
  - {id: m645, type: dlt645, relay_password: "12345"}
  - {id: m188, type: cjt188, transport: serial}
  - {id: m189, type: cjt188, host: 127.0.0.1, port: 15020}
""",
    )
    assert issues_of(path) == [
        f"{path}:13:46 links[2].relay_password: a DL/T 645 password is 6 digits",
        f"{path}:14:5 links[3].cjt188: a serial meter link needs 'device' (e.g. /dev/ttyUSB0)",
        f"{path}:15:53 links[4].port: 127.0.0.1:15020 is already the endpoint of link 'gw-1'",
    ]


PROFILE_HEAD = """\
manufacturer: Acme
model: M1
protocol: dlt645
source: test
points:
"""


def _with_profile(write_files: Writer, points: str) -> tuple[Path, Path]:
    base = write_files(
        **{
            "site.yaml": SITE_HEAD.replace(
                "buildings:", "profile_dirs: [mine]\nbuildings:", 1
            ).replace("  - {id: mqtt, type: mqtt}\n", "  - {id: mqtt, type: mqtt}\n" + LINKS)
            + "devices:\n"
            '  - {id: a, profile: acme/m1, building: dorm-1, link: m645, address: "1"}\n',
            "mine/acme/m1.yaml": PROFILE_HEAD + points,
        }
    )
    return base / "site.yaml", base / "mine/acme/m1.yaml"


def test_meter_profile_points_are_checked_with_positions(write_files: Writer) -> None:
    site, profile = _with_profile(
        write_files,
        """\
  - {key: odd, name: {zh: 奇}, kind: status, dlt645: {di: "04001234"}}
  - {key: relay, name: {zh: 继电器}, kind: relay, writable: true,
     dlt645: {di: "04000503", bit: 4, relay: true}}
""",
    )
    assert issues_of(site) == [
        f"{profile}:6:58 points[0].dlt645.di: DI 04001234 is not a standard identifier here: "
        "give 'length'",
        f"{profile}:8:46 points[1].dlt645.relay: a relay point needs the profile's dlt645.relay "
        "(plain or esam)",
        f"{site}:17:22 devices[0].profile: profile 'acme/m1' is invalid (its errors are listed "
        "too)",
    ]


def test_only_the_relay_point_of_a_dlt645_profile_is_writable(write_files: Writer) -> None:
    site, profile = _with_profile(
        write_files,
        """\
  - {key: energy, name: {zh: 电能}, kind: active_energy, writable: true, range: [0, 1],
     dlt645: {di: "00010000"}}
""",
    )
    assert issues_of(site)[0] == (
        f"{profile}:6:5 points[0]: a writable DL/T 645 point must be the relay point "
        "('relay: true')"
    )
