"""DL/T 645-2007 frames against published known answers.

Sources: ``/work/shared/DOMAIN.md`` §5 (the project's domain notes), and the public walk-through
"DLT645-2007 规约 常见报文解析" (legend, V1.1, 2012; reprinted at
https://hwhale.com/article/138066) for reverse active energy, combined reactive energy and the
phase A voltage frames.
"""

from __future__ import annotations

import datetime as dt

import pytest

from drivers.bcd import BcdError, bcd_decode, bcd_encode
from drivers.dlt645 import (
    BROADCAST,
    WILDCARD,
    Control,
    DeviceSpec,
    Frame,
    MeterErrorReply,
    PointSpec,
    RelaySpec,
    address_bytes,
    address_request,
    address_text,
    decode_point,
    encode_frame,
    known_item,
    parse_frame,
    read_request,
    relay_request,
    reply_check,
    reply_payload,
    time_broadcast,
)
from drivers.link import BadFrame

METER = address_bytes("000000000161")


def h(text: str) -> bytes:
    return bytes.fromhex(text)


# (DI, request, reply, value): request with the FE preamble as the driver sends it
KNOWN = [
    (  # DOMAIN.md §5: forward active energy, 000000.26 kWh
        0x00010000,
        "FE FE FE FE 68 61 01 00 00 00 00 68 11 04 33 33 34 33 14 16",
        "68 61 01 00 00 00 00 68 91 08 33 33 34 33 59 33 33 33 8A 16",
        0.26,
    ),
    (  # legend V1.1: reverse active energy, 1.26 kWh
        0x00020000,
        "FE FE FE FE 68 61 01 00 00 00 00 68 11 04 33 33 35 33 15 16",
        "68 61 01 00 00 00 00 68 91 08 33 33 35 33 59 34 33 33 8C 16",
        1.26,
    ),
    (  # legend V1.1: combined reactive energy 1, 100.26 kvarh
        0x00030000,
        "FE FE FE FE 68 61 01 00 00 00 00 68 11 04 33 33 36 33 16 16",
        "68 61 01 00 00 00 00 68 91 08 33 33 36 33 59 33 34 33 8D 16",
        100.26,
    ),
    (  # legend V1.1: phase A voltage, 100.1 V
        0x02010100,
        "FE FE FE FE 68 61 01 00 00 00 00 68 11 04 33 34 34 35 17 16",
        "68 61 01 00 00 00 00 68 91 06 33 34 34 35 34 43 10 16",
        100.1,
    ),
]


@pytest.mark.parametrize(("di", "request_hex", "reply_hex", "value"), KNOWN)
def test_read_requests_and_replies_match_the_published_frames(
    di: int, request_hex: str, reply_hex: str, value: float
) -> None:
    assert read_request(METER, di) == h(request_hex)
    parsed = parse_frame(bytearray(h(reply_hex)))
    frame = parsed.frame
    assert frame is not None
    assert parsed.used == len(h(reply_hex))
    assert reply_check(METER, Control.READ)(frame) is None
    payload = reply_payload(frame, di, link="bus", device="m")
    reading = decode_point(PointSpec.of("v", di), payload, di)
    assert reading.ok
    assert reading.value == pytest.approx(value)


def test_the_address_reads_as_printed_on_the_nameplate() -> None:
    assert h("61 01 00 00 00 00") == METER
    assert address_text(METER) == "000000000161"
    assert address_bytes("AAAAAAAAAAAA") == WILDCARD
    with pytest.raises(ValueError, match="address"):
        address_bytes("12345678901X")


def test_preamble_and_noise_before_a_reply_are_skipped_and_noise_is_counted() -> None:
    reply = h(KNOWN[0][2])
    parsed = parse_frame(bytearray(h("FE FE FE FE") + reply))
    assert parsed.frame is not None
    assert parsed.dropped == 0
    noisy = parse_frame(bytearray(h("00 13 37") + reply))
    assert noisy.frame is not None
    assert noisy.dropped == 3


def test_a_bad_checksum_is_consumed_and_named() -> None:
    bad = bytearray(h(KNOWN[0][2]))
    bad[-2] ^= 0xFF
    parsed = parse_frame(bad)
    assert parsed.frame is None
    assert parsed.error == "checksum"
    assert parsed.used == len(bad)


def test_a_truncated_frame_waits_for_more() -> None:
    part = bytearray(h(KNOWN[0][2])[:-3])
    parsed = parse_frame(part)
    assert parsed.frame is None
    assert parsed.error is None
    assert parsed.used == 0


def test_an_error_reply_carries_the_error_word() -> None:
    frame = parse_frame(bytearray(encode_frame(METER, 0xD1, h("02")))).frame
    assert frame is not None
    assert frame.is_error
    with pytest.raises(MeterErrorReply) as caught:
        reply_payload(frame, 0x00010000, link="bus", device="m")
    assert caught.value.word == 0x02
    assert caught.value.no_data
    assert "no such data" in str(caught.value)


def test_a_reply_for_another_identifier_is_stale() -> None:
    frame = parse_frame(bytearray(h(KNOWN[1][2]))).frame
    assert frame is not None
    with pytest.raises(BadFrame) as caught:
        reply_payload(frame, 0x00010000, link="bus", device="m")
    assert caught.value.why == "stale"


