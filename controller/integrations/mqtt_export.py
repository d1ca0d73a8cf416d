"""Publish the controller's entities over MQTT, with Home Assistant discovery.

Every entity gets a retained state topic ``<prefix>/<entity_id>/state`` (updated when its value
changes) and every device a retained availability topic. With discovery on, a retained config
under ``homeassistant/`` lets an existing Home Assistant show the campus meters without any
set-up. Read-only: commands stay with the controller's own API.

The connection is the driver's (``drivers.mqtt.MqttPublisher``: reconnects, LWT, TLS); this
module only maps entities to topics and payloads, and publishes everything again after each
(re)connection, since retained topics are the broker's copy of the current state.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
from typing import Any

from controller.app import Controller
from controller.config import LoadedSite
from controller.config.profile import DeviceClass, StateClass
from controller.config.site import MqttLink
from controller.core import AvailabilityChanged, BusClosed, Entity, StateChanged, Subscription
from controller.core.events import Value
from drivers.mqtt import BrokerSpec, MqttPublisher, PublishFailed
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
        self.connected = asyncio.Event()
        """Set once everything is published on the current connection."""
        self.publisher = MqttPublisher(
            broker,
            client_id=f"{broker.client_id}-export",
            will=(f"{prefix}/status", "offline"),
            name=self.name,
        )

    @property
    def published(self) -> int:
        return self.publisher.published

    @property
    def last_error(self) -> str | None:
        return self.publisher.last_error

    def status(self) -> dict[str, Any]:
        return {
            "broker": f"{self.broker.host}:{self.broker.port}",
            "connected": self.connected.is_set(),
            "published": self.published,
            "last_error": self.last_error,
        }

    async def run(self) -> None:
        """Publish until cancelled (or the bus closes); the publisher reconnects."""
        sub = self.controller.bus.subscribe(
            self.name, [StateChanged, AvailabilityChanged], maxsize=50_000
        )
        try:
            async with asyncio.TaskGroup() as group:
                connection = group.create_task(self.publisher.run(), name=f"{self.name}.connection")
                try:
                    await self._mirror(sub)
                except BusClosed:
                    connection.cancel()
        finally:
            self.connected.clear()
            sub.close()

    async def _mirror(self, sub: Subscription) -> None:
        """Everything on each new connection, then every change, until the bus closes."""
        while True:
            await self.publisher.wait_connected()
            try:
                await self._publish_all()
                self.connected.set()
                while True:
                    for event in await sub.get_batch(1000):
                        await self._publish_event(event)
            except PublishFailed as err:
                _LOGGER.debug("%s: %s; publishing everything after reconnecting", self.name, err)
            self.connected.clear()

    async def _publish(self, topic: str, payload: str) -> None:
        await self.publisher.publish(topic, payload, qos=1, retain=True)

    async def _publish_all(self) -> None:
        """Status, discovery configs, availability and current states (all retained)."""
        controller = self.controller
        campus = controller.site.campus.id
        site = controller.site
        await self._publish(f"{self.prefix}/status", "online")
        for entity in controller.registry:
            if self.discovery:
                point = site.profile_of(site.devices[entity.device_id]).point(entity.point_key)
                bits = point.modbus is not None and point.modbus.type in _BIT_TYPES
                numeric = point.values is None and not bits
                topic, config = discovery_config(entity, self.prefix, campus, numeric=numeric)
                await self._publish(topic, json.dumps(config, ensure_ascii=False))
            state = controller.states.get(entity.entity_id)
            if state is not None:
                await self._publish(
                    f"{self.prefix}/{entity.entity_id}/state", state_payload(state.value)
                )
        for device_id in controller.registry.device_ids:
            online = controller.states.is_available(device_id)
            await self._publish(
                f"{self.prefix}/{device_id}/availability", "online" if online else "offline"
            )

    async def _publish_event(self, event: object) -> None:
        if isinstance(event, StateChanged):
            if event.changed and event.new.available:
                topic = f"{self.prefix}/{event.entity_id}/state"
                await self._publish(topic, state_payload(event.new.value))
        elif isinstance(event, AvailabilityChanged):
            topic = f"{self.prefix}/{event.device_id}/availability"
            await self._publish(topic, "online" if event.available else "offline")


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
