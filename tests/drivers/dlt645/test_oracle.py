"""The DL/T 645 driver (and the emulator's own encoder) against an independent implementation:
the ``dlt645`` package from the package index (Chen Dongyu, Apache-2.0, pinned in the test
extra only; the product never imports it).

On the same identifiers: the package's data-item table (format, bytes, decimals) against the
driver's; frames the driver builds, parsed by the package; frames the package builds, parsed and
decoded by the driver; and the emulated meter's replies, parsed by the package.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from dlt645.common.transform import bcd_to_float, float_to_bcd
from dlt645.model.data.define import DIMap
from dlt645.protocol.protocol import DLT645Protocol

from controller.config import load_site
from controller.core import FakeClock
from drivers.dlt645 import (
    BROADCAST,
    Control,
    MeterErrorReply,
    PointSpec,
    address_bytes,
    decode_point,
    known_item,
    parse_frame,
    read_request,
    reply_payload,
    time_broadcast,
)
from drivers.dlt645.items import Encoding, Item, block_of, block_offset, di_bytes
from emulators.dlt645.codec import split_requests
from emulators.dlt645.meter import EmulatedDlt645Meter
from emulators.meterbus.site import wire_address
from emulators.models import BoundDevice, build_model

METER = address_bytes("202401150007")

# Every identifier the shipped DL/T 645 profiles read, and the list (energy totals and
# tariffs, voltage, current, power, power factor, frequency, the run-status word with the relay).
IDENTIFIERS = [
    0x00000000,  # combined active energy, total
    0x00010000,  # forward active energy, total
    0x00010100,  # forward active energy, tariff 1 (尖): DI1 is the tariff
    0x00010400,  # tariff 4 (谷)
    0x00010001,  # forward active energy total at the last settlement day: DI0 is the month
    0x00020000,  # reverse active energy
    0x00030000,  # combined reactive energy 1
    0x02010100,  # phase A voltage
    0x02010300,  # phase C voltage
    0x02020100,  # phase A current
    0x02030000,  # total active power
    0x02030100,  # phase A active power
    0x02040000,  # total reactive power
    0x02050000,  # total apparent power
    0x02060000,  # total power factor
    0x02800002,  # grid frequency
    0x04000503,  # run-status word 3 (relay state, bit 4)
]


def _format(di: int) -> str:
    item = DIMap.get(di)
    assert item is not None, f"the package has no DI {di:08X}"
    return str(item.data_format)


def _digits(fmt: str) -> tuple[int, int]:
    """(bytes, decimals) of a package format string: six digit places, a dot and two
    decimals give (4, 2)."""
    whole, _, decimals = fmt.partition(".")
    return (len(whole) + len(decimals)) // 2, len(decimals)


@pytest.mark.parametrize("di", IDENTIFIERS, ids=lambda d: f"{d:08X}")
def test_the_driver_packs_each_identifier_as_the_package_does(di: int) -> None:
    item = known_item(di)
    assert item is not None
    length, decimals = _digits(_format(di))
    assert item.length == length
    if item.encoding is Encoding.BCD:
        assert item.decimals == decimals
    else:  # a status word: four digit places and no dot in the package (two bytes, no decimals)
        assert decimals == 0


def test_di1_picks_the_tariff_and_di0_the_settlement_month_as_in_the_package() -> None:
    """The driver's block reads put tariff n at item n of ``0001FF00``; the package names the
    same identifiers, so a tariff is never read from a settlement month's total."""
    assert "费率1" in str(DIMap[0x00010100].name)
    assert "费率4" in str(DIMap[0x00010400].name)
    assert "上1结算日" in str(DIMap[0x00010001].name)
    assert block_of(0x00010400) == 0x0001FF00
    assert block_offset(0x00010400) == 4
    assert block_of(0x00010001) == 0x0001FF01  # month 1's own block, not the current one


@pytest.mark.parametrize("di", IDENTIFIERS, ids=lambda d: f"{d:08X}")
def test_the_package_parses_the_driver_s_read_requests(di: int) -> None:
    ours = read_request(METER, di)
    theirs = DLT645Protocol.build_frame(METER, 0x11, di_bytes(di))
    assert ours == bytes(theirs)  # byte for byte, FE preamble included
    frame = DLT645Protocol.deserialize(ours)
    assert frame is not None
    assert bytes(frame.addr) == METER
    assert frame.ctrl_code == Control.READ
    assert bytes(frame.data) == di_bytes(di)


VALUES = {
    0x00010000: 12345.67,
    0x00010400: 0.26,  # tariff 4
    0x00010001: 8765.43,  # last settlement day
    0x02010100: 229.8,
    0x02020100: -4.321,  # reverse current: sign in the top bit
    0x02030000: 1.0234,
    0x02060000: 0.987,
    0x02800002: 49.98,
}


