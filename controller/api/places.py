"""Buildings and rooms: where things are, with their devices, occupants and live states.

A dorm manager's script asks "room 305 of dorm 3" and gets the room, its beds and occupants,
and every device in it with its states (name, unit, availability) in one answer. Reads need a
signed-in account (``Viewer``); an account limited to some buildings sees only those (lists
leave the others out, a detail answers 403).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel, Field

from controller.app import Controller
from controller.config.site import Building, BuildingKind, Device, Room

from .auth import Caller, Viewer
from .errors import ApiError, FieldError, responses
from .paging import Page, Paging, paginate
from .schemas import StateOut
from .states import state_out

__all__ = ["place_routes"]

Places = dict[tuple[str, str | None], list[Device]]
"""Devices by (building, room); room None for the building's own devices."""

Lang = Annotated[str, Query(pattern="^(zh|en)$", description="Language of names: zh or en.")]


class DeviceOut(BaseModel):
    id: str
    name: str
    profile: str
    manufacturer: str
    model: str
    building: str
    room: str | None
    area: str | None
    circuit: str | None
    available: bool
    states: list[StateOut]


class BuildingSummary(BaseModel):
    id: str
    kind: str
    name: str
    floors: int
    rooms: int
    capacity: int = Field(description="Beds over all rooms.")
    occupants: int = Field(description="People living in its rooms.")
    devices: int


class BuildingDetail(BuildingSummary):
    building_devices: list[DeviceOut] = Field(
        description="Devices of the building itself (main meters, public areas), not of a room."
    )


class _Room(BaseModel):
    building: str
    id: str
    floor: int
    name: str
    capacity: int = Field(description="Beds.")
    occupants: int


class RoomSummary(_Room):
    devices: int


class RoomDetail(_Room):
    devices: list[DeviceOut]


def _name(building: Building, room: Room, lang: str) -> str:
    return room.name.get(lang) if room.name else f"{building.name.get(lang)} {room.id}"


def place_routes(ctrl: Controller) -> APIRouter:
    router = APIRouter(prefix="/api", tags=["places"], responses=responses(401, 403, 503))
    site = ctrl.site

    def by_place() -> Places:
        places: Places = {}
        for device in site.devices.values():
            places.setdefault((device.building, device.room), []).append(device)
        return places

    def device_out(device: Device, lang: str) -> DeviceOut:
        profile = site.profile_of(device)
        return DeviceOut(
            id=device.id,
            name=device.name.get(lang) if device.name else device.id,
            profile=device.profile,
            manufacturer=profile.manufacturer,
            model=profile.model,
            building=device.building,
            room=device.room,
            area=device.area,
            circuit=device.circuit.value if device.circuit else None,
            available=ctrl.states.is_available(device.id),
            states=[state_out(ctrl, e, lang) for e in ctrl.registry.of_device(device.id)],
        )

    def building_of(building_id: str, caller: Caller) -> Building:
        found = site.buildings.get(building_id)
        if found is None:
            raise HTTPException(404, f"unknown building {building_id!r}")
        caller.check_building(building_id)
        return found

    def summary(building: Building, places: Places, lang: str) -> BuildingSummary:
        return BuildingSummary(
            id=building.id,
            kind=building.kind.value,
            name=building.name.get(lang),
            floors=building.floors,
            rooms=len(building.rooms),
            capacity=sum(r.capacity for r in building.rooms),
            occupants=sum(r.occupancy for r in building.rooms),
            devices=sum(len(v) for (b, _), v in places.items() if b == building.id),
        )

    @router.get("/buildings")
    async def buildings(
        caller: Viewer, paging: Paging, lang: Lang = "zh", kind: BuildingKind | None = None
    ) -> Page[BuildingSummary]:
        """The buildings this account may see, in site order."""
        places = by_place()
        found = [
            b
            for b in site.buildings.values()
            if caller.account.sees(b.id) and (kind is None or b.kind is kind)
        ]
        return paginate(found, paging, lambda b: summary(b, places, lang))

    @router.get("/buildings/{building_id}", responses=responses(403, 404))
    async def building(building_id: str, caller: Viewer, lang: Lang = "zh") -> BuildingDetail:
        """One building, with the devices that belong to it rather than to a room."""
        found = building_of(building_id, caller)
        places = by_place()
        own = [device_out(d, lang) for d in places.get((found.id, None), [])]
        return BuildingDetail(**summary(found, places, lang).model_dump(), building_devices=own)

    @router.get("/rooms", responses=responses(403, 404))
    async def rooms(
        caller: Viewer,
        paging: Paging,
        lang: Lang = "zh",
        building: str | None = None,
        floor: Annotated[int | None, Query(ge=0, le=200)] = None,
    ) -> Page[RoomSummary]:
        """Rooms of every building this account sees (or of one ``building``), by floor."""
        if building is not None:
            chosen = [building_of(building, caller)]
        else:
            chosen = [b for b in site.buildings.values() if caller.account.sees(b.id)]
        if floor is not None and building is not None and floor > chosen[0].floors:
            problem = FieldError(
                loc=["query", "floor"],
                msg=f"{building} has floors 0–{chosen[0].floors}",
                type="out_of_range",
                allowed={"min": 0, "max": chosen[0].floors},
            )
            raise ApiError(422, problem.msg, [problem])
        places = by_place()
        found = [(b, r) for b in chosen for r in b.rooms if floor is None or r.floor == floor]
        return paginate(
            found,
            paging,
            lambda br: RoomSummary(
                building=br[0].id,
                id=br[1].id,
                floor=br[1].floor,
                name=_name(br[0], br[1], lang),
                capacity=br[1].capacity,
                occupants=br[1].occupancy,
                devices=len(places.get((br[0].id, br[1].id), [])),
            ),
        )

    @router.get("/rooms/{building_id}/{room_id}", responses=responses(403, 404))
    async def room(building_id: str, room_id: str, caller: Viewer, lang: Lang = "zh") -> RoomDetail:
        """One room: beds, occupants, and every device in it with its states."""
        found = building_of(building_id, caller)
        chosen = next((r for r in found.rooms if r.id == room_id), None)
        if chosen is None:
            raise HTTPException(404, f"no room {room_id!r} in {building_id}")
        devices = by_place().get((found.id, chosen.id), [])
        return RoomDetail(
            building=found.id,
            id=chosen.id,
            floor=chosen.floor,
            name=_name(found, chosen, lang),
            capacity=chosen.capacity,
            occupants=chosen.occupancy,
            devices=[device_out(d, lang) for d in devices],
        )

    return router
