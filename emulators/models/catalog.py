"""Pick and configure the behaviour model of a site's device.

The choice follows the device's profile, circuit and place (a dorm room's socket meter, a
floor's lighting meter, a canteen's kitchen circuit, a bathhouse shower valve), so any site
file, not only the generated example campus, gets plausible behaviour.
"""

from __future__ import annotations

import random
from dataclasses import replace

from controller.config import LoadedSite, PointKind, Profile
from controller.config.site import BuildingKind, Circuit, Device

from .base import DeviceModel, ModelClock, device_rng
from .daily import DORM_SHOWERS
from .electricity import ElectricityMeter, LoadProfile
from .food import DinerCounter, PlateChecker, WasteScale
from .hvac import AcUnit
from .loads import (
    bath_main,
    canteen_main,
    dorm_main,
    dorm_sockets,
    floor_lighting,
    kitchen_load,
    plug_load,
)
from .valve import DelayValve
from .water import COLD_USES, HOT_USES, KITCHEN_USES, HeatMeter, WaterMeter

__all__ = ["build_model", "build_models"]


def build_models(
    site: LoadedSite, clock: ModelClock, seed: int = 0, *, protocol: str | None = None
) -> dict[str, DeviceModel]:
    """A model for every device of ``site`` (only ``protocol`` devices, if given)."""
    return {
        device.id: build_model(site, device, clock, seed)
        for device in site.devices.values()
        if protocol is None or site.profile_of(device).protocol == protocol
    }


def build_model(site: LoadedSite, device: Device, clock: ModelClock, seed: int = 0) -> DeviceModel:
    """The behaviour model for one device, seeded from ``seed`` and the device id."""
    rng = device_rng(seed, device.id)
    profile = site.profile_of(device)
    kinds = {p.kind for p in profile.points}
    tz = site.campus.timezone
    occupants = _occupants(site, device)
    suffix = device.id.rsplit(".", 1)[-1]
    food = _food_model(site, device, kinds, clock, rng)
    if food is not None:
        return food
    if PointKind.AC_MODE in kinds:
        return AcUnit(clock, rng, occupants=occupants, tz=tz)
    if PointKind.VALVE_DELAY in kinds:
        if device.circuit is Circuit.SHOWER:
            # A shower: ~8 min per use at 8 L/min, 30 s per press (DOMAIN.md §3).
            return DelayValve(
                clock,
                rng,
                shape=DORM_SHOWERS,
                uses_per_day=25.0,
                use_seconds=480.0,
                delay=30.0,
                max_open=900.0,
                flow_lpm=8.0,
                tz=tz,
            )
        return DelayValve(clock, rng, tz=tz)
    if PointKind.HEAT_ENERGY in kinds or PointKind.WATER_VOLUME in kinds:
        return _water_model(site, device, kinds, clock, rng)
    if PointKind.ACTIVE_ENERGY in kinds or PointKind.ACTIVE_POWER in kinds:
        load = _electric_load(site, device, profile, suffix)
        sockets = device.circuit is Circuit.SOCKETS
        return ElectricityMeter(
            clock,
            rng,
            load,
            trip_w=4000.0 if sockets else None,
            prepaid=sockets and PointKind.BALANCE in kinds,
            tz=tz,
        )
    raise ValueError(f"no behaviour model fits device {device.id} (profile {device.profile})")


_FOOD_KINDS = frozenset(
    {
        PointKind.FOOD_WASTE,
        PointKind.DINER_COUNT,
        PointKind.PLATES_CHECKED,
        PointKind.CLEAN_PLATES,
    }
)


def _food_model(
    site: LoadedSite,
    device: Device,
    kinds: set[PointKind],
    clock: ModelClock,
    rng: random.Random,
) -> DeviceModel | None:
    """A canteen's waste scale, diner counter or plate checker (None for other devices)."""
    if not kinds & _FOOD_KINDS:
        return None
    building = site.buildings[device.building]
    diners = float(sum(r.occupancy for b in site.buildings.values() for r in b.rooms) or 1000)
    per_day = diners * 2.2
    tz = site.campus.timezone
    if PointKind.FOOD_WASTE in kinds:
        # the canteen's waste splits over its scales (serving lines, kitchen), equally
        share = 1.0 / _scales_in(site, device.building)
        return WasteScale(
            clock, rng, canteen=building.id, diners_per_day=per_day, share=share, tz=tz
        )
    if PointKind.DINER_COUNT in kinds:
        return DinerCounter(clock, rng, canteen=building.id, diners_per_day=per_day, tz=tz)
    return PlateChecker(clock, rng, canteen=building.id, diners_per_day=per_day, tz=tz)


def _scales_in(site: LoadedSite, building: str) -> int:
    """How many waste scales (top ones: no parent) the building has."""
    return (
        sum(
            1
            for d in site.devices.values()
            if d.building == building
            and d.parent is None
            and any(p.kind is PointKind.FOOD_WASTE for p in site.profile_of(d).points)
        )
        or 1
    )


def _water_model(
    site: LoadedSite,
    device: Device,
    kinds: set[PointKind],
    clock: ModelClock,
    rng: random.Random,
) -> DeviceModel:
    tz = site.campus.timezone
    building = site.buildings[device.building]
    if PointKind.HEAT_ENERGY in kinds:
        people = sum(r.occupancy for r in building.rooms) or 200
        return HeatMeter(clock, rng, people, tz=tz)
    if building.kind is not BuildingKind.DORM or device.room is None:
        return WaterMeter(clock, rng, KITCHEN_USES, 1, occupied=False, tz=tz)
    uses = HOT_USES if device.circuit is Circuit.HOT_WATER else COLD_USES
    return WaterMeter(clock, rng, uses, _occupants(site, device), tz=tz)


def _occupants(site: LoadedSite, device: Device) -> int:
    if device.room is None:
        return 0
    building = site.buildings[device.building]
    return next((r.occupancy for r in building.rooms if r.id == device.room), 0)


def _three_phase(profile: Profile) -> bool:
    keys = {p.key for p in profile.points}
    return bool(keys & {"voltage_b", "voltage_l2", "current_b", "current_l2"})


def _electric_load(site: LoadedSite, device: Device, profile: Profile, suffix: str) -> LoadProfile:
    building = site.buildings[device.building]
    circuit = device.circuit
    if circuit is Circuit.SOCKETS or (circuit is None and device.room is not None):
        return dorm_sockets(_occupants(site, device) or 4)
    if circuit is Circuit.LIGHTING:
        floors = max(building.floors, 1)
        return floor_lighting(max(len(building.rooms) // floors, 1))
    if circuit is Circuit.KITCHEN:
        return kitchen_load(suffix)
    if circuit is Circuit.POWER or profile.protocol == "mqtt":
        return plug_load(suffix)
    if building.kind is BuildingKind.CANTEEN:
        load = canteen_main()
    elif building.kind is BuildingKind.BATHHOUSE:
        load = bath_main()
    else:
        load = dorm_main(max(len(building.rooms), 1))
    return load if _three_phase(profile) else replace(load, phases=1)
