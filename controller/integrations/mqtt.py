"""MQTT glue: site devices and profiles → driver specs; readings → state store; commands → driver.

One ``MqttIntegration`` component per MQTT link. Entity ids are computed here once and carried
in each field spec, so a reading reaches ``StateStore.set`` without any lookup.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterable, Mapping
from typing import Any, Literal

from controller.app import Controller
from controller.config.loader import LoadedSite
from controller.config.profile import Point, Profile
from controller.config.site import Device, MqttLink
from controller.core import Quality, entity_id
from controller.core.commands import CommandError
from controller.core.events import Value
from drivers.mqtt import (
    BrokerSpec,
    CommandFailed,
    CommandSpec,
    DeviceSpec,
    FieldSpec,
    MqttDriver,
    RawValue,
    TlsSpec,
    TopicSpec,
)

__all__ = [
    "MqttIntegration",
    "broker_spec",
    "device_spec",
    "mqtt_integrations",
    "mqtt_links",
]

_LOGGER = logging.getLogger(__name__)


def _fill(template: str, device: Device) -> str:
    """A concrete topic; ValueError if the device's base would make it a wildcard."""
    topic = template.replace("{base}", device.mqtt_base).replace("{device}", device.id)
    if "+" in topic or "#" in topic or not topic:
        raise ValueError(f"device {device.id}: topic {topic!r} is empty or has an MQTT wildcard")
    return topic


def _path(dotted: str | None) -> tuple[str, ...]:
    return tuple(dotted.split(".")) if dotted else ()


def _raw_key(key: int | str, json_command: bool) -> RawValue:
    """A value-map key as it goes on the wire: JSON booleans for "true"/"false" keys."""
    if json_command and isinstance(key, str) and key in ("true", "false"):
        return key == "true"
    return key


def _field(device: Device, point: Point) -> FieldSpec:
    assert point.mqtt is not None
    values = None
    if point.values is not None:
        values = {
            ("true" if k else "false") if isinstance(k, bool) else str(k): v
            for k, v in point.values.items()
        }
    return FieldSpec(
        key=point.key,
        ref=entity_id(device.id, point.key),
        path=_path(point.mqtt.path),
        scale=point.mqtt.scale,
        offset=point.mqtt.offset,
        values=values,
        valid_range=point.valid_range,
    )


def _command(device: Device, point: Point) -> CommandSpec | None:
    mqtt = point.mqtt
    if not point.writable or mqtt is None:
        return None
    if mqtt.command_topic is None:
        _LOGGER.warning(
            "%s.%s is writable but its profile has no command_topic", device.id, point.key
        )
        return None
    encode: dict[str, RawValue] | None = None
    if point.values is not None:
        allowed = set(point.write_values or point.values.values())
        encode = {
            label: _raw_key(raw, mqtt.command_path is not None)
            for raw, label in point.values.items()
            if label in allowed
        }
    return CommandSpec(
        key=point.key,
        topic=_fill(mqtt.command_topic, device),
        path=_path(mqtt.command_path),
        encode=encode,
        range=point.range,
        scale=mqtt.scale,
        offset=mqtt.offset,
    )


def device_spec(device: Device, profile: Profile) -> DeviceSpec:
    """The driver's view of one MQTT device."""
    options = profile.mqtt
    by_topic: dict[str, list[Point]] = {}
    for point in profile.points:
        if point.mqtt is not None:
            by_topic.setdefault(point.mqtt.topic, []).append(point)
    topics = []
    for template, points in by_topic.items():
        is_json = any(p.mqtt is not None and p.mqtt.path for p in points)
        topics.append(
            TopicSpec(
                topic=_fill(template, device),
                template=template,
                fields=tuple(_field(device, p) for p in points),
                timestamp_path=_path(options.timestamp_path) or None if is_json else None,
                timestamp_format=options.timestamp_format,
            )
        )
    commands = {c.key: c for p in profile.points if (c := _command(device, p)) is not None}
    interval = device.scan_interval or options.interval
    return DeviceSpec(
        device_id=device.id,
        topics=tuple(topics),
        commands=commands,
        availability_topic=_fill(options.availability_topic, device)
        if options.availability_topic
        else None,
        availability_template=options.availability_topic,
        payload_online=options.payload_online,
        payload_offline=options.payload_offline,
        stale_after=options.stale_after * interval,
    )


