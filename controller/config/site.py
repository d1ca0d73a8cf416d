"""The site model: campus, buildings, rooms, links, devices, sinks, policies, calendar.

Sections are validated item by item (see ``loader``), so one bad device does not hide the
errors of the others; cross-references are checked after that, in ``loader`` too.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from enum import StrEnum
from typing import Annotated, Any, ClassVar, Literal

from pydantic import AfterValidator, Field, SecretStr, field_validator, model_validator

from .common import DottedId, I18nName, Slug, StrictModel

__all__ = [
    "AnyLink",
    "Area",
    "Building",
    "BuildingKind",
    "Calendar",
    "Campus",
    "Circuit",
    "Cjt188Link",
    "DateSpan",
    "Device",
    "DeviceTemplate",
    "Dlt645Link",
    "FloorDeviceTemplate",
    "HistorySink",
    "InfluxV1Sink",
    "InfluxV2Sink",
    "Link",
    "ModbusTcpLink",
    "MqttLink",
    "Room",
    "RoomDeviceTemplate",
    "RoomLayout",
    "RtuOverTcpLink",
    "SerialLink",
    "Sinks",
    "TlsOptions",
]


class BuildingKind(StrEnum):
    DORM = "dorm"
    CANTEEN = "canteen"
    BATHHOUSE = "bathhouse"
    TEACHING = "teaching"
    OTHER = "other"


class Circuit(StrEnum):
    """Which circuit or service a device meters or switches (分项: lighting/sockets, AC, power)."""

    AC = "ac"
    SOCKETS = "sockets"
    LIGHTING = "lighting"
    POWER = "power"
    MAIN = "main"
    KITCHEN = "kitchen"
    COLD_WATER = "cold_water"
    HOT_WATER = "hot_water"
    SHOWER = "shower"
    OTHER = "other"


def _timezone(value: str) -> str:
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as err:
        raise ValueError(f"unknown time zone {value!r}") from err
    return value


def _unit_id(value: int) -> int:
    if not 1 <= value <= 247:
        raise ValueError("must be 1–247")
    return value


def _port(value: int) -> int:
    if not 1 <= value <= 65535:
        raise ValueError("must be 1–65535")
    return value


Port = Annotated[int, AfterValidator(_port)]


def _meter_address(value: str) -> str:
    if not (value.isascii() and value.isdigit() and len(value) <= 14):
        raise ValueError("a meter address is 1–14 digits (12 for DL/T 645, 14 for CJ/T 188)")
    return value


MeterAddress = Annotated[str, AfterValidator(_meter_address)]
UnitId = Annotated[int, AfterValidator(_unit_id)]
Seconds = Annotated[float, Field(gt=0, le=86400)]


class Campus(StrictModel):
    id: Slug
    name: I18nName
    timezone: Annotated[str, AfterValidator(_timezone)] = "Asia/Shanghai"
    language: Literal["zh", "en"] = "zh"


class Room(StrictModel):
    """A dorm room (or office). Capacity is in beds; occupants defaults to capacity."""

    id: Slug
    floor: int
    capacity: Annotated[int, Field(ge=0, le=50)] = 4
    occupants: Annotated[int, Field(ge=0, le=50)] | None = None
    name: I18nName | None = None

    @property
    def occupancy(self) -> int:
        return self.capacity if self.occupants is None else self.occupants

    @model_validator(mode="after")
    def _fits(self) -> Room:
        if self.occupants is not None and self.occupants > self.capacity:
            raise ValueError(f"occupants {self.occupants} exceed capacity {self.capacity}")
        return self


class Area(StrictModel):
    """A part of a building that is not a room: canteen kitchen, hand-wash row, shower hall."""

    id: Slug
    name: I18nName
    floor: int | None = None


ROOM_PLACEHOLDERS: dict[str, object] = {"building": "dorm-1", "floor": 1, "room": "101", "index": 1}
"""Placeholders of a room device template, with sample values to try patterns on."""
FLOOR_PLACEHOLDERS: dict[str, object] = {"building": "dorm-1", "floor": 1}
"""Placeholders of a floor device template."""
LAYOUT_PLACEHOLDERS: dict[str, object] = {"floor": 1, "index": 1}
"""Placeholders of a room layout's id pattern."""


