"""Device profiles: what a meter model exposes and how to address it on the wire.

A profile (``profiles/<vendor>/<model>.yaml``) is pure data. Drivers turn it into request plans
once at start-up; emulators read the same data to encode registers with their own code. The
Modbus tables, data types and word orders it names are the wire's (``wire.modbus``).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from wire.modbus import REGISTER_COUNT, DataType, Table, WordOrder

from .common import POINT_KEY_PATTERN, I18nName, StrictModel

__all__ = [
    "POSITIONED_CHECKS",
    "Cjt188Address",
    "Cjt188ProfileOptions",
    "DeviceClass",
    "Dlt645Address",
    "Dlt645ProfileOptions",
    "Flag",
    "ModbusAddress",
    "ModbusProfileOptions",
    "MqttAddress",
    "MqttProfileOptions",
    "Point",
    "PointKind",
    "Profile",
    "StateClass",
    "profile_problems",
]


class PointKind(StrEnum):
    """What a point measures or controls; drives device class, recorder field and policies."""

    ACTIVE_ENERGY = "active_energy"
    EXPORT_ENERGY = "export_energy"
    REACTIVE_ENERGY = "reactive_energy"
    ACTIVE_POWER = "active_power"
    REACTIVE_POWER = "reactive_power"
    VOLTAGE = "voltage"
    CURRENT = "current"
    POWER_FACTOR = "power_factor"
    FREQUENCY = "frequency"
    WATER_VOLUME = "water_volume"
    FLOW = "flow"
    HEAT_ENERGY = "heat_energy"
    HEAT_POWER = "heat_power"
    TEMPERATURE = "temperature"
    SETPOINT = "setpoint"
    AC_MODE = "ac_mode"
    AC_EFFECTIVE_MODE = "ac_effective_mode"
    """What an ``auto`` unit is actually doing (heat, cool...), where the gateway reports it."""
    FAN_SPEED = "fan_speed"
    POWER_SWITCH = "power_switch"
    REMOTE_LOCK = "remote_lock"
    """Whether the occupants' remote control is disabled (values ``locked``/``unlocked``)."""
    VALVE_STATE = "valve_state"
    VALVE_COMMAND = "valve_command"
    VALVE_DELAY = "valve_delay"
    RELAY = "relay"
    PRESS_COUNT = "press_count"
    BALANCE = "balance"
    STATUS = "status"
    ERROR_CODE = "error_code"
    CONFIG = "config"
    FOOD_WASTE = "food_waste"
    """Kitchen/plate waste weighed by a canteen waste scale (kg)."""
    DINER_COUNT = "diner_count"
    """Diners counted by a canteen turnstile or card system (people)."""
    PLATES_CHECKED = "plates_checked"
    """Trays checked at a canteen's tray return (a camera or staff): the 光盘 rate's denominator."""
    CLEAN_PLATES = "clean_plates"
    """Checked trays found clean (光盘): the 光盘 rate's numerator."""


class StateClass(StrEnum):
    """Home Assistant's state classes: cumulative counters get consumption statistics."""

    TOTAL_INCREASING = "total_increasing"
    MEASUREMENT = "measurement"
    NONE = "none"


class DeviceClass(StrEnum):
    """Coarse classes for UIs and dashboards (icons, unit conversion)."""

    ENERGY = "energy"
    POWER = "power"
    VOLTAGE = "voltage"
    CURRENT = "current"
    POWER_FACTOR = "power_factor"
    FREQUENCY = "frequency"
    WATER = "water"
    VOLUME_FLOW_RATE = "volume_flow_rate"
    TEMPERATURE = "temperature"
    SWITCH = "switch"
    VALVE = "valve"
    DURATION = "duration"
    ENUM = "enum"
    COUNT = "count"
    MONETARY = "monetary"
    WEIGHT = "weight"
    NONE = "none"


