"""InfluxDB line protocol for readings and hourly statistics, without per-point objects.

Every entity's series key (measurement plus sorted, escaped tags) is computed once, at its
first reading; formatting a reading then costs one f-string with the field value and a
millisecond timestamp. Field names depend on the value's type so one measurement never mixes
types in a field: ``value`` (float), ``state`` (boolean) and ``label`` (string, enum words such
as "cool").
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import TypeVar, overload

from controller.core import Entity, EntityRegistry, Event, Quality, StateChanged
from controller.core.events import Value

__all__ = [
    "CONSUMPTION_MEASUREMENT",
    "LineFormatter",
    "SeriesKey",
    "SeriesKeys",
    "escape_measurement",
    "escape_tag",
    "series_key",
    "series_tags",
    "string_field",
    "to_ms",
]

_T = TypeVar("_T")

CONSUMPTION_MEASUREMENT = "consumption_hourly"
"""Measurement of the hourly consumption statistics (fields ``consumption``, ``held_out`` and
``partial``)."""

_MEASUREMENT_ESCAPES = str.maketrans({",": r"\,", " ": r"\ ", "\n": r"\ ", "\r": r"\ "})
_TAG_ESCAPES = str.maketrans({",": r"\,", "=": r"\=", " ": r"\ ", "\n": r"\ ", "\r": r"\ "})
_STRING_ESCAPES = str.maketrans({'"': r"\"", "\\": "\\\\", "\n": " ", "\r": " "})


def escape_measurement(name: str) -> str:
    """Escape a measurement name (commas and spaces; newlines cannot be carried)."""
    return name.translate(_MEASUREMENT_ESCAPES)


def escape_tag(text: str) -> str:
    """Escape a tag key, tag value or field key (commas, equals signs and spaces)."""
    return text.translate(_TAG_ESCAPES)


def string_field(text: str) -> str:
    """A string field value, quoted, with quotes and backslashes escaped."""
    return f'"{text.translate(_STRING_ESCAPES)}"'


def to_ms(timestamp: float) -> int:
    """Epoch seconds to the integer milliseconds we write (precision ``ms``)."""
    return round(timestamp * 1000)


def series_tags(entity: Entity) -> dict[str, str]:
    """The tags written for an entity: its location/classification tags and its point key."""
    return {**entity.tags, "point": entity.point_key}


def series_key(measurement: str, tags: Mapping[str, str]) -> str:
    """``measurement,tag1=v1,tag2=v2`` with tags sorted by key and empty values left out."""
    return escape_measurement(measurement) + _tag_part(tags, None)


def _tag_part(tags: Mapping[str, str], escaped: dict[tuple[str, str], str] | None) -> str:
    """``,tag1=v1,tag2=v2`` (sorted, empty values left out); ``escaped`` caches each pair's
    escaped text across entities, which repeat most of theirs (campus, building, profile)."""
    parts = [""]
    for pair in sorted(tags.items()):
        if not pair[1]:
            continue
        text = escaped.get(pair) if escaped is not None else None
        if text is None:
            text = f"{escape_tag(pair[0])}={escape_tag(pair[1])}"
            if escaped is not None:
                escaped[pair] = text
        parts.append(text)
    return ",".join(parts) if len(parts) > 1 else ""


@dataclass(frozen=True, slots=True)
class SeriesKey:
    """The escaped series key of one entity for its readings and for its hourly statistics.

    Only the readings' key is kept: every reading needs it, while the statistics' key (the
    same tags under ``consumption_hourly``) and the tag pairs are needed once an hour and only
    for counters, so they are derived on use (half a million entities on a big campus).
    """

    entity: Entity
    reading: str

    @classmethod
    def of(cls, entity: Entity, escaped: dict[tuple[str, str], str] | None = None) -> SeriesKey:
        """``escaped``: tag pairs already escaped for other entities, to reuse."""
        return cls(
            entity, escape_measurement(entity.kind.value) + _tag_part(series_tags(entity), escaped)
        )

    @property
    def entity_id(self) -> str:
        return self.entity.entity_id

    @property
    def consumption(self) -> str:
        """The key of the entity's hourly statistics: its tags under ``consumption_hourly``."""
        measurement = escape_measurement(self.entity.kind.value)
        return CONSUMPTION_MEASUREMENT + self.reading[len(measurement) :]

    @property
    def tags(self) -> tuple[tuple[str, str], ...]:
        """The written tags as sorted pairs (empty values included)."""
        return tuple(sorted(series_tags(self.entity).items()))


