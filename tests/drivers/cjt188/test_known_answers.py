"""CJ/T 188 frames against published known answers.

Sources: ``/work/shared/DOMAIN.md`` §5 (2004 DI order ``90 1F``), and the public SC water meter
walk-through "CJ/T-188 水表协议解析" (https://hftangyu.com/563.html), whose frames send the DI
as ``1F 90`` and carry a real time and a closed valve in the status word.
"""

from __future__ import annotations

import pytest

from drivers.cjt188 import (
    DI_CURRENT,
    DI_VALVE,
    Control,
    DeviceSpec,
    DiOrder,
    Field,
    MeterErrorReply,
    MeterType,
    PointSpec,
    address_bytes,
    address_text,
    decode_points,
    encode_frame,
    parse_frame,
    read_request,
    reply_check,
    reply_payload,
    valve_request,
)
from drivers.link import BadFrame


def h(text: str) -> bytes:
    return bytes.fromhex(text)


WATER_POINTS = (
    PointSpec(key="volume", field=Field.TOTAL),
    PointSpec(key="month", field=Field.SETTLEMENT_TOTAL),
    PointSpec(key="valve", field=Field.VALVE, writable=True),
    PointSpec(key="battery_low", field=Field.BATTERY_LOW),
)


def water(address: str, order: DiOrder = DiOrder.HIGH_FIRST) -> DeviceSpec:
    return DeviceSpec(
        device_id="w",
        meter_type=MeterType.COLD_WATER,
        address=address_bytes(address),
        points=WATER_POINTS,
        di_order=order,
    )


def test_domain_notes_read_and_reply() -> None:
    spec = water("00000000000012")
    assert read_request(spec) == h("68 10 12 00 00 00 00 00 00 01 03 90 1F 00 3D 16")
    reply = h(
        "68 10 12 00 00 00 00 00 00 81 16 90 1F 00 10 00 10 00 2C 10 00 10 00 2C"
        " 00 00 00 00 00 00 00 00 FF 67 16"
    )
    frame = parse_frame(bytearray(reply)).frame
    assert frame is not None
    assert reply_check(spec.meter_type, spec.address, Control.READ)(frame) is None
    readings = decode_points(
        spec, WATER_POINTS, reply_payload(frame, DI_CURRENT, 0, link="b", device="w")
    )
    values = {r.key: r.value for r in readings}
    assert values["volume"] == pytest.approx(1000.10)
    assert values["month"] == pytest.approx(1000.10)
    assert values["valve"] == "open"
    assert values["battery_low"] is False


def test_public_sc_meter_frames_with_the_2018_di_order() -> None:
    spec = water("78330011223344", DiOrder.LOW_FIRST)
    assert address_text(spec.address) == "78330011223344"
    request = encode_frame(
        spec.meter_type, spec.address, Control.READ, h("1F 90 00"), preamble=True
    )
    assert request == h("FE FE FE FE 68 10 44 33 22 11 00 33 78 01 03 1F 90 00 80 16")
    assert read_request(spec) == request[4:]
    published = h(
        "FE FE FE FE 68 10 44 33 22 11 00 33 78 81 16 1F 90 00 00 77 66 55 2C 00 77 66 55 2C"
        " 31 01 22 11 05 15 20 21 84 08 16"
    )
    # The article's reply closes with CS 08, but its bytes sum to 13 (mod 256): a typo in
    # the article, which the parser rightly rejects. Its data decode once CS is corrected.
    assert parse_frame(bytearray(published)).error == "checksum"
    reply = published[:-2] + h("13 16")
    parsed = parse_frame(bytearray(reply))
    assert parsed.frame is not None
    assert parsed.dropped == 0
    payload = reply_payload(parsed.frame, DI_CURRENT, 0, link="b", device="w")
    values = {r.key: r.value for r in decode_points(spec, WATER_POINTS, payload)}
    assert values["volume"] == pytest.approx(556677.00)
    assert values["valve"] == "closed"  # ST1 = 21: bits 0-1 = 01


