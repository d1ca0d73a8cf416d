"""The entity registry: one entity per point of every device, with location tags."""

from __future__ import annotations

import pytest

from controller.config import LoadedSite
from controller.config.profile import DeviceClass, PointKind, StateClass
from controller.core import Entity, EntityRegistry, entity_id


def test_every_point_of_every_device_is_an_entity(
    campus: LoadedSite, registry: EntityRegistry
) -> None:
    expected = sum(len(campus.profile_of(d).points) for d in campus.devices.values())
    # the example campus has a DL/T 645 dorm floor and CJ/T 188 hot-water meters (fewer points
    # than the Modbus ones they replace); the prepaid meter's threshold points add 7 a room
    assert len(registry) == expected == 12700
    assert set(registry.device_ids) == set(campus.devices)


def test_entity_fields_and_tags(registry: EntityRegistry) -> None:
    energy = registry["dorm-1.101.elec.energy"]
    assert (energy.device_id, energy.point_key) == ("dorm-1.101.elec", "energy")
    assert (energy.name_zh, energy.name_en, energy.unit) == ("累计电能", "Energy", "kWh")
    assert energy.kind is PointKind.ACTIVE_ENERGY
    assert energy.device_class is DeviceClass.ENERGY
    assert energy.state_class is StateClass.TOTAL_INCREASING
    assert energy.is_cumulative
    assert not energy.writable
    assert energy.tags == {
        "campus": "demo",
        "building": "dorm-1",
        "building_kind": "dorm",
        "device": "dorm-1.101.elec",
        "profile": "generic/dorm-prepaid-meter",
        "room": "101",
        "floor": "1",
        "occupants": "4",
        "circuit": "sockets",
        "kind": "active_energy",
        "level": "1",
        "parent": "dorm-1.main",
    }
    assert (energy.building, energy.room, energy.circuit) == ("dorm-1", "101", "sockets")
    # Area devices carry the area and its floor; floor devices have no room.
    handwash = registry["canteen-1.handwash.v01.delay"]
    assert handwash.tags["area"] == "handwash"
    assert handwash.tags["floor"] == "1"
    assert handwash.room is None
    assert "room" not in registry["dorm-2.f6.lighting.energy"].tags


def test_lookups(registry: EntityRegistry) -> None:
    assert "dorm-2.620.ac.setpoint" in registry
    assert registry.get("dorm-2.620.ac.nope") is None
    with pytest.raises(KeyError):
        registry["dorm-2.620.ac.nope"]
    assert [e.point_key for e in registry.of_device("dorm-1.101.cold")] == [
        "volume",
        "reverse_volume",
        "flow",
        "pipe_status",
        "prepaid_remaining",
        "battery",
        "valve",
        "valve_open",  # the valve status register's flags, one entity each
        "valve_closed",
        "valve_abnormal",
        "low_battery",
    ]
    assert registry.of_device("nope") == []
    relays = registry.select(building="dorm-2", kind="relay")
    assert len(relays) == 120
    assert {e.tags["room"] for e in relays if e.tags["floor"] == "6"} == {
        f"6{r:02d}" for r in range(1, 21)
    }
    assert registry.select(building="dorm-2", floor="3", circuit="ac", kind="setpoint")[0].writable


def test_duplicate_entity_ids_are_refused() -> None:
    one = Entity(
        entity_id("m", "power"),
        "m",
        "power",
        "功率",
        "Power",
        PointKind.ACTIVE_POWER,
        "W",
        DeviceClass.POWER,
        StateClass.MEASUREMENT,
        False,
    )
    with pytest.raises(ValueError, match=r"duplicate entity id m\.power"):
        EntityRegistry([one, one])


def test_the_bulk_builds_entities_equal_and_as_frozen_as_the_dataclass() -> None:
    """The registry makes half a million entities through ``entity_maker`` (slots set
    directly): they must be the same objects the dataclass makes, and as immutable."""
    import dataclasses

    from controller.core.entity import entity_maker

    fields = (
        "m.power",
        "m",
        "power",
        "功率",
        "Power",
        PointKind.ACTIVE_POWER,
        "W",
        DeviceClass.POWER,
        StateClass.MEASUREMENT,
        False,
        {"building": "dorm-1"},
    )
    made = entity_maker()(*fields)
    assert type(made) is Entity
    assert made == Entity(*fields)
    assert made.building == "dorm-1"
    with pytest.raises(dataclasses.FrozenInstanceError):
        made.writable = True  # type: ignore[misc]


def test_a_profile_repeating_a_point_key_is_refused(campus: LoadedSite) -> None:
    """From a site the ids are checked a device at a time; a repeated key still stops it."""
    import dataclasses

    profile_id = next(iter(campus.profiles))
    profile = campus.profiles[profile_id]
    repeated = profile.model_copy(update={"points": [*profile.points, profile.points[0]]})
    site = dataclasses.replace(campus, profiles={**campus.profiles, profile_id: repeated})
    with pytest.raises(ValueError, match="duplicate entity id on device"):
        EntityRegistry.from_site(site)
