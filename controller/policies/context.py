"""The live state the policy engine's jobs share: one object, so each job reads the same core.

The running component, the command guard, policy administration, staff actions and the
read-only views each take an ``EngineContext``. ``core`` is replaced whenever a policy is
created, edited or removed, so jobs read ``ctx.core`` at each call and never keep their own.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from controller.app import Controller
from controller.calendar import SiteCalendar
from controller.core.clock import Clock
from controller.core.state import StateStore

from .core import EngineCore
from .journal import Journal
from .scope import SiteIndex
from .settings import EngineSettings
from .store import PolicyStore

__all__ = ["EngineContext"]


@dataclass(eq=False)
class EngineContext:
    """The controller, clock, site index, store, journal and the current ``EngineCore``."""

    controller: Controller
    settings: EngineSettings
    calendar: SiteCalendar
    index: SiteIndex
    store: PolicyStore
    journal: Journal
    core: EngineCore
    wakeup: asyncio.Event = field(default_factory=asyncio.Event)
    """Set it to have the evaluation loop run soon (after any change to the core's state)."""

    @property
    def clock(self) -> Clock:
        return self.controller.clock

    @property
    def states(self) -> StateStore:
        return self.controller.states

    def wake(self) -> None:
        self.wakeup.set()
