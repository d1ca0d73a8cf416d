"""What a policy decides: wants (a point must read a value), alarms, memory and a wake-up time.

Decisions are declarative. A unit's decision lists everything the policy wants of it *now*;
the engine diffs it against the previous decision, so a want that disappears is a release (and
may restore the point), and an alarm that disappears is cleared. Nothing here does I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple, Protocol

from controller.core.entity import Quality
from controller.core.events import State, Value

__all__ = [
    "IDLE",
    "Alarm",
    "Decision",
    "PlannedCommand",
    "Severity",
    "StateReader",
    "Unit",
    "Want",
    "good_value",
]

Severity = Literal["info", "warning", "critical"]


class StateReader(Protocol):
    """Current states by entity id: the StateStore, or a plain dict in tests and dry runs."""

    def get(self, entity_id: str, /) -> State | None: ...


def good_value(state: State | None) -> Value:
    """The value of a state that can be trusted (available, good quality), else None."""
    if state is None or not state.available or state.quality is not Quality.GOOD:
        return None
    return state.value


@dataclass(frozen=True, slots=True)
class Unit:
    """What a policy evaluates as one: an AC, a socket circuit, a room, a valve.

    ``devices`` are the devices an override must cover to exempt the unit; ``watch`` are the
    entities whose changes make the engine evaluate the unit again.
    """

    key: str
    devices: tuple[str, ...]
    watch: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Want:
    """``entity_id`` must read ``value``; to get there, write ``command`` to ``command_entity``.

    When the engine first takes hold of a point that does not already read ``value``, it
    remembers ``restore``/``restore_command`` and writes them back once no policy wants the
    point any more (a curfew switches sockets back on; an AC window leaves units off).
    """

    entity_id: str
    value: Value
    command_entity: str
    command: Value
    policy_id: str
    priority: int
    reason: str
    restore: Value = None
    restore_command: Value = None


@dataclass(frozen=True, slots=True)
class Alarm:
    """A condition staff should see, active for as long as decisions keep listing it."""

    key: str
    kind: str
    severity: Severity
    message_zh: str
    message_en: str
    policy_id: str
    entity_id: str | None = None
    evidence: Mapping[str, Any] = field(default_factory=dict)


class Decision(NamedTuple):
    """A unit's wants and alarms now, its new memory, and when to look at it again.

    A NamedTuple: immutable and cheap to build (a frozen dataclass costs 4× more, and
    the engine builds one per unit it evaluates).
    """

    wants: tuple[Want, ...] = ()
    alarms: tuple[Alarm, ...] = ()
    memory: Any = None
    wake_at: float | None = None


IDLE = Decision()
"""Nothing wanted, no alarm, no memory, no wake-up: most units most of the time."""


@dataclass(frozen=True, slots=True)
class PlannedCommand:
    """A write the engine decided to make (or, in a dry run, would make)."""

    entity_id: str
    command_entity: str
    value: Value
    policy_id: str
    reason: str
    restore: bool = False
    expect: Value = None
    """What ``entity_id`` should read once the command took effect."""