@pytest.mark.parametrize("di", list(VALUES), ids=lambda d: f"{d:08X}")
def test_the_driver_decodes_replies_the_package_builds(di: int) -> None:
    value = VALUES[di]
    payload = bytes(float_to_bcd(value, _format(di), "little"))
    raw = bytes(DLT645Protocol.build_frame(METER, 0x91, di_bytes(di) + payload))
    parsed = parse_frame(bytearray(raw))
    assert parsed.error is None
    assert parsed.frame is not None
    assert parsed.used == len(raw)
    data = reply_payload(parsed.frame, di, link="l", device="d")
    reading = decode_point(PointSpec.of("p", di), data, di)
    assert reading.ok
    assert reading.value == pytest.approx(value)


def test_a_status_word_bit_read_from_a_package_frame() -> None:
    word = 0x0010  # run-status word 3, bit 4 set: the relay is open (supply off)
    raw = bytes(DLT645Protocol.build_frame(METER, 0x91, di_bytes(0x04000503) + b"\x10\x00"))
    parsed = parse_frame(bytearray(raw))
    assert parsed.frame is not None
    data = reply_payload(parsed.frame, 0x04000503, link="l", device="d")
    raw_value = decode_point(PointSpec.of("w", 0x04000503), data, 0x04000503)
    assert raw_value.value == word
    relay = decode_point(PointSpec.of("relay", 0x04000503, bit=4, invert=True), data, 0x04000503)
    assert relay.value is False


def test_an_error_reply_the_package_builds_is_a_typed_error_with_its_word() -> None:
    raw = bytes(DLT645Protocol.build_frame(METER, 0xD1, b"\x02"))  # bit 1: no such data
    parsed = parse_frame(bytearray(raw))
    assert parsed.frame is not None
    assert parsed.frame.is_error
    with pytest.raises(MeterErrorReply) as caught:
        reply_payload(parsed.frame, 0x00010000, link="l", device="d")
    assert caught.value.word == 0x02


def test_the_time_broadcast_is_a_frame_the_package_accepts() -> None:
    when = dt.datetime(2026, 12, 7, 9, 30, 15, tzinfo=dt.UTC)
    frame = DLT645Protocol.deserialize(time_broadcast(when))
    assert frame is not None
    assert bytes(frame.addr) == BROADCAST
    assert frame.ctrl_code == 0x08
    # ss mm hh DD MM YY, one BCD byte each, least significant first
    assert bytes(frame.data) == bytes.fromhex("15 30 09 07 12 26")


def test_the_package_decodes_the_known_answer_of_domain_md() -> None:
    # DOMAIN.md §5: the reply carrying 000000.26 kWh, parsed and decoded by the package
    reply = bytes.fromhex("68 61 01 00 00 00 00 68 91 08 33 33 34 33 59 33 33 33 8A 16")
    frame = DLT645Protocol.deserialize(reply)
    assert frame is not None
    value = bcd_to_float(bytes(frame.data[4:]), _format(0x00010000), "little")
    assert value == pytest.approx(0.26)
    ours = decode_point(PointSpec.of("e", 0x00010000), bytes(frame.data[4:]), 0x00010000)
    assert ours.value == pytest.approx(value)


def test_the_emulated_meter_s_replies_decode_with_the_package() -> None:
    """The emulator encodes on its own (never with the driver): the package reads its frames
    to the values the emulator's model holds."""
    site = load_site(Path(__file__).parents[2] / "integrations" / "meter_site" / "site.yaml")
    clock = FakeClock(dt.datetime(2026, 7, 15, 20, 0, tzinfo=dt.UTC))
    device = next(d for d in site.devices.values() if d.profile == "chint/ddsu666-dlt645")
    assert device.address is not None
    profile = site.profile_of(device)
    bound = BoundDevice(device.id, profile, build_model(site, device, clock, 1))
    address = wire_address(device.address, 6)
    meter = EmulatedDlt645Meter(address, bound, clock, password=None)
    meter.rebuild()  # the values its replies carry until the clock moves on
    values = meter._values  # the emulator's own snapshot, to compare with
    for point in profile.points:
        assert point.dlt645 is not None
        di = point.dlt645.identifier
        asked = DLT645Protocol.build_frame(address, 0x11, di_bytes(di))
        requests, _ = split_requests(bytearray(asked))
        (request,) = requests
        reply = meter.handle(request)
        assert reply is not None
        frame = DLT645Protocol.deserialize(reply)
        assert frame is not None
        assert frame.ctrl_code == 0x91, point.key
        assert bytes(frame.data[:4]) == di_bytes(di)
        decoded = bcd_to_float(bytes(frame.data[4:]), _format(di), "little")
        expected = float(values[point.key]) / point.dlt645.scale  # type: ignore[arg-type]
        item = known_item(di) or Item(4)
        assert decoded == pytest.approx(expected, abs=10**-item.decimals), point.key