DEVICE_CLASS_OF_KIND: dict[PointKind, DeviceClass] = {
    PointKind.ACTIVE_ENERGY: DeviceClass.ENERGY,
    PointKind.EXPORT_ENERGY: DeviceClass.ENERGY,
    PointKind.REACTIVE_ENERGY: DeviceClass.ENERGY,
    PointKind.HEAT_ENERGY: DeviceClass.ENERGY,
    PointKind.ACTIVE_POWER: DeviceClass.POWER,
    PointKind.REACTIVE_POWER: DeviceClass.POWER,
    PointKind.HEAT_POWER: DeviceClass.POWER,
    PointKind.VOLTAGE: DeviceClass.VOLTAGE,
    PointKind.CURRENT: DeviceClass.CURRENT,
    PointKind.POWER_FACTOR: DeviceClass.POWER_FACTOR,
    PointKind.FREQUENCY: DeviceClass.FREQUENCY,
    PointKind.WATER_VOLUME: DeviceClass.WATER,
    PointKind.FLOW: DeviceClass.VOLUME_FLOW_RATE,
    PointKind.TEMPERATURE: DeviceClass.TEMPERATURE,
    PointKind.SETPOINT: DeviceClass.TEMPERATURE,
    PointKind.AC_MODE: DeviceClass.ENUM,
    PointKind.AC_EFFECTIVE_MODE: DeviceClass.ENUM,
    PointKind.REMOTE_LOCK: DeviceClass.ENUM,
    PointKind.FAN_SPEED: DeviceClass.ENUM,
    PointKind.POWER_SWITCH: DeviceClass.SWITCH,
    PointKind.RELAY: DeviceClass.SWITCH,
    PointKind.VALVE_STATE: DeviceClass.VALVE,
    PointKind.VALVE_COMMAND: DeviceClass.VALVE,
    PointKind.VALVE_DELAY: DeviceClass.DURATION,
    PointKind.PRESS_COUNT: DeviceClass.COUNT,
    PointKind.BALANCE: DeviceClass.MONETARY,
    PointKind.STATUS: DeviceClass.ENUM,
    PointKind.ERROR_CODE: DeviceClass.ENUM,
    PointKind.FOOD_WASTE: DeviceClass.WEIGHT,
    PointKind.DINER_COUNT: DeviceClass.COUNT,
    PointKind.PLATES_CHECKED: DeviceClass.COUNT,
    PointKind.CLEAN_PLATES: DeviceClass.COUNT,
}

CUMULATIVE_KINDS = frozenset(
    {
        PointKind.ACTIVE_ENERGY,
        PointKind.WATER_VOLUME,
        PointKind.HEAT_ENERGY,
        PointKind.FOOD_WASTE,
        PointKind.DINER_COUNT,
        PointKind.PLATES_CHECKED,
        PointKind.CLEAN_PLATES,
        PointKind.PRESS_COUNT,
    }
)
"""Kinds whose counters the recorder turns into hourly consumption."""


_BIT_TABLES = (Table.COIL, Table.DISCRETE)
_MASKABLE = (DataType.ENUM, DataType.UINT16, DataType.INT16)


