"""Policy declarations: scope, calendar windows and the typed parameters of every policy type.

``PolicyConfig`` is a union discriminated on ``type``, so a typo or an out-of-range value in a
site's ``policies:`` section is reported by the loader with file, line and column. This module
is pure data: the config loader, the engine and the API all import it, and it imports nothing
above ``controller.config``. Whether the places a policy names exist is a cross-check
(``controller.config.checks``), since it needs the whole site.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any, Literal

from pydantic import (
    BeforeValidator,
    Field,
    PlainSerializer,
    TypeAdapter,
    WithJsonSchema,
    model_validator,
)

from .calendar import DayType
from .common import I18nName, Slug, StrictModel
from .site import BuildingKind, Circuit

__all__ = [
    "AcKindLimits",
    "AcLimitsPolicy",
    "AcSeason",
    "AcWindowsPolicy",
    "CanteenHoursPolicy",
    "ClockTime",
    "CurfewPolicy",
    "DayRule",
    "DelayValvesPolicy",
    "LeakPolicy",
    "NightLeakPolicy",
    "OverloadPolicy",
    "PolicyBase",
    "PolicyConfig",
    "PowerRange",
    "QuotaPolicy",
    "Scope",
    "ScopeFilter",
    "SignatureRule",
    "StrictLeakRule",
    "SupplyWindowsPolicy",
    "WhitelistEntry",
    "Window",
    "format_clock_time",
    "policy_adapter",
]

DAY = 86_400
_TIME_RE = re.compile(r"^(\d{1,2}):(\d{2})(?::(\d{2}))?$")


def _clock_time(value: Any) -> int:
    """Seconds after midnight from ``"23:00"``, ``"05:50:30"``, ``"24:00"`` or a time object."""
    if isinstance(value, bool):
        raise ValueError("a time of day like '23:00'")  # noqa: TRY004 (pydantic wants ValueError)
    if isinstance(value, int):
        # YAML 1.1 reads an unquoted 23:00 as the base-60 number 1380 (minutes after midnight).
        if 0 <= value <= 1440:
            return value * 60
        raise ValueError("write times of day in quotes, e.g. '23:00:30'")
    if isinstance(value, dt.time):
        return value.hour * 3600 + value.minute * 60 + value.second
    if isinstance(value, str) and (match := _TIME_RE.match(value.strip())):
        hours, minutes, seconds = (int(g) if g else 0 for g in match.groups())
        if (hours, minutes, seconds) == (24, 0, 0):
            return DAY
        if hours < 24 and minutes < 60 and seconds < 60:
            return hours * 3600 + minutes * 60 + seconds
    raise ValueError(f"{value!r} is not a time of day like '23:00' or '05:50:30'")


def format_clock_time(seconds: int) -> str:
    """``82800`` → ``"23:00"``; seconds are shown only when not zero."""
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours:02d}:{minutes:02d}" + (f":{secs:02d}" if secs else "")


def _end_time(value: Any) -> int:
    """As ``_clock_time``, but midnight as an end means the end of the day."""
    return _clock_time(value) or DAY


_TIME_SCHEMA = WithJsonSchema({"type": "string", "pattern": r"^\d{1,2}:\d{2}(:\d{2})?$"})
ClockTime = Annotated[
    int,
    BeforeValidator(_clock_time),
    PlainSerializer(format_clock_time, return_type=str),
    _TIME_SCHEMA,
]
"""A local time of day, stored as seconds after midnight."""
EndClockTime = Annotated[
    int,
    BeforeValidator(_end_time),
    PlainSerializer(format_clock_time, return_type=str),
    _TIME_SCHEMA,
]
"""The end of a window: ``"00:00"`` and ``"24:00"`` both mean midnight at the end of the day."""

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
Seconds = Annotated[float, Field(ge=0, le=30 * DAY)]
Fraction = Annotated[float, Field(gt=0, lt=1)]


class DayRule(StrictModel):
    """Which dates qualify: weekdays and day types (workday, holiday, teaching, vacation...).

    Empty lists mean "any". A date qualifies when its weekday is listed, it has at least one of
    the ``include`` types and none of the ``exclude`` types.
    """

    weekdays: list[Weekday] = []
    include: list[DayType] = []
    exclude: list[DayType] = []

    @property
    def is_any(self) -> bool:
        return not (self.weekdays or self.include or self.exclude)


class Window(StrictModel):
    """A daily time window in local time, e.g. ``{start: "23:00", end: "05:50"}``.

    A window whose end is not after its start crosses midnight and belongs to the day it starts
    on; ``days_of: end`` checks ``days`` against the date it ends on instead (a curfew on "nights
    before a working day" is ``days: {include: [workday]}, days_of: end``).
    """

    start: ClockTime
    end: EndClockTime
    days: DayRule = DayRule()
    days_of: Literal["start", "end"] = "start"

    @model_validator(mode="after")
    def _valid(self) -> Window:
        if self.start >= DAY:
            raise ValueError("a window cannot start at 24:00 (use '00:00')")
        if self.start == self.end:
            raise ValueError("start and end are equal: use '00:00'–'24:00' for a whole day")
        return self

    @property
    def crosses_midnight(self) -> bool:
        return self.end <= self.start

    def label(self) -> str:
        return f"{format_clock_time(self.start)}–{format_clock_time(self.end)}"


_REF_RE = r"^[A-Za-z0-9][A-Za-z0-9_\-]*/[A-Za-z0-9][A-Za-z0-9_\-]*$"
PlaceRef = Annotated[str, Field(pattern=_REF_RE)]
"""``building/room`` or ``building/area``, e.g. ``dorm-1/305`` (room ids repeat per building)."""


class ScopeFilter(StrictModel):
    """Devices selected by place and classification. Fields combine with AND, list items with OR."""

    buildings: list[Slug] = []
    building_kinds: list[BuildingKind] = []
    floors: list[int] = []
    rooms: list[PlaceRef] = []
    areas: list[PlaceRef] = []
    devices: list[str] = []
    tags: list[Slug] = []
    circuits: list[Circuit] = []
    profiles: list[str] = []

    @property
    def is_empty(self) -> bool:
        return not any(
            (
                self.buildings,
                self.building_kinds,
                self.floors,
                self.rooms,
                self.areas,
                self.devices,
                self.tags,
                self.circuits,
                self.profiles,
            )
        )


class Scope(ScopeFilter):
    """Where a policy applies; empty means the whole campus. ``exclude`` removes devices again."""

    exclude: ScopeFilter | None = None


class PolicyBase(StrictModel):
    """Fields every policy has. ``priority`` decides between policies driving the same point."""

    id: Slug
    enabled: bool = True
    name: I18nName | None = None
    description: str | None = None
    scope: Scope = Scope()
    priority: Annotated[int, Field(ge=0, le=1000)] | None = None


CoolMin = Annotated[float, Field(ge=16, le=32)]
HeatMax = Annotated[float, Field(ge=10, le=30)]
Month = Annotated[int, Field(ge=1, le=12)]


class AcKindLimits(StrictModel):
    """The limits for one building kind, where they differ from the policy's."""

    cool_min_c: CoolMin | None = None
    heat_max_c: HeatMax | None = None


class AcSeason(StrictModel):
    """In ``months`` only ``modes`` may run (a unit in ``auto`` counts as what it is doing).

    A unit found in another mode is set to ``set_mode`` or, without one, switched off; commands
    to another mode are refused. Months in no season are free.
    """

    name: str | None = None
    months: Annotated[list[Month], Field(min_length=1)]
    modes: Annotated[list[str], Field(min_length=1)]
    set_mode: str | None = None
    building_kinds: list[BuildingKind] = Field(
        default=[], description="The building kinds the season holds in (default all)."
    )

    @model_validator(mode="after")
    def _set_mode_allowed(self) -> AcSeason:
        if self.set_mode is not None and self.set_mode not in self.modes:
            raise ValueError(f"set_mode {self.set_mode!r} is not one of modes {self.modes}")
        if len(set(self.months)) != len(self.months):
            raise ValueError(f"a month is listed twice: {self.months}")
        return self


class AcLimitsPolicy(PolicyBase):
    """Cooling setpoints never below ``cool_min_c``, heating never above ``heat_max_c``."""

    type: Literal["ac_limits"]
    cool_min_c: CoolMin = 26.0
    heat_max_c: HeatMax = 20.0
    cooling_modes: list[str] = ["cool", "dry"]
    heating_modes: list[str] = ["heat"]
    auto_modes: list[str] = Field(
        default=["auto"],
        description="Modes that cool or heat as the unit decides: held to the limit of what "
        "they are doing (the gateway's effective mode, else the season, else the room "
        "temperature against the setpoint).",
    )
    only_when_on: bool = True
    schedule: list[Window] = Field(default=[], description="When limits apply (default always).")
    by_kind: dict[BuildingKind, AcKindLimits] = Field(
        default={}, description="Limits per building kind (dorms, teaching buildings)."
    )
    exempt: list[ScopeFilter] = Field(
        default=[],
        description="Devices matching any of these are left alone (a clinic, a lab).",
    )
    seasons: list[AcSeason] = Field(default=[], description="Seasonal mode locks.")
    lock_remote_s: Seconds | None = Field(
        default=None,
        description="Lock the unit's remote (a gateway's remote-control disablement) while it "
        "is out of limits and for this long after the last correction; None: never.",
    )

    @model_validator(mode="after")
    def _seasons_apart(self) -> AcLimitsPolicy:
        if any(f.is_empty for f in self.exempt):
            raise ValueError("an empty exempt filter would exempt every unit")
        taken: dict[tuple[str, int], int] = {}
        kinds = [k.value for k in BuildingKind]
        for i, season in enumerate(self.seasons):
            for kind in [k.value for k in season.building_kinds] or kinds:
                for month in season.months:
                    other = taken.setdefault((kind, month), i)
                    if other != i:
                        raise ValueError(
                            f"seasons {other} and {i} both hold month {month} in {kind} buildings"
                        )
        return self


class AcWindowsPolicy(PolicyBase):
    """AC units allowed only inside ``allowed`` windows on ``days``; switched off outside."""

    type: Literal["ac_windows"]
    allowed: Annotated[list[Window], Field(min_length=1)]
    days: DayRule = Field(default=DayRule(), description="Days the windows restrict (else free).")
    lock_remote: bool = Field(
        default=False,
        description="Also lock the remote where the gateway can (unlocked when a window opens).",
    )


class SupplyWindowsPolicy(PolicyBase):
    """Hot-water and shower valves work only inside ``supply`` windows."""

    type: Literal["supply_windows"]
    supply: Annotated[list[Window], Field(min_length=1)]
    close_open_valves: bool = True


class CurfewPolicy(PolicyBase):
    """Socket relays off inside the curfew ``windows``, switched back on when they end."""

    type: Literal["curfew"]
    windows: Annotated[list[Window], Field(min_length=1)]
    restore: bool = True


class QuotaPolicy(PolicyBase):
    """A monthly allowance per room; warnings at ``warn_at``, then flag or cut at 100 %."""

    type: Literal["quota"]
    resource: Literal["electricity", "water"]
    per_bed: Annotated[float, Field(gt=0)] | None = Field(
        default=None, description="Allowance per bed (kWh or m³); × the room's capacity."
    )
    per_room: Annotated[float, Field(gt=0)] | None = Field(
        default=None, description="Allowance per room (kWh or m³)."
    )
    period: Literal["month"] = "month"
    warn_at: list[Fraction] = [0.8]
    action: Literal["flag", "cut"] = "flag"
    meter_circuits: list[Circuit] | None = Field(
        default=None, description="Meters counted (default sockets, or cold and hot water)."
    )
    cut_circuits: list[Circuit] | None = Field(
        default=None, description="What a cut switches off (default sockets, or hot water)."
    )

    @model_validator(mode="after")
    def _one_allowance(self) -> QuotaPolicy:
        if (self.per_bed is None) == (self.per_room is None):
            raise ValueError("give exactly one of per_bed and per_room")
        return self


class StrictLeakRule(StrictModel):
    """A stricter leak rule at night (``windows``) and, if ``vacation``, in vacations."""

    threshold_lpm: Annotated[float, Field(gt=0)]
    duration_min: Annotated[float, Field(gt=0, le=24 * 60)]
    windows: list[Window] = []
    vacation: bool = True


class LeakPolicy(PolicyBase):
    """Continuous flow above a threshold for too long → close the zone valve and alarm."""

    type: Literal["leak"]
    threshold_lpm: Annotated[float, Field(gt=0)]
    duration_min: Annotated[float, Field(gt=0, le=24 * 60)]
    strict: StrictLeakRule | None = None
    close_valve: bool = True
    hysteresis: Annotated[float, Field(ge=0, lt=1)] = 0.1


class NightLeakPolicy(PolicyBase):
    """Meters without a flow register: water used in each of ``hours`` consecutive night hours
    above ``min_l_per_hour`` → the leak alarm (and the zone valve closed)."""

    type: Literal["night_leak"]
    night: Window = Field(
        default=Window(start="00:00", end="05:00"),
        description="The night, in whole hours (an hour counts when it starts inside it).",
    )
    hours: Annotated[int, Field(ge=1, le=12)] = 3
    min_l_per_hour: Annotated[float, Field(gt=0)] = 10.0
    close_valve: bool = True
    only_without_flow: bool = Field(
        default=True,
        description="Only meters without a flow point (pulse and CJ/T 188 meters); the flow "
        "rule (type leak) watches the others.",
    )

    @model_validator(mode="after")
    def _whole_hours(self) -> NightLeakPolicy:
        if self.night.start % 3600 or self.night.end % 3600:
            raise ValueError("the night starts and ends on the hour, e.g. '00:00'–'05:00'")
        return self


class WhitelistEntry(StrictModel):
    """An allowed appliance: a load step inside ``[min_w, max_w]`` is not a violation."""

    name: str
    min_w: Annotated[float, Field(ge=0)]
    max_w: Annotated[float, Field(gt=0)]

    @model_validator(mode="after")
    def _ordered(self) -> WhitelistEntry:
        if self.max_w < self.min_w:
            raise ValueError(f"max_w {self.max_w} is below min_w {self.min_w}")
        return self


class PowerRange(StrictModel):
    """A controlled range: an added load of ``min_w``–``max_w`` W whose own PF is ≥ ``min_pf``.

    Electric blankets are 60–150 W at PF ≥ 0.97; kettles and 热得快 1–2 kW at PF ≥ 0.95.
    """

    name: str | None = None
    min_w: Annotated[float, Field(gt=0)]
    max_w: Annotated[float, Field(gt=0)] | None = Field(default=None, description="None: no top.")
    min_pf: Annotated[float, Field(gt=0, le=1)] = 0.95

    @model_validator(mode="after")
    def _ordered(self) -> PowerRange:
        if self.max_w is not None and self.max_w < self.min_w:
            raise ValueError(f"max_w {self.max_w} is below min_w {self.min_w}")
        return self

    def holds(self, added_w: float, step_pf: float) -> bool:
        top = self.max_w if self.max_w is not None else float("inf")
        return self.min_w <= added_w <= top and step_pf >= self.min_pf


class SignatureRule(StrictModel):
    """A resistive-load signature (恶性负载): a persistent power step with a high step PF.

    ``ranges`` lists the controlled power ranges; without them one range applies, from
    ``step_w`` up, at ``min_pf``.
    """

    step_w: Annotated[float, Field(gt=0)] = 300.0
    min_pf: Annotated[float, Field(gt=0, le=1)] = 0.95
    ranges: list[PowerRange] = []
    persist_s: Seconds = 30.0
    whitelist: list[WhitelistEntry] = []

    @model_validator(mode="after")
    def _ranges_or_step(self) -> SignatureRule:
        if self.ranges and self.model_fields_set & {"step_w", "min_pf"}:
            raise ValueError("give ranges, or step_w and min_pf, not both")
        return self

    def controlled(self) -> list[PowerRange]:
        """The ranges that count as prohibited appliances."""
        return self.ranges or [PowerRange(min_w=self.step_w, min_pf=self.min_pf)]


class OverloadPolicy(PolicyBase):
    """Room power over a limit for T s, or a prohibited-appliance signature → trip the relay.

    ``detection: meter`` leaves detection to meters that implement it (the prepaid meter
    profile): the controller writes the limit and the ranges to the meter and supervises and
    audits its trips, restoring and locking out as it does for its own.
    """

    type: Literal["overload"]
    limit_w: Annotated[float, Field(gt=0)] | None = None
    per_bed_w: Annotated[float, Field(gt=0)] | None = None
    over_for_s: Seconds = 10.0
    signature: SignatureRule | None = None
    action: Literal["trip", "alarm"] = "trip"
    detection: Literal["controller", "meter"] = "controller"
    reclose_after_s: Annotated[float, Field(gt=0, le=DAY)] = 900.0
    restores_per_day: Annotated[int, Field(ge=0, le=100)] = Field(
        default=3,
        description="Automatic restores per local day; the trip after the last one locks the "
        "relay off until staff release it.",
    )
    hysteresis: Annotated[float, Field(ge=0, lt=1)] = 0.1

    @model_validator(mode="before")
    @classmethod
    def _renamed(cls, data: Any) -> Any:
        if isinstance(data, dict) and "lockout_after" in data:
            raise ValueError(
                "lockout_after is now restores_per_day, the automatic restores per day "
                "(lockout_after: N is restores_per_day: N-1)"
            )
        return data

    @model_validator(mode="after")
    def _something_to_detect(self) -> OverloadPolicy:
        if self.limit_w is not None and self.per_bed_w is not None:
            raise ValueError("give limit_w or per_bed_w, not both")
        if self.limit_w is None and self.per_bed_w is None and self.signature is None:
            raise ValueError("give a power limit (limit_w or per_bed_w), a signature, or both")
        if self.detection == "meter" and self.action != "trip":
            raise ValueError("a meter that detects trips its relay itself: action must be trip")
        return self


class DelayValvesPolicy(PolicyBase):
    """Delayed-closing valves: closing delay, maximum-open guard, no-contact report, counters."""

    type: Literal["delay_valves"]
    delay_s: Annotated[float, Field(gt=0, le=600)] | None = None
    per_valve: dict[str, Annotated[float, Field(gt=0, le=600)]] = Field(
        default={}, description="Closing delay per valve device id (wins over delay_s)."
    )
    max_open_s: Annotated[float, Field(gt=0, le=DAY)] = 120.0
    no_contact_s: Annotated[float, Field(gt=0, le=30 * DAY)] = 900.0


class CanteenHoursPolicy(PolicyBase):
    """Non-essential canteen loads off outside ``service`` hours, back on when service starts."""

    type: Literal["canteen_hours"]
    service: Annotated[list[Window], Field(min_length=1)]
    restore: bool = True


PolicyConfig = Annotated[
    AcLimitsPolicy
    | AcWindowsPolicy
    | SupplyWindowsPolicy
    | CurfewPolicy
    | QuotaPolicy
    | LeakPolicy
    | NightLeakPolicy
    | OverloadPolicy
    | DelayValvesPolicy
    | CanteenHoursPolicy,
    Field(discriminator="type"),
]
"""Any policy; ``type`` selects the model."""

_ADAPTER: TypeAdapter[PolicyConfig] | None = None


def policy_adapter() -> TypeAdapter[PolicyConfig]:
    """A (cached) validator for one policy, e.g. from the API or the SQLite store."""
    global _ADAPTER  # noqa: PLW0603 (built on first use: pydantic schema building is slow)
    if _ADAPTER is None:
        _ADAPTER = TypeAdapter(PolicyConfig)
    return _ADAPTER
