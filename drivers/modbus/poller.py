"""The Modbus scheduler of one bus: ``drivers.link.BusScheduler`` (staggered polls, dead-device
backoff and probing, availability) reading each device's planned blocks, and writes (which the
link puts ahead of polls) confirmed by read-back.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

from ..errors import DriverError
from ..link.schedule import BusScheduler, Clock, DeviceState, PollListener
from .decode import Decoder, Reading, Value, compile_decoder, encode_value, same_reading
from .errors import (
    ModbusConnectionError,
    ModbusError,
    ModbusExceptionReply,
    ModbusTimeout,
    WriteNotConfirmed,
    WriteRefused,
)
from .link import ModbusLink, Priority
from .plan import PlanCache, ReadBlock, plan_reads
from .spec import DeviceSpec

__all__ = ["BusPoller", "Clock", "DeviceStatus", "PollListener"]

_LOGGER = logging.getLogger(__name__)


@dataclass
class DeviceStatus(DeviceState[DeviceSpec]):
    """What the bus knows about one Modbus device, with its read plan."""

    blocks: tuple[ReadBlock, ...] = field(default=())


def _is_silence(err: DriverError) -> bool:
    """A timeout, or a gateway saying the device did not answer."""
    return isinstance(err, ModbusTimeout) or (
        isinstance(err, ModbusExceptionReply) and err.target_failed
    )


class BusPoller(BusScheduler[ModbusLink, DeviceStatus]):
    """Polls ``devices`` over ``link``. ``run()`` until cancelled; ``write()`` any time.

    ``plans``: a cache shared between pollers so identical devices share their read plan.
    """

    task_prefix = "modbus"

    def __init__(
        self,
        link: ModbusLink,
        devices: Sequence[DeviceSpec],
        clock: Clock,
        listener: PollListener,
        *,
        plans: PlanCache | None = None,
    ) -> None:
        super().__init__(
            link,
            [DeviceStatus(d, blocks=plan_reads(d, plans)) for d in devices],
            clock,
            listener,
        )
        self._decoders: dict[tuple[str, str], Decoder] = {}

    def _link_down(self, err: DriverError) -> bool:
        return isinstance(err, ModbusConnectionError)

    def _where(self, status: DeviceStatus) -> str:
        return f"unit {status.spec.unit_id}"

    # -- polling --------------------------------------------------------------------------
    async def _poll(self, status: DeviceStatus) -> None:
        """Read every block; stop at the first silence (a mute device mutes every block).

        A failing device is probed: its first request gets no retry.
        """
        status.polls += 1
        spec = status.spec
        probing = status.failures > 0
        readings: list[Reading] = []
        answered = False
        failure: ModbusError | None = None
        for index, block in enumerate(status.blocks):
            retries = 0 if probing and index == 0 else spec.retries
            try:
                words = await self._read_block(spec, block, retries)
            except ModbusError as err:
                failure = failure or err
                if isinstance(err, ModbusConnectionError) or _is_silence(err):
                    break
                self._partial(status, f"{block.table} {block.start}–{block.end}", err)
                continue
            answered = True
            try:
                readings.extend(block.decode(words))
            except Exception as err:  # noqa: BLE001 (a decoder bug must not stop the bus)
                self._internal(status, "decoding", err)
                return
        self._deliver(status, readings, answered, failure)

    async def _read_block(self, spec: DeviceSpec, block: ReadBlock, retries: int) -> list[int]:
        attempt = 0
        while True:
            try:
                return await self.link.read(spec.unit_id, block.table, block.start, block.count)
            except ModbusError as err:
                if attempt >= retries or not _is_silence(err):
                    raise
                attempt += 1
                self.link.counters.retries += 1

    # -- writes ---------------------------------------------------------------------------
    async def write(self, device_id: str, key: str, value: Value) -> Value:
        """Write ``value`` to a point and return the value read back.

        Raises WriteRefused (profile rules), WriteNotConfirmed (read-back differs) or another
        ModbusError (the bus or device failed).
        """
        status = self.devices.get(device_id)
        if status is None:
            raise WriteRefused(device_id, key, value, f"no such device on link {self.link_id}")
        point = status.spec.by_key.get(key)
        if point is None:
            raise WriteRefused(device_id, key, value, "the device profile has no such point")
        try:
            data = encode_value(point, value)
        except ValueError as err:
            raise WriteRefused(device_id, key, value, str(err)) from err
        unit = status.spec.unit_id
        await self.link.write(unit, point.table, point.address, data)
        words = await self.link.read(unit, point.table, point.address, point.count, Priority.WRITE)
        decoder = self._decoders.get((device_id, key))
        if decoder is None:
            decoder = self._decoders[(device_id, key)] = compile_decoder(point)
        reading = decoder(words, 0)
        self.listener.snapshot(device_id, [reading], self.clock.time())
        if not reading.ok or not same_reading(point, value, reading.value):
            raise WriteNotConfirmed(device_id, key, value, reading.value)
        return reading.value