class ModbusAddress(StrictModel):
    """Where and how a point sits in a Modbus device. Addresses are 0-based wire addresses."""

    table: Table
    address: Annotated[int, Field(ge=0, le=0xFFFF)]
    type: DataType = DataType.UINT16
    order: WordOrder = WordOrder.ABCD
    count: int | None = Field(
        default=None, description="Registers occupied; must match the data type if given."
    )
    scale: float = 1.0
    offset: float = 0.0
    bit: Annotated[int, Field(ge=0, le=15)] | None = Field(
        default=None, description="For bitfield: which bit of the register (0 = least significant)."
    )
    mask: Annotated[int, Field(ge=1, le=0xFFFF)] | None = Field(
        default=None,
        description="For 16-bit enum and integer points: only these bits of the raw value count "
        "(a status word whose low bits are the valve and high bits other flags).",
    )
    not_available: list[int] = Field(
        default=[],
        description="Raw values that mean 'no value' (e.g. -32768, not initialised): the point "
        "reads as unavailable, not as a reading.",
    )

    @property
    def register_count(self) -> int:
        return REGISTER_COUNT[self.type]

    @model_validator(mode="before")
    @classmethod
    def _bits_default_to_bool(cls, data: Any) -> Any:
        """Coils and discrete inputs hold single bits, so their type defaults to bool."""
        if isinstance(data, dict) and "type" not in data and data.get("table") in _BIT_TABLES:
            return {**data, "type": DataType.BOOL}
        return data

    @field_validator("type")
    @classmethod
    def _type_fits_table(cls, value: DataType, info: ValidationInfo) -> DataType:
        table = info.data.get("table")
        if table in _BIT_TABLES and value is not DataType.BOOL:
            raise ValueError(f"{table} points hold single bits: type must be bool")
        if table is not None and table not in _BIT_TABLES and value is DataType.BOOL:
            raise ValueError("type bool is only for coil and discrete tables (use bitfield)")
        return value

    @field_validator("count")
    @classmethod
    def _count_fits_type(cls, value: int | None, info: ValidationInfo) -> int | None:
        data_type = info.data.get("type")
        if value is not None and data_type is not None and value != REGISTER_COUNT[data_type]:
            raise ValueError(
                f"count {value} does not match type {data_type} "
                f"({REGISTER_COUNT[data_type]} register(s))"
            )
        return value

    @field_validator("scale")
    @classmethod
    def _scale_not_zero(cls, value: float) -> float:
        if value == 0:
            raise ValueError("scale must not be 0")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> ModbusAddress:
        if self.type is DataType.BITFIELD and self.bit is None:
            raise ValueError("bitfield points need 'bit'")
        if self.type is not DataType.BITFIELD and self.bit is not None:
            raise ValueError("'bit' is only for bitfield points")
        if self.mask is not None and self.type not in _MASKABLE:
            raise ValueError("'mask' is only for 16-bit enum and integer points")
        if self.address + self.register_count - 1 > 0xFFFF:
            raise ValueError("point runs past register 65535")
        return self


class MqttAddress(StrictModel):
    """Where a point's value arrives over MQTT and where commands for it go.

    Topic templates may use ``{base}`` (the device's topic base) and ``{device}`` (its id).
    ``path`` is a dotted JSON path (``elec.total`` or ``channels.0.power``); without it the
    payload is a plain number or word.
    """

    topic: str = "{base}/state"
    path: str | None = None
    scale: float = 1.0
    offset: float = 0.0
    command_topic: str | None = None
    command_path: str | None = Field(
        default=None, description="JSON field to set in the command payload; plain value if None."
    )


class Flag(StrictModel):
    """One bit of a status register, served as its own boolean point (entity)."""

    key: Annotated[str, Field(pattern=POINT_KEY_PATTERN)]
    name: I18nName
    kind: PointKind = PointKind.STATUS


class ScaleBy(StrictModel):
    """A factor chosen by another point's reading: ``{point: totaliser_unit, factors: {L: 0.001}}``.

    Meters that count in a unit and multiplier set on the meter (the TUF-2000M's totaliser)
    publish raw counts; the factor for the setting read turns them into the profile's unit.
    """

    point: Annotated[str, Field(pattern=POINT_KEY_PATTERN)]
    factors: Annotated[dict[str, float], Field(min_length=1)]


