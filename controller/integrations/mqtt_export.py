"""Publish the controller's entities over MQTT, with Home Assistant discovery and commands.

Every entity gets a retained state topic ``<prefix>/<entity_id>/state`` (updated when its value
changes) and every device a retained availability topic. With discovery on, a retained config
under ``homeassistant/`` makes each point the Home Assistant entity it is (``ha_discovery``).

With ``sinks.mqtt.commands_as`` naming a staff account, writable points also get a command
topic ``<prefix>/<entity_id>/set``: a command published there goes through the same checks as
one from the API (the point's words or range, then the policies' guards in the command router)
and is audited under that account, with source ``homeassistant``. A command the account's
buildings do not include, or that the point refuses, is not sent; the current state is
published again so Home Assistant shows what really is.

The connection is the driver's (``drivers.mqtt.MqttPublisher``: reconnects, LWT, TLS); this
module only maps entities to topics and payloads, and publishes everything again after each
(re)connection, since retained topics are the broker's copy of the current state.
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass
from typing import Any

from controller.accounts import Account, Role
from controller.app import Controller
from controller.config import LoadedSite
from controller.config.profile import Point
from controller.config.site import MqttLink
from controller.core import AvailabilityChanged, BusClosed, StateChanged, Subscription
from controller.core.vocabulary import from_api, is_switch
from controller.core.writecheck import check_write
from controller.logs import device as about
from drivers.mqtt import BrokerSpec, MqttPublisher, PublishFailed

from .ha_discovery import command_topic, discovery, state_payload, state_topic
from .mqtt import broker_spec

__all__ = [
    "SOURCE",
    "CommandAccount",
    "CommandAccountError",
    "MqttExport",
    "command_account",
    "export_link",
    "mqtt_export",
    "state_payload",
]

_LOGGER = logging.getLogger(__name__)

SOURCE = "homeassistant"
"""The ``source`` of commands from the export, in the audit log and for the policies."""
REASON = "Home Assistant"
_QUEUE = 200  # commands waiting; a flood beyond it is dropped, not buffered


class CommandAccountError(ValueError):
    """``sinks.mqtt.commands_as`` names an account that cannot send commands."""


@dataclass(frozen=True, slots=True)
class CommandAccount:
    """Who commands from Home Assistant act as: the label audited, the buildings allowed."""

    actor: str
    buildings: frozenset[str] | None

    def sees(self, building: str) -> bool:
        return self.buildings is None or building in self.buildings


def command_account(account: Account) -> CommandAccount:
    """The export's command identity from a staff account (an operator or above)."""
    if account.disabled:
        raise CommandAccountError(f"sinks.mqtt.commands_as: account {account.name} is disabled")
    if not account.at_least(Role.OPERATOR):
        raise CommandAccountError(
            f"sinks.mqtt.commands_as: account {account.name} is {account.role}; commands need "
            "the operator role"
        )
    return CommandAccount(account.label, account.buildings)


