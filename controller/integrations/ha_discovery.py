"""Home Assistant MQTT discovery: each point as the entity it is, named in the campus language.

A relay or AC on/off is a ``switch``, an AC mode a ``select`` with its options, a setpoint a
``number`` with its range, a stuck-open bit a ``binary_sensor``, and meters ``sensor``s with
device and state classes. Writable ones get a command topic when the export takes commands.
Devices carry their profile's manufacturer and model and a name people recognise; their area
is the building and the room (``一号楼 101``), so room 101 of two buildings stays two areas.

States are published in the API's vocabulary (``api.vocabulary``): on/off points say
``on``/``off``, words stay words, other booleans are ``ON``/``OFF``, numbers are text.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from controller.config import LoadedSite
from controller.config.profile import DeviceClass, Point, PointKind, StateClass
from controller.core import Entity
from controller.core.events import Value
from controller.core.values import switch_values
from controller.core.vocabulary import OFF, ON, allowed, is_switch, to_api
from wire.modbus import DataType

__all__ = ["Discovery", "command_topic", "discovery", "state_payload", "state_topic"]

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
_NUMBER_CLASSES = {PointKind.SETPOINT: "temperature", PointKind.VALVE_DELAY: "duration"}
_BINARY_CLASSES = {PointKind.VALVE_STATE: "opening", PointKind.STATUS: "problem"}


@dataclass(frozen=True, slots=True)
class Discovery:
    """One entity's discovery: its Home Assistant component, config topic and config."""

    component: str
    topic: str
    config: dict[str, Any]

    @property
    def commands(self) -> bool:
        return "command_topic" in self.config


def _object_id(entity_id: str) -> str:
    return entity_id.replace(".", "_")


def state_topic(prefix: str, entity_id: str) -> str:
    return f"{prefix}/{entity_id}/state"


def command_topic(prefix: str, entity_id: str) -> str:
    return f"{prefix}/{entity_id}/set"


def state_payload(point: Point | None, value: Value) -> str:
    """A state as published: the API's words, other booleans ON/OFF, None as ``None``."""
    if point is not None:
        value = to_api(point, value)
    if value is None:
        return "None"
    if isinstance(value, bool):
        return "ON" if value else "OFF"
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else "None"
    return str(value)


def _is_bits(point: Point) -> bool:
    return point.modbus is not None and point.modbus.type in _BIT_TYPES


def _area(site: LoadedSite, entity: Entity, lang: str) -> str:
    building = site.buildings.get(entity.building)
    if building is None:
        return entity.building
    where = building.name.get(lang)
    room_id, area_id = entity.tags.get("room"), entity.tags.get("area")
    if room_id:
        room = next((r for r in building.rooms if r.id == room_id), None)
        named = room.name.get(lang) if room is not None and room.name else None
        return f"{where} {named or room_id}"
    if area_id:
        area = next((a for a in building.areas if a.id == area_id), None)
        return f"{where} {area.name.get(lang) if area is not None else area_id}"
    return where


def _device(site: LoadedSite, entity: Entity, campus: str, lang: str) -> dict[str, Any]:
    device = site.devices[entity.device_id]
    profile = site.profile_of(device)
    area = _area(site, entity, lang)
    kind = profile.name.get(lang) if profile.name else profile.model
    return {
        "identifiers": [f"sanjie_{campus}_{_object_id(entity.device_id)}"],
        "name": device.name.get(lang) if device.name else f"{area} {kind}",
        "manufacturer": profile.manufacturer,
        "model": profile.model,
        "serial_number": entity.device_id,
        "suggested_area": area,
    }


def _component(point: Point, commands: bool) -> str:
    writable = commands and point.writable
    if is_switch(point):
        return "switch" if writable else "binary_sensor"
    if _is_bits(point) or (point.values is not None and switch_values(point) is not None):
        if writable and point.values is not None:
            return "select"
        return "binary_sensor"
    if point.values is not None:
        return "select" if writable else "sensor"
    if writable and point.range is not None:
        return "number"
    return "sensor"


def discovery(
    site: LoadedSite, entity: Entity, point: Point, prefix: str, *, commands: bool = False
) -> Discovery:
    """The discovery config of ``entity``; writable points get a command topic if
    ``commands`` (the export takes commands from Home Assistant)."""
    campus, lang = site.campus.id, site.campus.language
    object_id = _object_id(entity.entity_id)
    component = _component(point, commands)
    name = entity.name_en if lang == "en" and entity.name_en else entity.name_zh
    config: dict[str, Any] = {
        "name": name,
        "unique_id": f"sanjie_{campus}_{object_id}",
        "object_id": object_id,
        "state_topic": state_topic(prefix, entity.entity_id),
        "availability": [
            {"topic": f"{prefix}/status"},
            {"topic": f"{prefix}/{entity.device_id}/availability"},
        ],
        "availability_mode": "all",
        "device": _device(site, entity, campus, lang),
    }
    if component in ("switch", "select", "number"):
        config["command_topic"] = command_topic(prefix, entity.entity_id)
    limits = allowed(point)
    if component == "switch":
        config |= {"payload_on": ON, "payload_off": OFF, "state_on": ON, "state_off": OFF}
    elif component == "binary_sensor":
        config |= _binary_payloads(point)
        if point.kind in _BINARY_CLASSES:
            config["device_class"] = _BINARY_CLASSES[point.kind]
    elif component == "select":
        config["options"] = limits.write_options or limits.options
    elif component == "number":
        assert point.range is not None
        config |= {"min": point.range[0], "max": point.range[1], "step": _step(point)}
        config["mode"] = "box"
        if entity.unit:
            config["unit_of_measurement"] = entity.unit
        if point.kind in _NUMBER_CLASSES:
            config["device_class"] = _NUMBER_CLASSES[point.kind]
    elif point.values is not None:  # a read-only word: an enum sensor with its options
        config |= {"device_class": "enum", "options": limits.options}
    else:
        config |= _numeric(entity)
    return Discovery(
        component, f"homeassistant/{component}/sanjie_{campus}/{object_id}/config", config
    )


def _binary_payloads(point: Point) -> dict[str, Any]:
    if is_switch(point):
        return {"payload_on": ON, "payload_off": OFF}
    two = switch_values(point)
    if two is not None and point.values is not None:
        return {"payload_on": str(two.on_state), "payload_off": str(two.off_state)}
    return {"payload_on": "ON", "payload_off": "OFF"}


def _step(point: Point) -> float:
    scale = point.modbus.scale if point.modbus is not None else 1.0
    return scale if 0 < scale < 1 else 1.0


def _numeric(entity: Entity) -> dict[str, Any]:
    config: dict[str, Any] = {}
    if entity.device_class in _HA_SENSOR_CLASSES:
        config["device_class"] = _HA_SENSOR_CLASSES[entity.device_class]
    if entity.unit:
        config["unit_of_measurement"] = entity.unit
    if entity.state_class is not StateClass.NONE:
        config["state_class"] = entity.state_class.value
    return config