class Dlt645Address(StrictModel):
    """A DL/T 645-2007 point: read by data identifier (``DI3 DI2 DI1 DI0`` as 8 hex digits).

    Standard identifiers know their packing (bytes, decimals, sign); others must give
    ``length`` (and ``decimals``, ``signed``, ``encoding``). ``bit`` reads one bit of a status
    word as a bool (``invert``: a set bit means off); ``relay`` makes writes switch the meter's
    relay (control code 1C), confirmed by reading this point back.
    """

    di: Annotated[str, Field(pattern=r"^[0-9A-Fa-f]{8}$")]
    length: Annotated[int, Field(ge=1, le=32)] | None = None
    decimals: Annotated[int, Field(ge=0, le=8)] = 0
    signed: bool = False
    encoding: Literal["bcd", "word"] = "bcd"
    scale: float = 1.0
    bit: Annotated[int, Field(ge=0, le=63)] | None = None
    invert: bool = False
    relay: bool = False

    @property
    def identifier(self) -> int:
        return int(self.di, 16)

    @field_validator("scale")
    @classmethod
    def _scale_not_zero(cls, value: float) -> float:
        if value == 0:
            raise ValueError("scale must not be 0")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Dlt645Address:
        if self.relay and self.bit is None:
            raise ValueError("the relay point reads its state from a status-word bit: give 'bit'")
        if self.length is not None and self.bit is not None and self.bit >= 8 * self.length:
            raise ValueError(f"bit {self.bit} is outside a {self.length}-byte item")
        return self


class Cjt188Address(StrictModel):
    """A CJ/T 188 point: a field of the current-data reply (DI 901F).

    Values arrive in kWh, kW, m³ and m³/h whatever unit code the meter sends; ``scale``
    converts further (m³ → L: 1000). A ``valve`` point may be writable (C 04, DI A017).
    """

    field: Literal[
        "total",
        "settlement_total",
        "heat",
        "settlement_heat",
        "heat_power",
        "flow",
        "volume",
        "supply_temperature",
        "return_temperature",
        "hours",
        "valve",
        "battery_low",
        "status",
    ]
    scale: float = 1.0

    @field_validator("scale")
    @classmethod
    def _scale_not_zero(cls, value: float) -> float:
        if value == 0:
            raise ValueError("scale must not be 0")
        return value


class Point(StrictModel):
    """One value a device exposes: a reading, a setting or both."""

    key: Annotated[str, Field(pattern=POINT_KEY_PATTERN)]
    name: I18nName
    kind: PointKind
    unit: str | None = None
    state_class: StateClass = StateClass.MEASUREMENT
    modbus: ModbusAddress | None = None
    mqtt: MqttAddress | None = None
    dlt645: Dlt645Address | None = None
    cjt188: Cjt188Address | None = None
    values: dict[int | str, str] | None = Field(
        default=None, description="Enum map: raw wire value → state word (e.g. 4: cool)."
    )
    writable: bool = False
    write_values: list[str] | None = Field(
        default=None, description="For enum points: the words a write may use (default: all)."
    )
    range: tuple[float, float] | None = Field(
        default=None, description="Allowed range for writes, in engineering units."
    )
    valid_range: tuple[float, float] | None = Field(
        default=None, description="Physically plausible readings; outside is bad quality."
    )
    max_per_hour: float | None = Field(
        default=None, description="For counters: the most one device can add in an hour."
    )
    flags: dict[Annotated[int, Field(ge=0, le=15)], Flag] | None = Field(
        default=None,
        description="Bit number → flag: each set bit of this register is its own boolean point "
        "(1 open, 2 closed, 4 abnormal, 8 low battery → four points; 'closed + low battery' "
        "reads as both).",
    )
    flag_of: str | None = Field(
        default=None, description="Set by the profile loader on a flag's point: its register's."
    )
    ratio: Literal["ct", "pt", "ct_pt"] | None = Field(
        default=None,
        description="A secondary-side value: multiplied by the device's CT ratio (currents), PT "
        "ratio (voltages) or both (power, energy); see the site's ct_ratio/pt_ratio.",
    )
    scale_by: list[ScaleBy] = Field(
        default=[],
        description="Factors the meter's own settings select (a totaliser's unit and "
        "multiplier): the value is multiplied by each; unknown settings make it unavailable.",
    )

    @property
    def device_class(self) -> DeviceClass:
        return DEVICE_CLASS_OF_KIND.get(self.kind, DeviceClass.NONE)

    @property
    def is_cumulative(self) -> bool:
        return self.state_class is StateClass.TOTAL_INCREASING

    @property
    def is_binary(self) -> bool:
        """The point reads and writes True/False (a coil, a register bit, a status-word bit)."""
        if self.modbus is not None:
            return self.modbus.type in (DataType.BOOL, DataType.BITFIELD)
        return self.dlt645 is not None and self.dlt645.bit is not None

    @field_validator("range", "valid_range")
    @classmethod
    def _ordered(cls, value: tuple[float, float] | None) -> tuple[float, float] | None:
        if value is not None and value[0] > value[1]:
            raise ValueError(f"range low {value[0]} is above high {value[1]}")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Point:
        if all(a is None for a in (self.modbus, self.mqtt, self.dlt645, self.cjt188)):
            raise ValueError("a point needs modbus, mqtt, dlt645 or cjt188 addressing")
        if self.writable and self.range is None and self.values is None and not self.is_binary:
            raise ValueError("writable points must declare 'range' or 'values'")
        if self.modbus is not None and self.modbus.type is DataType.ENUM and not self.values:
            raise ValueError("enum points need 'values'")
        if self.flags is not None and (
            self.modbus is None or self.modbus.type not in (*_MASKABLE, DataType.BITFIELD)
        ):
            raise ValueError("'flags' are for 16-bit Modbus registers (enum, uint16, int16)")
        if self.write_values is not None:
            unknown = set(self.write_values) - set((self.values or {}).values())
            if unknown:
                raise ValueError(f"write_values {sorted(unknown)} are not among 'values'")
        if (
            self.writable
            and self.modbus is not None
            and self.modbus.table
            in (
                Table.INPUT,
                Table.DISCRETE,
            )
        ):
            raise ValueError(f"{self.modbus.table} registers are read-only; cannot be writable")
        if self.writable and self.dlt645 is not None and not self.dlt645.relay:
            raise ValueError("a writable DL/T 645 point must be the relay point ('relay: true')")
        if self.writable and self.cjt188 is not None and self.cjt188.field != "valve":
            raise ValueError("only the CJ/T 188 valve is writable")
        return self