class MqttExport:
    """A Controller component mirroring entity states to a broker (and taking commands)."""

    def __init__(
        self,
        controller: Controller,
        broker: BrokerSpec,
        *,
        prefix: str = "sanjie",
        discovery: bool = True,
        commands: CommandAccount | None = None,
    ) -> None:
        self.name = f"mqtt-export:{broker.host}:{broker.port}"
        self.controller = controller
        self.broker = broker
        self.prefix = prefix
        self.discovery = discovery
        self.commands = commands
        self.received = 0
        self.refused = 0
        self.connected = asyncio.Event()
        """Set once everything is published on the current connection."""
        site = controller.site
        self._points: dict[str, Point] = {
            e.entity_id: site.profile_of(site.devices[e.device_id]).point(e.point_key)
            for e in controller.registry
        }
        self._inbox: asyncio.Queue[tuple[str, bytes]] = asyncio.Queue(_QUEUE)
        self.publisher = MqttPublisher(
            broker,
            client_id=f"{broker.client_id}-export",
            will=(f"{prefix}/status", "offline"),
            name=self.name,
            subscriptions=[command_topic(prefix, "+")] if commands is not None else [],
            on_message=self._arrived,
        )

    def use_account(self, account: Account) -> None:
        """Take commands as ``account`` (set by the composition root before ``run``)."""
        self.commands = command_account(account)
        if not self.publisher.subscriptions:
            self.publisher.subscriptions.append(command_topic(self.prefix, "+"))

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
            "commands": self.received,
            "commands_refused": self.refused,
            "commands_as": self.commands.actor if self.commands else None,
        }

    async def run(self) -> None:
        """Publish until cancelled (or the bus closes); the publisher reconnects."""
        sub = self.controller.bus.subscribe(
            self.name, [StateChanged, AvailabilityChanged], maxsize=50_000
        )
        try:
            async with asyncio.TaskGroup() as group:
                connection = group.create_task(self.publisher.run(), name=f"{self.name}.connection")
                commands = group.create_task(self._command_loop(), name=f"{self.name}.commands")
                try:
                    await self._mirror(sub)
                except BusClosed:
                    connection.cancel()
                    commands.cancel()
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

    async def _publish_state(self, entity_id: str) -> None:
        state = self.controller.states.get(entity_id)
        if state is not None:
            payload = state_payload(self._points[entity_id], state.value)
            await self._publish(state_topic(self.prefix, entity_id), payload)

    async def _publish_all(self) -> None:
        """Status, discovery configs, availability and current states (all retained)."""
        controller = self.controller
        await self._publish(f"{self.prefix}/status", "online")
        account = self.commands
        for entity in controller.registry:
            if self.discovery:
                point = self._points[entity.entity_id]
                commands = account is not None and account.sees(entity.building)
                found = discovery(controller.site, entity, point, self.prefix, commands=commands)
                await self._publish(found.topic, json.dumps(found.config, ensure_ascii=False))
            await self._publish_state(entity.entity_id)
        for device_id in controller.registry.device_ids:
            online = controller.states.is_available(device_id)
            await self._publish(
                f"{self.prefix}/{device_id}/availability", "online" if online else "offline"
            )

    async def _publish_event(self, event: object) -> None:
        if isinstance(event, StateChanged):
            if event.changed and event.new.available:
                topic = state_topic(self.prefix, event.entity_id)
                await self._publish(
                    topic, state_payload(self._points[event.entity_id], event.new.value)
                )
        elif isinstance(event, AvailabilityChanged):
            topic = f"{self.prefix}/{event.device_id}/availability"
            await self._publish(topic, "online" if event.available else "offline")

    # -- commands from Home Assistant ------------------------------------------------------

    def _arrived(self, topic: str, payload: bytes) -> None:
        """Called by the publisher as a message arrives: queue it, never block the client."""
        try:
            self._inbox.put_nowait((topic, payload))
        except asyncio.QueueFull:
            self.refused += 1
            _LOGGER.warning("%s: %d commands waiting; dropped one on %s", self.name, _QUEUE, topic)

    async def _command_loop(self) -> None:
        while True:
            topic, payload = await self._inbox.get()
            self.received += 1
            try:
                await self._command(topic, payload)
            except PublishFailed as err:  # the state could not be re-published: next connect
                _LOGGER.debug("%s: %s", self.name, err)

    async def _command(self, topic: str, payload: bytes) -> None:
        entity_id = topic.removeprefix(f"{self.prefix}/").removesuffix("/set")
        entity = self.controller.registry.get(entity_id)
        account = self.commands
        if entity is None or account is None or not entity.writable:
            self.refused += 1
            _LOGGER.warning("%s: no writable entity for command topic %s", self.name, topic)
            return
        why = self._refusal(entity.building, account, payload)
        point = self._points[entity_id]
        value: object = None
        if why is None:
            value = _parse(point, payload.decode("utf-8", "replace").strip())
            why = _check(point, value)
        if why is not None:
            self.refused += 1
            _LOGGER.warning(
                "%s: command %r for %s refused: %s",
                self.name,
                payload[:40],
                entity_id,
                why,
                extra=about(entity.device_id),
            )
            await self._publish_state(entity_id)
            return
        assert isinstance(value, float | int | str | bool)
        result = await self.controller.commands.send(
            entity_id, value, actor=account.actor, reason=REASON, source=SOURCE
        )
        if not result.ok:
            self.refused += 1
        await self._publish_state(entity_id)  # what really is, refused or not

    def _refusal(self, building: str, account: CommandAccount, payload: bytes) -> str | None:
        if not account.sees(building):
            return f"account {account.actor} may not act on building {building}"
        if len(payload) > 64:
            return "payload longer than 64 bytes"
        return None


def _parse(point: Point, text: str) -> object:
    """A command payload as the API would take it: on/off for switches, words stay words,
    numbers are numbers (an integer register gets an int)."""
    if is_switch(point):
        return from_api(point, text)
    if point.values is not None:
        return text
    try:
        number = float(text)
    except ValueError:
        return text
    return int(number) if number.is_integer() else number


def _check(point: Point, value: object) -> str | None:
    problem = check_write(point, value)
    return None if problem is None else problem.msg


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
    Commands stay off until ``use_account`` names the account of ``sinks.mqtt.commands_as``.
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
