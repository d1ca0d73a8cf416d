"""Publish the controller's entities over MQTT, with Home Assistant discovery.

Every entity gets a retained state topic ``<prefix>/<entity_id>/state`` (updated when its value
changes) and every device a retained availability topic. With discovery on, a retained config
under ``homeassistant/`` lets an existing Home Assistant show the campus meters without any
set-up. Read-only: commands stay with the controller's own API.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import random
from typing import Any

import aiomqtt

from controller.app import Controller
from controller.config import LoadedSite
from controller.config.profile import DeviceClass, StateClass
from controller.config.site import MqttLink
from controller.core import AvailabilityChanged, BusClosed, Entity, StateChanged
from controller.core.events import Value
from drivers.mqtt import BrokerSpec
from wire.modbus import DataType

from .mqtt import broker_spec

__all__ = ["MqttExport", "discovery_config", "export_link", "mqtt_export", "state_payload"]

_LOGGER = logging.getLogger(__name__)

_BIT_TYPES = (DataType.BOOL, DataType.BITFIELD)

# Device classes Home Assistant knows for sensors; ours that it does not are left out.
_HA_SENSOR_CLASSES = {
    DeviceClass.ENERGY: "energy",
    DeviceClass.POWER: "power",
    DeviceClass.VOLTAGE: "voltage",
    DeviceClass.CURRENT: "current",
    DeviceClass.POWER_FACTOR: "power_factor",
    DeviceClass.FREQUENCY: "frequency",
    DeviceClass.WATER: "water",
    DeviceClass.VOLUME_FLOW_RATE: "volume_flow_rate",
    DeviceClass.TEMPERATURE: "temperature",
    DeviceClass.DURATION: "duration",
    DeviceClass.MONETARY: "monetary",
}


def _object_id(entity_id: str) -> str:
    return entity_id.replace(".", "_")


def state_payload(value: Value) -> str:
    """A state as Home Assistant reads it: numbers as text, bools as ON/OFF, None as unknown."""
    if value is None:
        return "None"
    if isinstance(value, bool):
        return "ON" if value else "OFF"
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else "None"
    return str(value)


def discovery_config(
    entity: Entity, prefix: str, campus: str, *, numeric: bool
) -> tuple[str, dict[str, Any]]:
    """(config topic, config) of one entity for Home Assistant MQTT discovery.

    Labels (valve "open", relay "on") become text sensors; only ``numeric`` entities get a
    device class and state class, which Home Assistant requires to be numbers.
    """
    object_id = _object_id(entity.entity_id)
    config: dict[str, Any] = {
        "name": entity.name_en or entity.name_zh,
        "unique_id": f"sanjie_{campus}_{object_id}",
        "object_id": object_id,
        "state_topic": f"{prefix}/{entity.entity_id}/state",
        "availability_topic": f"{prefix}/{entity.device_id}/availability",
        "device": {
            "identifiers": [f"sanjie_{campus}_{_object_id(entity.device_id)}"],
            "name": entity.device_id,
            "model": entity.tags.get("profile", ""),
            "manufacturer": "sanjie",
            "suggested_area": entity.tags.get("room") or entity.tags.get("area") or "",
        },
    }
    if numeric:
        if entity.device_class in _HA_SENSOR_CLASSES:
            config["device_class"] = _HA_SENSOR_CLASSES[entity.device_class]
        if entity.unit:
            config["unit_of_measurement"] = entity.unit
        if entity.state_class is not StateClass.NONE:
            config["state_class"] = entity.state_class.value
    return f"homeassistant/sensor/sanjie_{campus}/{object_id}/config", config


class MqttExport:
    """A Controller component mirroring entity states to a broker."""

    def __init__(
        self,
        controller: Controller,
        broker: BrokerSpec,
        *,
        prefix: str = "sanjie",
        discovery: bool = True,
    ) -> None:
        self.name = f"mqtt-export:{broker.host}:{broker.port}"
        self.controller = controller
        self.broker = broker
        self.prefix = prefix
        self.discovery = discovery
        self.published = 0
        self.connected = asyncio.Event()
        self.last_error: str | None = None
        self._subscription = controller.bus.subscribe(
            self.name, [StateChanged, AvailabilityChanged], maxsize=50_000
        )
        self._rng = random.Random()  # noqa: S311 (jitter, not security)

    def status(self) -> dict[str, Any]:
        return {
            "broker": f"{self.broker.host}:{self.broker.port}",
            "connected": self.connected.is_set(),
            "published": self.published,
            "last_error": self.last_error,
        }

    async def run(self) -> None:
        """Publish until cancelled, reconnecting with capped jittered backoff."""
        failures = 0
        try:
            while True:
                try:
                    await self._session()
                except (aiomqtt.MqttError, TimeoutError) as err:
                    if self.last_error is None:
                        _LOGGER.warning("%s: %s; retrying", self.name, err)
                    self.last_error = str(err)
                except BusClosed:
                    return
                self.connected.clear()
                delay = min(self.broker.backoff_max, self.broker.backoff_min * 2**failures)
                failures += 1
                await asyncio.sleep(delay * self._rng.uniform(0.5, 1.0))
        finally:
            self._subscription.close()

    async def _session(self) -> None:
        b = self.broker
        status = f"{self.prefix}/status"
        client = aiomqtt.Client(
            b.host,
            b.port,
            username=b.username,
            password=b.password,
            identifier=f"{b.client_id}-export",
            will=aiomqtt.Will(status, "offline", qos=1, retain=True),
            timeout=b.timeout,
        )
        async with client:
            await self._publish(client, status, "online")
            await self._publish_all(client)
            self.connected.set()
            self.last_error = None
            while True:
                for event in await self._subscription.get_batch(1000):
                    await self._publish_event(client, event)

    async def _publish(self, client: aiomqtt.Client, topic: str, payload: str) -> None:
        # timeout=inf + asyncio.timeout: see drivers.mqtt.driver (wait_for on Python 3.11).
        async with asyncio.timeout(self.broker.timeout):
            await client.publish(topic, payload, qos=1, retain=True, timeout=math.inf)
        self.published += 1

    async def _publish_all(self, client: aiomqtt.Client) -> None:
        """Discovery configs, availability and current states (all retained)."""
        controller = self.controller
        campus = controller.site.campus.id
        site = controller.site
        for entity in controller.registry:
            if self.discovery:
                point = site.profile_of(site.devices[entity.device_id]).point(entity.point_key)
                bits = point.modbus is not None and point.modbus.type in _BIT_TYPES
                numeric = point.values is None and not bits
                topic, config = discovery_config(entity, self.prefix, campus, numeric=numeric)
                await self._publish(client, topic, json.dumps(config, ensure_ascii=False))
            state = controller.states.get(entity.entity_id)
            if state is not None:
                topic = f"{self.prefix}/{entity.entity_id}/state"
                await self._publish(client, topic, state_payload(state.value))
        for device_id in controller.registry.device_ids:
            online = controller.states.is_available(device_id)
            await self._publish(
                client,
                f"{self.prefix}/{device_id}/availability",
                "online" if online else "offline",
            )

    async def _publish_event(self, client: aiomqtt.Client, event: object) -> None:
        if isinstance(event, StateChanged):
            if event.changed and event.new.available:
                topic = f"{self.prefix}/{event.entity_id}/state"
                await self._publish(client, topic, state_payload(event.new.value))
        elif isinstance(event, AvailabilityChanged):
            topic = f"{self.prefix}/{event.device_id}/availability"
            await self._publish(client, topic, "online" if event.available else "offline")


def export_link(site: LoadedSite) -> MqttLink | None:
    """The MQTT link ``sinks.mqtt`` publishes on, or None when the site exports nothing."""
    sink = site.sinks.mqtt
    if sink is None:
        return None
    link = site.links[sink.link]
    if not isinstance(link, MqttLink):  # the loader already refuses this
        raise TypeError(f"sinks.mqtt.link {sink.link!r} is not an MQTT link")
    return link


def mqtt_export(
    controller: Controller, *, host: str | None = None, port: int | None = None
) -> MqttExport | None:
    """The export component the site's ``sinks.mqtt`` asks for (None without one).

    ``host``/``port`` serve a link without a host: the local broker the service started.
    """
    site = controller.site
    link = export_link(site)
    if link is None:
        return None
    assert site.sinks.mqtt is not None
    local = link.host is None
    broker = broker_spec(site, link, host if local else None, port if local else None)
    return MqttExport(
        controller, broker, prefix=site.sinks.mqtt.prefix, discovery=site.sinks.mqtt.discovery
    )