class ModbusProfileOptions(StrictModel):
    """Per-model Modbus defaults; a site may override them per device."""

    scan_interval: Annotated[float, Field(gt=0)] = 60.0
    max_gap: Annotated[int, Field(ge=0, le=100)] = 8
    max_registers: Annotated[int, Field(ge=1, le=125)] = 100
    max_bits: Annotated[int, Field(ge=1, le=2000)] = 800


class Dlt645ProfileOptions(StrictModel):
    """Per-model DL/T 645 behaviour. ``block_reads``: the meter answers block identifiers
    (DI1 = FF), so a family of points is read in one request. ``relay``: how the relay is
    commanded: ``plain`` (password level ``password_level``), ``esam`` (encrypted, which this
    controller does not send: writes fail with a clear error) or ``none``. ``close``: ``direct``
    (1C) or ``allowed`` (1B, the meter closes itself)."""

    scan_interval: Annotated[float, Field(gt=0)] = 60.0
    block_reads: bool = False
    relay: Literal["plain", "esam", "none"] = "none"
    password_level: Annotated[int, Field(ge=0, le=0x99)] = 2
    close: Literal["direct", "allowed"] = "direct"


class Cjt188ProfileOptions(StrictModel):
    """Per-model CJ/T 188 behaviour: the meter type byte (10 cold water, 11 hot water,
    12 drinking water, 13 reclaimed water, 20 heat, as 2 hex digits) and the byte order of
    identifiers: ``901F`` (2004 edition, ``90 1F`` on the wire) or ``1F90`` (2018)."""

    meter_type: Literal["10", "11", "12", "13", "20", "21"] = "10"
    di_order: Literal["901F", "1F90"] = "901F"
    scan_interval: Annotated[float, Field(gt=0)] = 300.0