def broker_spec(
    site: LoadedSite, link: MqttLink, host: str | None = None, port: int | None = None
) -> BrokerSpec:
    """Connection settings of ``link``; ``host``/``port`` override it (the demo's own broker)."""
    address = host or link.host
    if address is None:
        raise ValueError(
            f"MQTT link {link.id!r} has no host: set one in the site, or start a local broker "
            "(controller.broker.local_broker) and pass its address"
        )
    tls = None
    if link.tls is not None:
        tls = TlsSpec(
            ca_file=link.tls.ca_file,
            cert_file=link.tls.cert_file,
            key_file=link.tls.key_file,
            insecure=link.tls.insecure,
        )
    return BrokerSpec(
        host=address,
        port=port or link.port,
        client_id=link.client_id or f"sanjie-{site.campus.id}-{link.id}",
        username=link.username,
        password=link.password,
        protocol=link.protocol,
        keepalive=link.keepalive,
        session_expiry=link.session_expiry,
        tls=tls,
        timeout=link.timeout,
    )


def mqtt_links(site: LoadedSite) -> list[MqttLink]:
    """The site's MQTT links that have devices."""
    used = {d.link for d in site.devices.values()}
    return [link for link in site.links.values() if isinstance(link, MqttLink) and link.id in used]


class MqttIntegration:
    """A Controller component running one MQTT link's driver; also its command handler."""

    def __init__(
        self,
        controller: Controller,
        link: MqttLink,
        *,
        host: str | None = None,
        port: int | None = None,
        client_id: str | None = None,
        protocol: Literal["5", "3.1.1"] | None = None,
    ) -> None:
        site = controller.site
        self.name = f"mqtt:{link.id}"
        self.link = link
        devices = [d for d in site.devices.values() if d.link == link.id]
        broker = broker_spec(site, link, host, port)
        if client_id is not None:
            broker = dataclasses.replace(broker, client_id=client_id)
        if protocol is not None:
            broker = dataclasses.replace(broker, protocol=protocol)
        self.driver = MqttDriver(
            broker,
            (device_spec(d, site.profile_of(d)) for d in devices),
            on_readings=controller.states.set_many,  # ([(entity id, value, quality)], time)
            on_availability=controller.states.set_available,
            clock=controller.clock,
            timezone=site.campus.timezone,
            name=self.name,
            good=Quality.GOOD,
            bad=Quality.BAD,
        )
        self.device_ids = [d.id for d in devices]
        self._profiles = {d.id: d.profile for d in devices}
        for device in devices:
            controller.commands.register(device.id, self)

    async def run(self) -> None:
        await self.driver.run()

    async def write(self, device_id: str, point_key: str, value: Value) -> Value:
        """CommandHandler: publish, wait for the device to report it, or CommandError."""
        if value is None:
            raise CommandError("a command needs a value")
        try:
            return await self.driver.write(device_id, point_key, value)
        except CommandFailed as err:
            raise CommandError(err.reason) from err

    def status(self) -> dict[str, Any]:
        """Driver figures plus one row per profile (shown as a table in the live view)."""
        rows: dict[str, dict[str, Any]] = {}
        for device_id, profile in self._profiles.items():
            stats = self.driver.device_stats(device_id)
            row = rows.setdefault(
                profile, {"devices": 0, "online": 0, "messages": 0, "readings": 0, "problems": 0}
            )
            row["devices"] += 1
            row["online"] += stats["available"] is not False
            row["messages"] += stats["messages"]
            row["readings"] += stats["readings"]
            row["problems"] += sum(stats["problems"].values())
        return {**self.driver.stats(), "profiles": rows}


def mqtt_integrations(
    controller: Controller,
    links: Iterable[MqttLink] | None = None,
    *,
    brokers: Mapping[str, tuple[str, int, Literal["5", "3.1.1"]]] | None = None,
) -> list[MqttIntegration]:
    """One component per MQTT link with devices; ``brokers`` (link id → host, port, version)
    serve links without a host (the broker on this machine ``controller.broker`` found or
    started, whose version the clients speak)."""
    chosen = mqtt_links(controller.site) if links is None else list(links)
    served = {} if brokers is None else brokers
    integrations = []
    for link in chosen:
        if link.host or link.id not in served:
            integrations.append(MqttIntegration(controller, link))
            continue
        host, port, protocol = served[link.id]
        integrations.append(
            MqttIntegration(controller, link, host=host, port=port, protocol=protocol)
        )
    return integrations
