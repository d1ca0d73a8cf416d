"""The meter emulators' own framing against the known-answer frames of ``DOMAIN.md`` §5.

The driver's tests check its codec against the same frames; these check the emulators' second,
independent codec (``emulators/dlt645/codec.py``, ``emulators/cjt188/codec.py``), so that a
bug in one cannot cancel itself out in the integration tests that pair the two.
"""

from __future__ import annotations

from emulators.cjt188 import codec as cjt188
from emulators.dlt645 import codec as dlt645


def h(text: str) -> bytes:
    return bytes.fromhex(text)


DLT_REQUEST = "FE FE FE FE 68 61 01 00 00 00 00 68 11 04 33 33 34 33 14 16"
DLT_REPLY = "68 61 01 00 00 00 00 68 91 08 33 33 34 33 59 33 33 33 8A 16"
CJT_REQUEST = "68 10 12 00 00 00 00 00 00 01 03 90 1F 00 3D 16"
CJT_REPLY = (
    "68 10 12 00 00 00 00 00 00 81 16 90 1F 00 10 00 10 00 2C 10 00 10 00 2C"
    " 00 00 00 00 00 00 00 00 FF 67 16"
)


def test_dlt645_request_is_cut_after_the_preamble_with_the_offset_removed() -> None:
    buffer = bytearray(h(DLT_REQUEST))
    requests, bad = dlt645.split_requests(buffer)
    assert not bad  # FE wake-up bytes are not noise
    assert requests == [dlt645.Request(h("61 01 00 00 00 00"), 0x11, h("00 00 01 00"))]
    assert buffer == bytearray()


def test_dlt645_reply_is_the_published_frame_behind_the_preamble() -> None:
    # forward active energy 00010000 = 000000.26 kWh: DI low byte first, then 26 00 00 00
    reply = dlt645.reply_frame(h("61 01 00 00 00 00"), 0x91, h("00 00 01 00 26 00 00 00"))
    assert reply == h("FE FE FE FE " + DLT_REPLY)


def test_dlt645_bad_checksum_and_noise_are_flagged_and_a_partial_frame_waits() -> None:
    corrupt = bytearray(h(DLT_REQUEST))
    corrupt[-2] ^= 0x01
    assert dlt645.split_requests(corrupt) == ([], True)
    noisy = bytearray(h("00 13") + h(DLT_REQUEST))
    requests, bad = dlt645.split_requests(noisy)
    assert bad
    assert len(requests) == 1
    partial = bytearray(h(DLT_REQUEST)[:-3])
    assert dlt645.split_requests(partial) == ([], False)
    assert len(partial) == len(h(DLT_REQUEST)) - 4 - 3  # kept from the first 68, for more


def test_cjt188_request_and_reply_are_the_published_frames() -> None:
    requests, bad = cjt188.split_requests(bytearray(h("FE FE " + CJT_REQUEST)))
    assert not bad
    assert requests == [
        cjt188.Request(0x10, h("12 00 00 00 00 00 00"), 0x01, h("90 1F 00")),
    ]
    # 901F: DI, SER, current total 1000.10 m³ (2C), settlement-day total, real time, ST
    data = h(
        "90 1F 00 10 00 10 00 2C 10 00 10 00 2C 00 00 00 00 00 00 00 00 FF",
    )
    assert cjt188.reply_frame(0x10, h("12 00 00 00 00 00 00"), 0x81, data) == h(CJT_REPLY)


def test_cjt188_bad_checksum_is_flagged() -> None:
    corrupt = bytearray(h(CJT_REQUEST))
    corrupt[-2] ^= 0x01
    requests, bad = cjt188.split_requests(corrupt)
    assert requests == []
    assert bad