class MqttProfileOptions(StrictModel):
    """Per-model MQTT conventions: availability topic and expected telemetry interval."""

    availability_topic: str | None = "{base}/status"
    payload_online: str = "online"
    payload_offline: str = "offline"
    interval: Annotated[float, Field(gt=0)] = 60.0
    stale_after: Annotated[float, Field(gt=1)] = 3.0
    timestamp_path: str | None = Field(
        default=None, description="JSON path of the device's own timestamp, if it sends one."
    )
    timestamp_format: Literal["epoch", "epoch_ms", "iso"] = Field(
        default="epoch",
        description="Epoch seconds, epoch milliseconds, or ISO 8601 (naive = campus time).",
    )


class Profile(StrictModel):
    """A meter or actuator model. Its id is its path under a profiles folder: ``chint/ddsu666``."""

    manufacturer: str
    model: str
    protocol: Literal["modbus", "mqtt", "dlt645", "cjt188"]
    name: I18nName | None = None
    source: str = Field(description="Manual or document (with version) the register map is from.")
    notes: str | None = None
    reference_map: bool = Field(
        default=False,
        description="A reference register map, not a commercial model's: map a real device by "
        "copying the profile and changing addresses to its manual's.",
    )
    modbus: ModbusProfileOptions = ModbusProfileOptions()
    mqtt: MqttProfileOptions = MqttProfileOptions()
    dlt645: Dlt645ProfileOptions = Dlt645ProfileOptions()
    cjt188: Cjt188ProfileOptions = Cjt188ProfileOptions()
    points: Annotated[list[Point], Field(min_length=1)]

    @model_validator(mode="after")
    def _expand_flags(self) -> Profile:
        """Each declared flag becomes a bitfield point on its register, after its point."""
        if not any(p.flags for p in self.points):
            return self
        expanded: list[Point] = []
        for point in self.points:
            expanded.append(point)
            if point.flags and point.modbus is not None:
                expanded.extend(_flag_points(point, point.modbus))
        object.__setattr__(self, "points", expanded)  # frozen model: set once, at load time
        return self

    def point(self, key: str) -> Point:
        """The point with ``key``; KeyError if the profile has none."""
        for point in self.points:
            if point.key == key:
                return point
        raise KeyError(key)

    @model_validator(mode="after")
    def _check_points(self, info: ValidationInfo) -> Profile:
        if info.context and info.context.get(POSITIONED_CHECKS):
            return self  # the loader runs profile_problems itself, to position each one
        problems = profile_problems(self)
        if problems:
            raise ValueError("; ".join(f"{_loc(loc)}: {message}" for loc, message in problems))
        return self


def _flag_points(point: Point, addr: ModbusAddress) -> list[Point]:
    return [
        Point(
            key=flag.key,
            name=flag.name,
            kind=flag.kind,
            modbus=ModbusAddress(
                table=addr.table, address=addr.address, type=DataType.BITFIELD, bit=bit
            ),
            flag_of=point.key,
        )
        for bit, flag in sorted(point.flags.items() if point.flags else ())
    ]


POSITIONED_CHECKS = "sanjie.positioned_checks"
"""Validation context key: skip the cross-point checks, the caller positions them."""

Problem = tuple[tuple[str | int, ...], str]
"""A field path inside the profile and what is wrong there."""


def _loc(loc: tuple[str | int, ...]) -> str:
    return "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in loc)[1:]


def profile_problems(profile: Profile) -> list[Problem]:
    """Checks across points: unique keys, addressing for the protocol, no register overlap."""
    problems: list[Problem] = []
    first_index: dict[str, int] = {}
    for i, point in enumerate(profile.points):
        if point.key in first_index:
            where = first_index[point.key]
            problems.append(
                (("points", i, "key"), f"duplicate point key {point.key!r} (also points[{where}])")
            )
        first_index.setdefault(point.key, i)
        if profile.protocol == "modbus" and point.modbus is None:
            problems.append((("points", i), f"point {point.key!r} has no modbus address"))
        if profile.protocol == "mqtt" and point.mqtt is None:
            problems.append((("points", i), f"point {point.key!r} has no mqtt address"))
        problems.extend(_meter_problems(profile, point, i))
    problems.extend(_overlaps(profile.points))
    problems.extend(_scale_refs(profile.points))
    return problems


