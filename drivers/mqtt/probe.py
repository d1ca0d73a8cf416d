"""Whether something on a TCP port answers as an MQTT broker, without a client library.

One CONNECT packet and its CONNACK tell a broker from any other listener (or a silent one)
within a bound, before anything commits to a port; a full client would retry and reconnect.
"""

from __future__ import annotations

import asyncio
import contextlib

__all__ = ["answers_mqtt"]

# MQTT 3.1.1 CONNECT, clean session, keep-alive 10 s, client id "sanjie-probe": every broker
# answers it (an MQTT 5 broker too), so one packet tells a broker from any other listener.
_PROBE_ID = b"sanjie-probe"
_PROBE = (
    bytes([0x10, 12 + len(_PROBE_ID), 0, 4])
    + b"MQTT"
    + bytes([4, 0x02, 0, 10, 0, len(_PROBE_ID)])
    + _PROBE_ID
)


async def answers_mqtt(host: str, port: int, within: float = 3.0) -> bool | None:
    """None when nothing listens on ``host:port``; else whether it answers CONNECT with a
    CONNACK within ``within`` seconds (a silent or foreign listener must not hang us)."""
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), within)
    except (OSError, TimeoutError):
        return None
    try:
        writer.write(_PROBE)
        async with asyncio.timeout(within):
            await writer.drain()
            reply = await reader.readexactly(4)
        if reply[0] == 0x20 and reply[1] == 2:
            writer.write(bytes([0xE0, 0]))  # DISCONNECT: no "connection lost" in its log
            with contextlib.suppress(OSError):
                await writer.drain()
        return reply[0] == 0x20 and reply[1] == 2
    except (OSError, TimeoutError, asyncio.IncompleteReadError):
        return False
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
