"""Request and response bodies of the API. Field names are the wire contract of the web app."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "CommandRequest",
    "CommandResponse",
    "EntityOut",
    "SiteOut",
    "StateOut",
]

Value = float | int | str | bool | None


class EntityOut(BaseModel):
    entity_id: str
    device_id: str
    name: str
    kind: str
    unit: str | None
    device_class: str
    state_class: str
    writable: bool
    tags: dict[str, str]
    options: list[str] | None = Field(
        default=None, description="The words the state can be (on/off points: off, on)."
    )
    write_options: list[str] | None = Field(
        default=None, description="The words a command may send (writable word points)."
    )
    min: float | None = Field(default=None, description="Lowest value a command may send.")
    max: float | None = Field(default=None, description="Highest value a command may send.")


class StateOut(BaseModel):
    """A state with what a reader needs to show it: name, unit and whether it is live."""

    entity_id: str
    value: Value = Field(description='On/off points say "on" or "off".')
    timestamp: float | None = Field(description="Epoch seconds of the reading.")
    quality: str | None
    available: bool
    device_id: str = ""
    name: str = ""
    unit: str | None = None


class CommandRequest(BaseModel):
    """A manual command. ``reason`` is required: every command is audited."""

    model_config = ConfigDict(extra="forbid")

    entity_id: str = Field(min_length=1, max_length=200)
    value: float | int | bool | str
    reason: str = Field(min_length=1, max_length=500)


class CommandResponse(BaseModel):
    entity_id: str
    value: Value
    ok: bool
    confirmed_value: Value = None
    error: str | None = None


class BuildingOut(BaseModel):
    id: str
    kind: str
    name: str
    floors: int
    rooms: int
    devices: int


class SiteOut(BaseModel):
    campus: str
    name: str
    timezone: str
    buildings: list[BuildingOut]
    devices: int
    entities: int
    status: dict[str, Any] = {}
