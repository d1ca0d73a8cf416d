"""What a report covers: a span of local dates and a scope (campus, building, floor, room).

Parsed from the short forms staff type (``2026-11``, ``2026-09-01..2026-12-31``,
``building:dorm-1``, ``floor:dorm-1/3``, ``room:dorm-1/101``, ``canteen:canteen-1``) with
``ReportInputError`` naming the field, so the CLI and the API answer bad input the same way.
"""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from dataclasses import dataclass
from typing import Literal

from controller.config import BuildingKind, LoadedSite

from .errors import ReportInputError

__all__ = ["DateSpan", "Scope", "parse_scope", "parse_span"]

_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
ScopeKind = Literal["campus", "building", "floor", "room", "canteen"]


@dataclass(frozen=True, slots=True)
class DateSpan:
    """Local dates ``first``..``last`` inclusive."""

    first: dt.date
    last: dt.date

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1

    def dates(self) -> list[dt.date]:
        return [self.first + dt.timedelta(days=i) for i in range(self.days)]

    def bounds(self, tz: zoneinfo.ZoneInfo) -> tuple[dt.datetime, dt.datetime]:
        """[start, end) as aware datetimes: local midnight of ``first`` to after ``last``."""
        start = dt.datetime.combine(self.first, dt.time(), tz)
        end = dt.datetime.combine(self.last + dt.timedelta(days=1), dt.time(), tz)
        return start, end

    def year_before(self) -> DateSpan:
        """The same dates a year earlier (29 February becomes the 28th)."""
        return DateSpan(_year_back(self.first), _year_back(self.last))

    def label(self) -> str:
        return f"{self.first.isoformat()}..{self.last.isoformat()}"


def _year_back(day: dt.date) -> dt.date:
    try:
        return day.replace(year=day.year - 1)
    except ValueError:
        return day.replace(year=day.year - 1, day=28)


def _date(text: str, field: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise ReportInputError(field, f"{text!r} is not a date (YYYY-MM-DD)") from None


def parse_span(text: str, field: str = "period") -> DateSpan:
    """``YYYY-MM`` (a calendar month) or ``YYYY-MM-DD..YYYY-MM-DD`` (inclusive)."""
    text = text.strip()
    month = _MONTH.match(text)
    if month:
        year, number = int(month.group(1)), int(month.group(2))
        if not 1 <= number <= 12:
            raise ReportInputError(field, f"{text!r}: month must be 01–12")
        first = dt.date(year, number, 1)
        following = dt.date(year + number // 12, number % 12 + 1, 1)
        return DateSpan(first, following - dt.timedelta(days=1))
    if ".." in text:
        left, _, right = text.partition("..")
        span = DateSpan(_date(left, field), _date(right, field))
        if span.last < span.first:
            raise ReportInputError(field, f"{text!r} ends before it starts")
        if span.days > 400:
            raise ReportInputError(field, f"{text!r} is longer than 400 days")
        return span
    raise ReportInputError(field, f"{text!r}: use YYYY-MM or YYYY-MM-DD..YYYY-MM-DD")


@dataclass(frozen=True, slots=True)
class Scope:
    """Which part of the site a report covers; ``building``/``floor``/``room`` narrow it."""

    kind: ScopeKind = "campus"
    building: str | None = None
    floor: int | None = None
    room: str | None = None

    @property
    def text(self) -> str:
        if self.kind == "campus":
            return "campus"
        if self.kind == "floor":
            return f"floor:{self.building}/{self.floor}"
        if self.kind == "room":
            return f"room:{self.building}/{self.room}"
        return f"{self.kind}:{self.building}"

    def holds(self, building: str, floor: int | None, room: str | None) -> bool:
        """Whether a place (a device's building, floor and room) lies in the scope."""
        if self.kind == "campus":
            return True
        if building != self.building:
            return False
        if self.kind == "floor":
            return floor == self.floor
        if self.kind == "room":
            return room == self.room
        return True


def parse_scope(text: str, site: LoadedSite, field: str = "scope") -> Scope:
    """``campus``, ``building:ID``, ``canteen:ID``, ``floor:ID/N`` or ``room:ID/ROOM``."""
    text = text.strip()
    if text == "campus":
        return Scope()
    kind, _, rest = text.partition(":")
    if kind not in ("building", "floor", "room", "canteen") or not rest:
        raise ReportInputError(
            field, f"{text!r}: use campus, building:ID, canteen:ID, floor:ID/N or room:ID/ROOM"
        )
    building_id, _, inner = rest.partition("/")
    building = site.buildings.get(building_id)
    if building is None:
        raise ReportInputError(field, f"unknown building {building_id!r}")
    if kind in ("building", "canteen"):
        if inner:
            raise ReportInputError(field, f"{text!r}: {kind}:ID takes no /part")
        if kind == "canteen" and building.kind is not BuildingKind.CANTEEN:
            raise ReportInputError(field, f"{building_id!r} is not a canteen")
        return Scope("canteen" if kind == "canteen" else "building", building_id)
    if kind == "floor":
        if not inner.isdigit() or not 0 <= int(inner) <= building.floors:
            raise ReportInputError(field, f"{text!r}: floor must be 0–{building.floors}")
        return Scope("floor", building_id, floor=int(inner))
    room = next((r for r in building.rooms if r.id == inner), None)
    if room is None:
        raise ReportInputError(field, f"{building_id!r} has no room {inner!r}")
    return Scope("room", building_id, floor=room.floor, room=room.id)
