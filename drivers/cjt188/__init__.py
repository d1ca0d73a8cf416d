"""CJ/T 188 driver (water, hot-water and heat meters): frames, the 901F current-data reply
with unit codes and status bits, valve control and address discovery, polled over a
``drivers.link.FrameLink`` (RS-485 serial or a transparent TCP gateway).
"""

from ..link.frames import FrameLink, FrameSpec
from .data import UNIT_FACTORS, Field, layout_of, valve_word
from .errors import Cjt188Error, MeterErrorReply
from .frame import (
    ANY_TYPE,
    WILDCARD,
    Control,
    Frame,
    MeterType,
    address_bytes,
    address_text,
    encode_frame,
    parse_frame,
)
from .meter import Cjt188Meter, wants_open
from .protocol import (
    DI_ADDRESS,
    DI_CURRENT,
    DI_VALVE,
    VALVE_CLOSE,
    VALVE_OPEN,
    address_request,
    decode_points,
    read_request,
    reply_check,
    reply_payload,
    valve_request,
)
from .spec import DeviceSpec, DiOrder, PointSpec

__all__ = [
    "ANY_TYPE",
    "DI_ADDRESS",
    "DI_CURRENT",
    "DI_VALVE",
    "UNIT_FACTORS",
    "VALVE_CLOSE",
    "VALVE_OPEN",
    "WILDCARD",
    "Cjt188Error",
    "Cjt188Meter",
    "Control",
    "DeviceSpec",
    "DiOrder",
    "Field",
    "Frame",
    "MeterErrorReply",
    "MeterType",
    "PointSpec",
    "address_bytes",
    "address_request",
    "address_text",
    "cjt188_link",
    "decode_points",
    "discover_address",
    "encode_frame",
    "layout_of",
    "parse_frame",
    "read_request",
    "reply_check",
    "reply_payload",
    "valve_request",
    "valve_word",
    "wants_open",
]


def cjt188_link(spec: FrameSpec) -> FrameLink[Frame]:
    """A link that frames CJ/T 188."""
    return FrameLink(spec, parse_frame)


async def discover_address(link: FrameLink[Frame]) -> tuple[int, str]:
    """Type and address of the one meter on the line (C 03, DI 810A, to AA…AA)."""
    check = reply_check(ANY_TYPE, WILDCARD, Control.READ_ADDRESS)
    frame = await link.request("(discovery)", address_request(), check)
    if frame.is_error:
        raise MeterErrorReply(0, function=frame.function, link=link.link_id)
    return frame.meter_type, address_text(frame.address)