def _scale_refs(points: list[Point]) -> list[Problem]:
    """``scale_by`` names an enum point of the same profile, and only its labels."""
    by_key = {p.key: p for p in points}
    problems: list[Problem] = []
    for i, point in enumerate(points):
        for j, scale in enumerate(point.scale_by):
            where = ("points", i, "scale_by", j)
            ref = by_key.get(scale.point)
            if ref is None or not ref.values:
                problems.append((where, f"scale_by point {scale.point!r} is not an enum point"))
                continue
            unknown = sorted(set(scale.factors) - {str(v) for v in ref.values.values()})
            if unknown:
                problems.append((where, f"{scale.point} has no labels {unknown}"))
    return problems


def _meter_problems(profile: Profile, point: Point, i: int) -> list[Problem]:
    """DL/T 645 and CJ/T 188 points: addressing for the protocol, known packing, relays."""
    if profile.protocol == "dlt645":
        addr = point.dlt645
        if addr is None:
            return [(("points", i), f"point {point.key!r} has no dlt645 address")]
        if addr.length is None and not _standard_di(addr.identifier):
            message = f"DI {addr.di} is not a standard identifier here: give 'length'"
            return [(("points", i, "dlt645", "di"), message)]
        if addr.relay and profile.dlt645.relay == "none":
            message = "a relay point needs the profile's dlt645.relay (plain or esam)"
            return [(("points", i, "dlt645", "relay"), message)]
    if profile.protocol == "cjt188" and point.cjt188 is None:
        return [(("points", i), f"point {point.key!r} has no cjt188 address")]
    return []


def _standard_di(di: int) -> bool:
    """Whether the DL/T 645 driver knows the packing of ``di`` (config stays driver-free:
    the same families as ``drivers.dlt645.items``, checked by a test)."""
    if 0x04000501 <= di <= 0x04000507 or di in _SINGLE_DIS:
        return True
    family = (di >> 24, (di >> 16) & 0xFF)
    if family[0] == 0x00:
        return family[1] <= 0x04
    return family[0] == 0x02 and 0x01 <= family[1] <= 0x06 and di & 0xFF == 0


_SINGLE_DIS = frozenset(
    {0x02800001, 0x02800002, 0x02800008, 0x00900100, 0x00900200, 0x00900201, 0x04000401}
)


def _overlaps(points: list[Point]) -> list[Problem]:
    """Points whose registers overlap, except bitfields sharing a register on different bits."""
    problems: list[Problem] = []
    placed: list[tuple[Table, int, int, int]] = []
    for i, point in enumerate(points):
        addr = point.modbus
        if addr is None:
            continue
        start, end = addr.address, addr.address + addr.register_count - 1
        for table, o_start, o_end, j in placed:
            if table != addr.table or end < o_start or start > o_end:
                continue
            other = points[j]
            assert other.modbus is not None
            both_bits = addr.type is DataType.BITFIELD and other.modbus.type is DataType.BITFIELD
            if both_bits and addr.bit != other.modbus.bit:
                continue
            if point.flag_of == other.key or other.flag_of == point.key:
                continue  # a flag shares its register's word by design
            register = max(start, o_start)
            problems.append(
                (
                    ("points", i, "modbus", "address"),
                    f"{point.key!r} overlaps {other.key!r} (points[{j}]) at {addr.table} "
                    f"register {register} (0x{register:04X})",
                )
            )
        placed.append((addr.table, start, end, i))
    return problems


def profile_json_schema() -> dict[str, Any]:
    """JSON Schema for profile files, for editor autocompletion."""
    return Profile.model_json_schema()