class SeriesKeys(Mapping[str, SeriesKey]):
    """Every entity's series key, made the first time it is asked for.

    A campus has half a million entities: making all their keys at start-up took longer than
    the rest of the start-up together, while each is needed only from the entity's first
    reading on (spread over the first scan). Iterating gives every known entity id.
    """

    def __init__(self, entities: Iterable[Entity]) -> None:
        self._entities: EntityRegistry | dict[str, Entity] = (
            entities if isinstance(entities, EntityRegistry) else {e.entity_id: e for e in entities}
        )
        self._made: dict[str, SeriesKey] = {}
        self._escaped: dict[tuple[str, str], str] = {}
        """Tag pairs escaped so far, reused by the next entities' keys."""

    def made(self, entity_id: str) -> SeriesKey | None:
        """The entity's key (made now if it is the first time), None for an unknown entity."""
        key = self._made.get(entity_id)
        if key is None:
            entity = self._entities.get(entity_id)
            if entity is None:
                return None
            key = self._made[entity_id] = SeriesKey.of(entity, self._escaped)
        return key

    @overload
    def get(self, key: str, /) -> SeriesKey | None: ...
    @overload
    def get(self, key: str, /, default: SeriesKey | _T) -> SeriesKey | _T: ...
    def get(self, key: str, /, default: object = None) -> object:
        found = self.made(key)
        return default if found is None else found

    def __getitem__(self, entity_id: str) -> SeriesKey:
        key = self.made(entity_id)
        if key is None:
            raise KeyError(entity_id)
        return key

    def __contains__(self, entity_id: object) -> bool:
        return entity_id in self._entities

    def __iter__(self) -> Iterator[str]:
        entities = self._entities
        if isinstance(entities, EntityRegistry):
            return (e.entity_id for e in entities)
        return iter(entities)

    def __len__(self) -> int:
        return len(self._entities)


class LineFormatter:
    """Formats readings and hourly statistics of known entities as line protocol."""

    def __init__(self, entities: Iterable[Entity]) -> None:
        # One series key an entity, made on its first reading; the line holds the key's very
        # string (no per-entity copies with a field name appended: that was 4 strings of ~250
        # bytes an entity, most for types the entity never has).
        self.keys = SeriesKeys(entities)
        self._made = self.keys._made
        self._make = self.keys.made
        self._last_ts = math.nan
        self._last_ms = ""

    def _series(self, entity_id: str) -> str | None:
        key = self._made.get(entity_id) or self._make(entity_id)
        return None if key is None else key.reading

    def _ms(self, timestamp: float) -> str:
        # a device's snapshot shares one timestamp: convert it once
        if timestamp != self._last_ts:
            self._last_ts = timestamp
            self._last_ms = str(round(timestamp * 1000))
        return self._last_ms

    def reading(  # noqa: PLR0911 (one return per value type keeps the hot path flat)
        self, entity_id: str, value: Value, timestamp: float
    ) -> str | None:
        """One line for a reading, or None for unknown entities and unrepresentable values."""
        if value.__class__ is float:
            series = self._series(entity_id)
            if series is None or not math.isfinite(value):
                return None
            return f"{series} value={value!r} {self._ms(timestamp)}"
        if value.__class__ is bool:
            series = self._series(entity_id)
            if series is None:
                return None
            return f"{series} state={'true' if value else 'false'} {self._ms(timestamp)}"
        if isinstance(value, int | float):  # int, or a float/int subclass
            return self.reading(entity_id, float(value), timestamp)
        if isinstance(value, str):
            series = self._series(entity_id)
            if series is None:
                return None
            return f"{series} label={string_field(value)} {self._ms(timestamp)}"
        return None

    def format_events(self, events: Iterable[Event], out: list[str]) -> int:
        """Append a line for every GOOD, available reading among ``StateChanged`` events.

        The recorder's hot loop: float readings, by far the most common, are formatted inline
        (one dict lookup and one f-string); other types go through ``reading``. Returns how
        many readings could not be recorded (bad, unavailable, empty or unrepresentable).
        """
        made = self._made
        good = Quality.GOOD
        isfinite = math.isfinite
        last_ts = math.nan
        stamp = ""
        skipped = 0
        for event in events:
            if event.__class__ is not StateChanged:
                continue
            new = event.new
            value = new.value
            if new.quality is not good or not new.available:
                skipped += 1
                continue
            ts = new.timestamp
            if ts != last_ts:
                last_ts = ts
                stamp = str(round(ts * 1000))
            if value.__class__ is float:
                key = made.get(event.entity_id) or self._make(event.entity_id)
                if key is not None and isfinite(value):
                    out.append(f"{key.reading} value={value!r} {stamp}")
                    continue
                skipped += 1
                continue
            line = self.reading(event.entity_id, value, ts)
            if line is None:
                skipped += 1
            else:
                out.append(line)
        return skipped

    def consumption(
        self,
        entity_id: str,
        hour: float,
        consumption: float,
        held_out: float,
        partial: bool = False,
    ) -> str | None:
        """One ``consumption_hourly`` line, stamped at the start of the hour.

        ``partial`` is an integer field (1 while the hour runs, 0 once it is complete) so
        InfluxQL's ``max`` can tell whether a summed period is still growing; the complete row
        overwrites the partial one (same series and time).
        """
        key = self.keys.get(entity_id)
        if key is None:
            return None
        return (
            f"{key.consumption} consumption={float(consumption)!r},"
            f"held_out={float(held_out)!r},partial={int(partial)}i {to_ms(hour)}"
        )