def test_heat_meter_layout() -> None:
    body = (
        h("90 1F 00")
        + h("00 50 01 00 05")  # settlement heat 150.00 kWh
        + h("00 75 01 00 05")  # heat 175.00 kWh
        + h("50 12 00 00 17")  # power 12.50 kW
        + h("00 50 12 00 35")  # flow 0012.5000 m³/h (XXXX.XXXX)
        + h("00 10 00 00 2C")  # volume 10.00 m³
        + h("00 55 00")  # supply 55.00 °C
        + h("00 45 00")  # return 45.00 °C
        + h("34 12 00")  # 1234 h
        + h("00 00 00 01 01 26 20")
        + h("04 00")  # low battery
    )
    frame = parse_frame(bytearray(encode_frame(0x20, address_bytes("1"), 0x81, body))).frame
    assert frame is not None
    points = tuple(
        PointSpec(key=f.value, field=f)
        for f in (
            Field.HEAT,
            Field.SETTLEMENT_HEAT,
            Field.HEAT_POWER,
            Field.FLOW,
            Field.VOLUME,
            Field.SUPPLY_TEMPERATURE,
            Field.RETURN_TEMPERATURE,
            Field.HOURS,
            Field.BATTERY_LOW,
        )
    )
    spec = DeviceSpec(device_id="h", meter_type=0x20, address=address_bytes("1"), points=points)
    values = {
        r.key: r.value
        for r in decode_points(
            spec, points, reply_payload(frame, DI_CURRENT, 0, link="b", device="h")
        )
    }
    assert values == pytest.approx(
        {
            "heat": 175.0,
            "settlement_heat": 150.0,
            "heat_power": 12.5,
            "flow": 12.5,
            "volume": 10.0,
            "supply_temperature": 55.0,
            "return_temperature": 45.0,
            "hours": 1234.0,
            "battery_low": True,
        }
    )


def test_unit_codes_convert_to_the_delivered_units() -> None:
    spec = water("1")
    litres = h("90 1F 00 00 50 00 00 29 00 00 00 00 29 00 00 00 00 00 00 00 00 00")
    frame = parse_frame(bytearray(encode_frame(0x10, spec.address, 0x81, litres))).frame
    assert frame is not None
    readings = decode_points(
        spec, WATER_POINTS[:1], reply_payload(frame, DI_CURRENT, 0, link="b", device="w")
    )
    assert readings[0].value == pytest.approx(0.05)  # 50.00 L
    unknown = litres[:7] + b"\x99" + litres[8:]
    frame = parse_frame(bytearray(encode_frame(0x10, spec.address, 0x81, unknown))).frame
    assert frame is not None
    readings = decode_points(
        spec, WATER_POINTS[:1], reply_payload(frame, DI_CURRENT, 0, link="b", device="w")
    )
    assert not readings[0].ok


def test_valve_frames() -> None:
    spec = water("00000000000012")
    close = parse_frame(bytearray(valve_request(spec, False))).frame
    assert close is not None
    assert close.control == 0x04
    assert close.data == h("A0 17 01 99")
    opening = parse_frame(bytearray(valve_request(spec, True))).frame
    assert opening is not None
    assert opening.data == h("A0 17 01 55")
    reply = parse_frame(
        bytearray(encode_frame(0x10, spec.address, 0x84, h("A0 17 01 01 00")))
    ).frame
    assert reply is not None
    assert reply_check(0x10, spec.address, Control.WRITE)(reply) is None
    assert reply_payload(reply, DI_VALVE, 1, link="b", device="w") == h("01 00")


def test_error_replies_stale_replies_and_other_meters() -> None:
    spec = water("00000000000012")
    error = parse_frame(bytearray(encode_frame(0x10, spec.address, 0xC1, h("00 03 00")))).frame
    assert error is not None
    with pytest.raises(MeterErrorReply) as caught:
        reply_payload(error, DI_CURRENT, 0, link="b", device="w")
    assert caught.value.status == 0x0003
    stale = parse_frame(bytearray(encode_frame(0x10, spec.address, 0x81, h("90 1F 07")))).frame
    assert stale is not None
    with pytest.raises(BadFrame, match="SER"):
        reply_payload(stale, DI_CURRENT, 0, link="b", device="w")
    other = parse_frame(bytearray(encode_frame(0x11, spec.address, 0x81, h("90 1F 00")))).frame
    assert other is not None
    assert reply_check(0x10, spec.address, Control.READ)(other) == "address"


def test_bad_checksum_and_garbage() -> None:
    frame = bytearray(read_request(water("12")))
    frame[-2] ^= 1
    assert parse_frame(frame).error == "checksum"
    noisy = parse_frame(bytearray(h("01 02 FE") + read_request(water("12"))))
    assert noisy.frame is not None
    assert noisy.dropped == 2