def check_pattern(value: str, placeholders: dict[str, object]) -> str:
    """``value`` if it formats with ``placeholders``; a message naming the allowed ones if not."""
    try:
        value.format_map(placeholders)
    except KeyError as err:
        allowed = ", ".join(f"{{{name}}}" for name in placeholders)
        raise ValueError(f"unknown placeholder {{{err.args[0]}}}; use {allowed}") from None
    except (ValueError, IndexError) as err:
        raise ValueError(f"bad pattern {value!r}: {err}") from None
    return value


class RoomLayout(StrictModel):
    """Rooms numbered floor by floor: ``per_floor`` rooms on each floor from ``first_floor`` up.

    Dorm blocks repeat their floors; one layout replaces hundreds of room entries. The rooms it
    makes come before the building's explicit ``rooms``.
    """

    per_floor: Annotated[int, Field(ge=1, le=999)]
    first_floor: Annotated[int, Field(ge=0, le=200)] = 1
    count: Annotated[int, Field(ge=1)] | None = Field(
        default=None,
        description="Total rooms; by default every floor from first_floor up to the building's.",
    )
    id: str = Field(
        default="{floor}{index:02d}",
        description="Room id pattern with {floor} and {index} (1-based place on the floor).",
    )
    capacity: Annotated[int, Field(ge=0, le=50)] = 4

    @field_validator("id")
    @classmethod
    def _id_pattern(cls, value: str) -> str:
        return check_pattern(value, LAYOUT_PLACEHOLDERS)


class DeviceTemplate(StrictModel):
    """A device repeated per room or per floor; ``id``, ``link``, ``topic_base``, ``tags`` and
    ``name`` are patterns (``{building}``, ``{floor}``, and for rooms ``{room}``, ``{index}``)."""

    PLACEHOLDERS: ClassVar[dict[str, object]] = FLOOR_PLACEHOLDERS

    id: str
    profile: str
    link: str
    unit_id: UnitId | None = None
    topic_base: str | None = None
    address: str | None = Field(
        default=None,
        description="DL/T 645 / CJ/T 188 meter address pattern, e.g. '0000000{floor}{room}'.",
    )
    circuit: Circuit | None = None
    parent: str | None = Field(
        default=None, description="The upstream meter's device id (a pattern, like id)."
    )
    tags: list[str] = Field(default_factory=list)
    scan_interval: Seconds | None = None
    name: I18nName | None = None
    floors: list[int] | None = Field(
        default=None,
        description="Only on these floors (one floor's meters on another bus or protocol).",
    )

    @field_validator("id", "link", "topic_base", "address", "parent")
    @classmethod
    def _pattern(cls, value: str | None) -> str | None:
        return None if value is None else check_pattern(value, cls.PLACEHOLDERS)

    @field_validator("tags")
    @classmethod
    def _tag_patterns(cls, value: list[str]) -> list[str]:
        for tag in value:
            check_pattern(tag, cls.PLACEHOLDERS)
        return value

    @field_validator("name")
    @classmethod
    def _name_patterns(cls, value: I18nName | None) -> I18nName | None:
        if value is not None:
            for text in (value.zh, value.en):
                if text is not None:
                    check_pattern(text, cls.PLACEHOLDERS)
        return value


class FloorDeviceTemplate(DeviceTemplate):
    """A device every floor of the building has (a floor's lighting meter), on floors 1–N."""


class RoomDeviceTemplate(DeviceTemplate):
    """A device every room of the building has (its socket meter, water meters, AC gateway).

    ``unit_id_start`` numbers the rooms of each floor: the first room on a floor gets it, the
    next one ``unit_id_start + 1``, and so on, which matches one RS-485 bus per floor.
    ``unit_ids_per: building`` numbers the rooms across the whole building instead (floor by
    floor, in layout order), for a building wired as one bus behind one gateway.
    """

    PLACEHOLDERS: ClassVar[dict[str, object]] = ROOM_PLACEHOLDERS

    unit_id_start: UnitId | None = None
    unit_ids_per: Literal["floor", "building"] = "floor"

    @model_validator(mode="after")
    def _one_unit_id(self) -> RoomDeviceTemplate:
        if self.unit_id is not None and self.unit_id_start is not None:
            raise ValueError("give unit_id (the same on every floor) or unit_id_start, not both")
        return self