def test_replies_from_another_address_or_function_are_rejected() -> None:
    other = Frame(address_bytes("000000000162"), 0x91, b"")
    assert reply_check(METER, Control.READ)(other) == "address"
    relay = Frame(METER, 0x9C, b"")
    assert reply_check(METER, Control.READ)(relay) == "stale"
    echo = Frame(METER, 0x11, b"")
    assert reply_check(METER, Control.READ)(echo) == "echo"


def test_signed_items_carry_the_sign_in_the_top_bit() -> None:
    # 02030000 total active power XX.XXXX kW, negative 1.2345 kW
    payload = bcd_encode(-12345, 3, signed=True)
    assert payload == h("45 23 81")
    reading = decode_point(PointSpec.of("p", 0x02030000, scale=1000), payload, 0x02030000)
    assert reading.value == pytest.approx(-1234.5)


def test_block_reads_group_a_family_and_decode_each_item_at_its_place() -> None:
    points = (
        PointSpec.of("total", 0x00010000),
        PointSpec.of("t1", 0x00010100),
        PointSpec.of("t2", 0x00010200),
        PointSpec.of("voltage", 0x02010100),
    )
    spec = DeviceSpec(device_id="m", address=METER, points=points, block_reads=True)
    assert [di for di, _ in spec.requests] == [0x0001FF00, 0x02010100]
    payload = b"".join(bcd_encode(v, 4) for v in (1000, 600, 400, 0, 0))
    values = [decode_point(p, payload, 0x0001FF00).value for p in points[:3]]
    assert values == pytest.approx([10.0, 6.0, 4.0])
    plain = DeviceSpec(device_id="m", address=METER, points=points)
    assert len(plain.requests) == 4


def test_a_status_word_bit_reads_as_a_bool() -> None:
    relay = PointSpec.of("relay", 0x04000503, bit=4, invert=True, relay=True)
    assert decode_point(relay, h("10 00"), 0x04000503).value is False  # bit 4 set: tripped
    assert decode_point(relay, h("00 00"), 0x04000503).value is True


def test_non_bcd_data_is_bad_quality() -> None:
    reading = decode_point(PointSpec.of("e", 0x00010000), h("AB 00 00 00"), 0x00010000)
    assert not reading.ok


def test_relay_trip_frame_layout() -> None:
    relay = RelaySpec(password="123456", password_level=2, operator="11223344", validity=0)
    now = dt.datetime(2026, 12, 7, 22, 30, 5, tzinfo=dt.timezone(dt.timedelta(hours=8)))
    frame = parse_frame(bytearray(relay_request(METER, relay, False, now.timestamp()))).frame
    assert frame is not None
    assert frame.control == 0x1C
    # PA P0-P2, C0-C3, N1 1A (trip), N2, ss mm hh DD MM YY
    assert frame.data == h("02 56 34 12 44 33 22 11 1A 00 05 30 22 07 12 26")
    assert "123456" not in repr(relay)
    closing = parse_frame(bytearray(relay_request(METER, relay, True, now.timestamp()))).frame
    assert closing is not None
    assert closing.data[8] == 0x1C


def test_time_broadcast_and_address_discovery_frames() -> None:
    when = dt.datetime(2026, 12, 7, 6, 5, 4, tzinfo=dt.UTC)
    frame = parse_frame(bytearray(time_broadcast(when))).frame
    assert frame is not None
    assert frame.address == BROADCAST
    assert frame.control == 0x08
    assert frame.data == h("04 05 06 07 12 26")
    # the well-known read-address request: 68 AA×6 68 13 00 DF 16
    assert address_request() == h("FE FE FE FE 68 AA AA AA AA AA AA 68 13 00 DF 16")


def test_standard_identifiers_know_their_packing() -> None:
    energy, voltage, freq, status = (
        known_item(di) for di in (0x00010000, 0x02010100, 0x02800002, 0x04000503)
    )
    assert energy is not None
    assert (energy.length, energy.decimals) == (4, 2)
    assert voltage is not None
    assert (voltage.length, voltage.decimals) == (2, 1)
    assert freq is not None
    assert (freq.length, freq.decimals) == (2, 2)
    assert status is not None
    assert status.encoding == "word"
    assert known_item(0x02010101) is None  # instantaneous values have no month variants
    with pytest.raises(ValueError, match="standard"):
        PointSpec.of("x", 0x12345678)


def test_bcd_round_trips_and_rejects_bad_nibbles() -> None:
    assert bcd_decode(bcd_encode(12345678, 4)) == 12345678
    with pytest.raises(BcdError):
        bcd_decode(h("1A"))
    with pytest.raises(BcdError):
        bcd_encode(100, 1)
    # signed: the top digit keeps three bits (0-7), the fourth is the sign
    assert bcd_encode(-799999, 3, signed=True) == h("99 99 F9")
    assert bcd_decode(h("99 99 F9"), signed=True) == -799999
    assert bcd_encode(123456, 3, signed=True) == h("56 34 12")
    with pytest.raises(BcdError):
        bcd_encode(800000, 3, signed=True)
