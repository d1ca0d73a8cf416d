"""The entity/state core: clock, entities, state store and event bus."""

from .bus import BusClosed, EventBus, Overflow, Subscription
from .clock import Clock, FakeClock, ScaledClock, SystemClock
from .commands import CommandError, CommandHandler, CommandResult, CommandRouter
from .entity import Entity, Quality, entity_id
from .events import (
    AlarmCleared,
    AlarmRaised,
    AvailabilityChanged,
    CommandCompleted,
    Event,
    State,
    StateChanged,
    SubscriberLagging,
)
from .registry import EntityRegistry
from .state import StateStore

__all__ = [
    "AlarmCleared",
    "AlarmRaised",
    "AvailabilityChanged",
    "BusClosed",
    "Clock",
    "CommandCompleted",
    "CommandError",
    "CommandHandler",
    "CommandResult",
    "CommandRouter",
    "Entity",
    "EntityRegistry",
    "Event",
    "EventBus",
    "FakeClock",
    "Overflow",
    "Quality",
    "ScaledClock",
    "State",
    "StateChanged",
    "StateStore",
    "SubscriberLagging",
    "Subscription",
    "SystemClock",
    "entity_id",
]