class Building(StrictModel):
    """A building. After loading, ``rooms`` lists every room (its layout's first) and the
    device templates have become devices of the site; the loaded model keeps neither."""

    id: Slug
    kind: BuildingKind
    name: I18nName
    floors: Annotated[int, Field(ge=1, le=200)] = 1
    floor_area_m2: Annotated[float, Field(gt=0)] | None = Field(
        default=None, description="Gross floor area (m²), for energy per m² in reports."
    )
    room_layout: RoomLayout | None = None
    rooms: list[Room] = Field(default_factory=list)
    areas: list[Area] = Field(default_factory=list)
    room_devices: list[RoomDeviceTemplate] = Field(default_factory=list)
    floor_devices: list[FloorDeviceTemplate] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique_children(self) -> Building:
        problems = []
        for what, ids in (
            ("room", [r.id for r in self.rooms]),
            ("area", [a.id for a in self.areas]),
        ):
            if len(ids) != len(set(ids)):
                dupes = sorted({i for i in ids if ids.count(i) > 1})
                problems.append(f"duplicate {what} id(s): {', '.join(dupes)}")
        bad_floor = [r.id for r in self.rooms if not 0 <= r.floor <= self.floors]
        if bad_floor:
            problems.append(
                f"room(s) {', '.join(bad_floor[:5])} on a floor outside 0–{self.floors}"
            )
        layout = self.room_layout
        if layout is not None:
            floors = self.floors - layout.first_floor + 1
            if floors < 1:
                problems.append(f"room_layout starts above the top floor {self.floors}")
            elif layout.count is not None and layout.count > floors * layout.per_floor:
                problems.append(
                    f"room_layout holds at most {floors * layout.per_floor} rooms on floors "
                    f"{layout.first_floor}–{self.floors}, not {layout.count}"
                )
        if problems:
            raise ValueError("; ".join(problems))
        return self


class TlsOptions(StrictModel):
    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None
    insecure: bool = False


class _LinkBase(StrictModel):
    id: Slug
    name: I18nName | None = None
    timeout: Seconds = 1.0


class _PolledBus(_LinkBase):
    """A bus the controller polls device by device.

    A device that misses ``offline_after`` polls in a row is marked unavailable; it is then
    retried at its scan interval × 2^k, at most every ``recovery_backoff_max`` seconds, so a
    dead meter costs the bus at most one timeout per period while the others keep their cycle.
    """

    offline_after: Annotated[int, Field(ge=1, le=100)] = 3
    recovery_backoff_max: Seconds = 300.0


class ModbusTcpLink(_PolledBus):
    """A Modbus TCP gateway or device (MBAP framing)."""

    type: Literal["modbus_tcp"]
    host: str
    port: Port = 502
    inter_frame_gap: Annotated[float, Field(ge=0, le=5)] = 0.0


class RtuOverTcpLink(_PolledBus):
    """A transparent RS-485-to-Ethernet gateway: RTU frames with CRC inside TCP."""

    type: Literal["rtu_over_tcp"]
    host: str
    port: Port = 502
    baudrate: int = 9600
    inter_frame_gap: Annotated[float, Field(ge=0, le=5)] = 0.005


class SerialLink(_PolledBus):
    """An RS-485 port on the controller itself (USB adapter)."""

    type: Literal["serial"]
    port: str = Field(description="Device path, e.g. /dev/ttyUSB0")
    baudrate: int = 9600
    parity: Literal["N", "E", "O"] = "N"
    stopbits: Literal[1, 2] = 1
    bytesize: Literal[7, 8] = 8
    inter_frame_gap: Annotated[float, Field(ge=0, le=5)] = 0.005


class _MeterBusLink(_LinkBase):
    """A bus of DL/T 645 or CJ/T 188 meters: a transparent RS-485-to-TCP gateway
    (``transport: tcp``, host and port) or a local RS-485 port (``transport: serial``).
    These lines usually run 2400 baud, 8 data bits, even parity, 1 stop bit."""

    transport: Literal["tcp", "serial"] = "tcp"
    host: str | None = None
    port: Port = 8899
    device: str | None = Field(default=None, description="Serial device path, e.g. /dev/ttyUSB0")
    baudrate: int = 2400
    parity: Literal["N", "E", "O"] = "E"
    stopbits: Literal[1, 2] = 1
    bytesize: Literal[7, 8] = 8
    timeout: Seconds = 2.0
    inter_frame_gap: Annotated[float, Field(ge=0, le=5)] = 0.02

    @model_validator(mode="after")
    def _reachable(self) -> _MeterBusLink:
        if self.transport == "tcp" and not self.host:
            raise ValueError("a tcp meter link needs 'host'")
        if self.transport == "serial" and not self.device:
            raise ValueError("a serial meter link needs 'device' (e.g. /dev/ttyUSB0)")
        return self


