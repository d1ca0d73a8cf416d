"""DL/T 645-2007 driver: frames (FE preamble, +0x33, checksum), data identifiers and their
BCD packing, block reads, relay control, time broadcast and address discovery, polled over a
``drivers.link.FrameLink`` (RS-485 serial or a transparent TCP gateway).

Use: per bus ``FramePoller(dlt645_link(spec), [Dlt645Meter(device_spec, link_id)], clock,
listener)`` and run ``poller.run()``.
"""

from ..link.frames import FrameLink, FrameSpec
from .errors import ERROR_BITS, Dlt645Error, EsamRequired, MeterErrorReply
from .frame import (
    BROADCAST,
    WILDCARD,
    Control,
    Frame,
    address_bytes,
    address_text,
    encode_frame,
    parse_frame,
)
from .items import Encoding, Item, block_of, di_bytes, known_item
from .meter import Dlt645Meter, wants_on
from .protocol import (
    address_request,
    decode_point,
    read_request,
    relay_request,
    reply_check,
    reply_payload,
    time_broadcast,
)
from .spec import CloseCommand, DeviceSpec, PointSpec, RelayMode, RelaySpec

__all__ = [
    "BROADCAST",
    "ERROR_BITS",
    "WILDCARD",
    "CloseCommand",
    "Control",
    "DeviceSpec",
    "Dlt645Error",
    "Dlt645Meter",
    "Encoding",
    "EsamRequired",
    "Frame",
    "Item",
    "MeterErrorReply",
    "PointSpec",
    "RelayMode",
    "RelaySpec",
    "address_bytes",
    "address_request",
    "address_text",
    "block_of",
    "decode_point",
    "di_bytes",
    "discover_address",
    "dlt645_link",
    "encode_frame",
    "known_item",
    "parse_frame",
    "read_request",
    "relay_request",
    "reply_check",
    "reply_payload",
    "time_broadcast",
    "wants_on",
]


def dlt645_link(spec: FrameSpec) -> FrameLink[Frame]:
    """A link that frames DL/T 645."""
    return FrameLink(spec, parse_frame)


async def discover_address(link: FrameLink[Frame]) -> str:
    """The address of the one meter on the line (C 13 to AAAAAAAAAAAA)."""
    frame = await link.request(
        "(discovery)", address_request(), reply_check(WILDCARD, Control.READ_ADDRESS)
    )
    payload = reply_payload(frame, None, link=link.link_id, device="(discovery)")
    return address_text(payload[:6] if len(payload) >= 6 else frame.address)
