"""The read fast path agrees with pymodbus's framer on every frame it takes, and takes only
the exact expected reply (everything else goes to pymodbus, as before).

Frames come from the emulator's own encoder (``emulators.modbus.frames``), never the driver's.
"""

from __future__ import annotations

import struct

import pytest
from pymodbus.framer import FramerRTU, FramerSocket
from pymodbus.pdu import DecodePDU

from drivers.modbus.replies import Expected
from emulators.modbus.frames import mbap_frame, rtu_frame


def registers(function: int, values: list[int]) -> bytes:
    return struct.pack(f">BB{len(values)}H", function, 2 * len(values), *values)


def bits_pdu(function: int, values: list[int]) -> bytes:
    data = bytearray((len(values) + 7) // 8)
    for i, bit in enumerate(values):
        data[i // 8] |= bit << (i % 8)
    return bytes((function, len(data))) + bytes(data)


@pytest.mark.parametrize("function", [3, 4])
@pytest.mark.parametrize("rtu", [True, False])
def test_registers_decode_as_pymodbus_decodes_them(function: int, rtu: bool) -> None:
    values = [0, 1, 0x1234, 0xFFFF, 42, 0x8000]
    pdu = registers(function, values)
    frame = rtu_frame(7, pdu) if rtu else mbap_frame(513, 7, pdu)
    fast = Expected(7, function, len(values), bits=False, rtu=rtu).match(frame, 0 if rtu else 513)
    framer = (FramerRTU if rtu else FramerSocket)(DecodePDU(is_server=False))
    _, slow = framer.handleFrame(frame, 7, 0 if rtu else 513)
    assert fast is not None
    assert slow is not None
    assert fast.registers == slow.registers == values
    assert fast.function_code == slow.function_code
    assert not fast.isError()


@pytest.mark.parametrize("function", [1, 2])
def test_bits_decode_as_pymodbus_decodes_them(function: int) -> None:
    values = [1, 0, 1, 1, 0, 0, 0, 1, 1, 0, 1]
    frame = rtu_frame(3, bits_pdu(function, values))
    fast = Expected(3, function, len(values), bits=True, rtu=True).match(frame, 0)
    _, slow = FramerRTU(DecodePDU(is_server=False)).handleFrame(frame, 3, 0)
    assert fast is not None
    assert slow is not None
    assert fast.bits == slow.bits
    assert fast.bits[: len(values)] == [bool(v) for v in values]


def test_only_the_exact_reply_is_taken() -> None:
    good = rtu_frame(7, registers(3, [1, 2]))
    expect = Expected(7, 3, 2, bits=False, rtu=True)
    assert expect.match(good, 0) is not None
    corrupt = good[:-1] + bytes((good[-1] ^ 0x5A,))
    others = [
        good[:-1],  # partial
        good + b"\x00",  # extra bytes
        corrupt,  # CRC
        rtu_frame(8, registers(3, [1, 2])),  # another unit
        rtu_frame(7, registers(4, [1, 2])),  # another function
        rtu_frame(7, bytes((0x83, 0x02))),  # an exception reply
    ]
    for frame in others:
        assert expect.match(frame, 0) is None
    tcp = Expected(7, 3, 2, bits=False, rtu=False)
    frame = mbap_frame(9, 7, registers(3, [1, 2]))
    assert tcp.match(frame, 9) is not None
    assert tcp.match(frame, 10) is None  # another transaction's