class Dlt645Link(_MeterBusLink):
    """DL/T 645-2007 electricity meters. ``relay_password`` (6 digits, level from the
    profile) and ``operator_code`` (8 hex digits) command relays; without a password relay
    writes are refused. The password is never logged."""

    type: Literal["dlt645"]
    relay_password: SecretStr | None = None
    operator_code: Annotated[str, Field(pattern=r"^[0-9A-Fa-f]{8}$")] = "00000000"
    time_broadcast: Annotated[float, Field(gt=0, le=720)] | None = Field(
        default=None,
        description="Hours between broadcasts of the controller's time to the bus (C 08; "
        "the first once it connects); none: never. A meter's clock switches its tariffs.",
    )

    @field_validator("relay_password")
    @classmethod
    def _six_digits(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not (
            value.get_secret_value().isdigit() and len(value.get_secret_value()) == 6
        ):
            raise ValueError("a DL/T 645 password is 6 digits")
        return value


class Cjt188Link(_MeterBusLink):
    """CJ/T 188 water, hot-water and heat meters."""

    type: Literal["cjt188"]


class MqttLink(_LinkBase):
    """An MQTT broker. Without ``host``: a broker on this machine at ``port``, the one
    listening there or one sanjie starts there (``controller.broker.site_brokers``)."""

    type: Literal["mqtt"]
    host: str | None = None
    port: Port = 1883
    username: str | None = None
    password: str | None = None
    client_id: str | None = None
    protocol: Literal["5", "3.1.1"] = "5"
    keepalive: Annotated[int, Field(ge=5, le=3600)] = 60
    session_expiry: Annotated[int, Field(ge=0)] = 86400
    tls: TlsOptions | None = None
    timeout: Seconds = Field(
        default=5.0,
        description="Connect, publish and command confirmation (a device's reply) timeout.",
    )

    @field_validator("protocol", mode="before")
    @classmethod
    def _protocol_text(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int | float) else value


AnyLink = ModbusTcpLink | RtuOverTcpLink | SerialLink | MqttLink | Dlt645Link | Cjt188Link
"""A validated link of any type."""
Link = Annotated[AnyLink, Field(discriminator="type")]
"""A link as written in a site file: ``type`` selects the model."""

MODBUS_LINK_TYPES = ("modbus_tcp", "rtu_over_tcp", "serial")
METER_LINK_TYPES = ("dlt645", "cjt188")
"""Links whose devices are addressed by meter number (``address``), not unit id."""


def protocol_of_link(link_type: str) -> str:
    """The profile protocol a link type carries."""
    return "modbus" if link_type in MODBUS_LINK_TYPES else link_type


class Device(StrictModel):
    """One physical device: where it is, which profile it follows and how it is reached."""

    id: DottedId
    profile: str
    building: Slug
    room: Slug | None = None
    area: Slug | None = None
    link: Slug
    unit_id: UnitId | None = None
    topic_base: str | None = None
    address: MeterAddress | None = Field(
        default=None, description="DL/T 645 (12 digits) or CJ/T 188 (14 digits) meter address."
    )
    circuit: Circuit | None = None
    parent: DottedId | None = Field(
        default=None,
        description="The meter upstream of this one (main → floor → room, main → circuit): "
        "consumption sums each level once and reports main minus its children as unmetered.",
    )
    tags: list[Slug] = Field(default_factory=list)
    scan_interval: Seconds | None = None
    name: I18nName | None = None
    function_code: Literal[3, 4] | None = Field(
        default=None,
        description="Read the device's read-only registers with FC03 (holding) or FC04 (input) "
        "whatever its profile says: some CHINT firmware answers only FC04.",
    )
    ct_ratio: Annotated[float, Field(gt=0, le=100_000)] | None = Field(
        default=None,
        description="Current-transformer ratio (200/5 A → 40) for meters that report "
        "secondary-side values: their CT-scaled points are multiplied by it.",
    )
    pt_ratio: Annotated[float, Field(gt=0, le=100_000)] | None = Field(
        default=None, description="Voltage-transformer ratio (10 kV/100 V → 100), likewise."
    )

    @property
    def rewires(self) -> bool:
        """Whether the device's settings change how its profile's registers are read."""
        return (
            self.function_code is not None or self.ct_ratio is not None or self.pt_ratio is not None
        )

    @model_validator(mode="after")
    def _placed_once(self) -> Device:
        if self.room is not None and self.area is not None:
            raise ValueError("a device is in a room or an area, not both")
        given = [k for k in ("unit_id", "topic_base", "address") if getattr(self, k) is not None]
        if len(given) > 1:
            raise ValueError(
                "unit_id is for Modbus devices, topic_base for MQTT, address for DL/T 645 and "
                f"CJ/T 188 meters: give one, not {' and '.join(given)}"
            )
        if self.parent == self.id:
            raise ValueError("a meter cannot be its own parent")
        return self

    @property
    def mqtt_base(self) -> str:
        return self.topic_base or f"sanjie/dev/{self.id}"


class InfluxV1Sink(StrictModel):
    """InfluxDB 1.x through the v1 ``/write`` endpoint."""

    type: Literal["influxdb_v1"]
    url: str
    database: str
    retention_policy: str | None = None
    username: str | None = None
    password: str | None = None
    batch_size: Annotated[int, Field(ge=1, le=100_000)] = 5000
    flush_interval: Seconds = 5.0
    outbox_path: str = "var/outbox.sqlite3"
    outbox_max_mb: Annotated[float, Field(gt=0)] = 512.0


class InfluxV2Sink(StrictModel):
    """InfluxDB 2.x/3.x/Cloud (or anything speaking ``/api/v2/write``)."""

    type: Literal["influxdb_v2"]
    url: str
    token: str | None = None
    org: str
    bucket: str
    batch_size: Annotated[int, Field(ge=1, le=100_000)] = 5000
    flush_interval: Seconds = 5.0
    outbox_path: str = "var/outbox.sqlite3"
    outbox_max_mb: Annotated[float, Field(gt=0)] = 512.0


class HistorySink(StrictModel):
    """The embedded SQLite history, used when no InfluxDB is configured."""

    path: str = "var/history.sqlite3"
    retention_days: Annotated[int, Field(ge=1)] = Field(
        default=400, description="Days of hourly consumption and meter events to keep."
    )
    readings_retention_days: Annotated[int, Field(ge=1)] = Field(
        default=35, description="Days of raw readings to keep (when no InfluxDB is configured)."
    )
    partial_interval: Seconds = Field(
        default=60.0,
        description="Seconds between writes of the running hour so far (history and InfluxDB).",
    )


def _topic_prefix(value: str) -> str:
    if not value or value.startswith("/") or value.endswith("/"):
        raise ValueError("a topic prefix is not empty and neither starts nor ends with '/'")
    if any(c in value for c in "+#\0"):
        raise ValueError("a topic prefix cannot hold the wildcards '+' or '#'")
    return value


class MqttExportSink(StrictModel):
    """Mirror entity states to an MQTT broker, with Home Assistant discovery."""

    link: Slug = Field(description="The MQTT link (its broker and credentials) to publish on.")
    prefix: Annotated[str, AfterValidator(_topic_prefix)] = Field(
        default="sanjie", description="States go to <prefix>/<entity id>/state (retained)."
    )
    discovery: bool = Field(
        default=True, description="Publish Home Assistant discovery configs under homeassistant/."
    )
    commands_as: str | None = Field(
        default=None,
        min_length=1,
        max_length=64,
        description="Staff account (operator or above) that commands from Home Assistant are "
        "checked and audited as; without it the export is read-only.",
    )


class Sinks(StrictModel):
    influxdb: Annotated[InfluxV1Sink | InfluxV2Sink, Field(discriminator="type")] | None = None
    history: HistorySink = HistorySink()
    mqtt: MqttExportSink | None = None


class DateSpan(StrictModel):
    name: str
    start: dt.date
    end: dt.date

    @model_validator(mode="after")
    def _ordered(self) -> DateSpan:
        if self.end < self.start:
            raise ValueError(f"ends {self.end} before it starts {self.start}")
        return self


class Calendar(StrictModel):
    """Teaching calendar. Entries here win over the public-holiday library."""

    semesters: list[DateSpan] = []
    vacations: list[DateSpan] = []
    holidays: list[dt.date] = Field(default=[], description="Extra days off (public holidays).")
    workdays: list[dt.date] = Field(default=[], description="Make-up working days (调休).")
    holidays_file: str | None = Field(
        default=None, description="YAML file of holidays/workdays, relative to the site file."
    )
