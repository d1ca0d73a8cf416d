"""The ``alarms:``, ``notify:`` and ``workorders:`` sections of a site file.

Kept apart from ``site.py`` because they describe people and their channels, not the plant.
Secrets (HMAC keys, robot secrets, SMTP passwords) are ordinary strings here and are meant to
come from ``!env NAME``; fields named ``secret``/``password`` are picked up by
``controller.redaction.site_secrets`` so they never reach a log. Cross-references (a route or
escalation naming a channel that does not exist, a rule on an unknown device) are checked by
``check_alarms`` with the file position of the offending value.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, model_validator

from .checks import scope_refs
from .collect import Collector
from .common import DottedId, Slug, StrictModel
from .errors import locate
from .policies import Scope, ScopeFilter
from .site import Building

__all__ = [
    "AggregateRuleConfig",
    "AggregateWindowConfig",
    "AlarmsConfig",
    "ChannelConfig",
    "DigestConfig",
    "EmailChannelConfig",
    "EscalationConfig",
    "NotifyConfig",
    "QuietHoursConfig",
    "RobotChannelConfig",
    "RouteConfig",
    "ThresholdRuleConfig",
    "WebhookChannelConfig",
    "WorkOrdersConfig",
    "check_alarms",
]

SeverityName = Literal["info", "warning", "critical"]
Duration = Annotated[float, Field(ge=0, le=30 * 86400)]
Category = Literal["electricity", "water", "ac", "valve", "other"]


def _http_url(value: str) -> str:
    if not value.startswith(("http://", "https://")):
        raise ValueError("an http:// or https:// URL")
    return value


def _hhmm(value: str) -> str:
    try:
        dt.time.fromisoformat(value)
    except ValueError:
        raise ValueError("a local time HH:MM") from None
    return value


HttpUrl = Annotated[str, AfterValidator(_http_url)]
LocalTime = Annotated[str, AfterValidator(_hhmm)]


class ThresholdRuleConfig(StrictModel):
    """``entity`` below/above a threshold for ``for_s`` seconds; clears past ± ``hysteresis``."""

    id: Slug
    entity: DottedId
    below: float | None = None
    above: float | None = None
    hysteresis: Annotated[float, Field(ge=0)] = 0.0
    for_s: Duration = Field(default=0.0, description="How long the value must stay past it.")
    severity: SeverityName = "warning"

    @model_validator(mode="after")
    def _one_side(self) -> ThresholdRuleConfig:
        if (self.below is None) == (self.above is None):
            raise ValueError("give exactly one of below or above")
        return self


AggregateKind = Literal["active_energy", "water_volume", "heat_energy"]
"""The cumulative quantities the recorder keeps hourly statistics of (kWh, m³, kWh)."""
AggregatePer = Literal["scope", "building", "floor", "room", "device"]


def _on_the_hour(value: str) -> str:
    moment = dt.time.fromisoformat(_hhmm(value))
    if moment.minute or moment.second:
        raise ValueError("a whole hour HH:00 (the statistics are hourly)")
    return value


class AggregateWindowConfig(StrictModel):
    """Local hours summed into one figure per day, e.g. the night 00:00–06:00 (may wrap midnight:
    22:00–06:00 is the night that ends at 06:00)."""

    start: Annotated[str, AfterValidator(_on_the_hour)]
    end: Annotated[str, AfterValidator(_on_the_hour)]

    @model_validator(mode="after")
    def _not_empty(self) -> AggregateWindowConfig:
        if self.start == self.end:
            raise ValueError("start and end are the same hour: the window would be empty")
        return self


class AggregateRuleConfig(StrictModel):
    """Consumption of a scope (summed over its top meters) past a threshold, from the recorder's
    hourly statistics: per hour for ``for_hours`` hours in a row, or per daily ``window`` for
    ``for_days`` days in a row. Clears when a period is back past threshold ∓ ``hysteresis``."""

    id: Slug
    scope: Scope = Field(default_factory=Scope, description="Empty: the campus.")
    per: AggregatePer = Field(
        default="scope", description="One figure for the whole scope, or one per building, ..."
    )
    quantity: AggregateKind
    window: AggregateWindowConfig | None = None
    above: Annotated[float, Field(ge=0)] | None = None
    below: Annotated[float, Field(ge=0)] | None = None
    hysteresis: Annotated[float, Field(ge=0)] = 0.0
    for_hours: Annotated[int, Field(ge=1, le=24 * 31)] | None = None
    for_days: Annotated[int, Field(ge=1, le=366)] | None = None
    severity: SeverityName = "warning"

    @model_validator(mode="after")
    def _consistent(self) -> AggregateRuleConfig:
        if (self.below is None) == (self.above is None):
            raise ValueError("give exactly one of below or above")
        if self.window is None and self.for_days is not None:
            raise ValueError("for_days counts daily windows: give a window, or use for_hours")
        if self.window is not None and self.for_hours is not None:
            raise ValueError("a windowed rule counts days: use for_days, not for_hours")
        if self.above is not None and self.hysteresis > self.above:
            raise ValueError("hysteresis larger than the threshold: the alarm could never clear")
        return self

    @property
    def periods(self) -> int:
        """How many periods (hours, or days of the window) in a row must be past the threshold."""
        return (self.for_days if self.window is not None else self.for_hours) or 1


class AlarmsConfig(StrictModel):
    """When alarms are raised; what the built-in detectors wait for."""

    grace_s: Duration = Field(default=120.0, description="Device offline this long: an alarm.")
    flap_window_s: Duration = Field(
        default=600.0, description="A key raised again this soon after clearing is the same alarm."
    )
    step_every_s: Annotated[float, Field(gt=0, le=60)] = Field(
        default=0.5,
        description="Wall seconds between alarm rounds at the soonest while events stream in: "
        "how late a raised alarm is notified at most.",
    )
    outbox_warn_ratio: Annotated[float, Field(gt=0, le=1)] = Field(
        default=0.8, description="Recorder outbox above this share of its bound: an alarm."
    )
    command_failures: Annotated[int, Field(ge=1, le=1000)] = Field(
        default=3, description="A policy's command failing this many times in a row: an alarm."
    )
    rules: list[ThresholdRuleConfig] = []
    aggregates: list[AggregateRuleConfig] = Field(
        default=[], description="Rules on a scope's hourly consumption statistics."
    )
    aggregate_settle_s: Annotated[float, Field(ge=0, le=86400)] = Field(
        default=900.0,
        description="An hour a meter has not closed yet is judged this long after its end anyway.",
    )


class WebhookChannelConfig(StrictModel):
    """JSON POST; with ``secret`` an ``X-Sanjie-Signature: sha256=<HMAC>`` header."""

    id: Slug
    type: Literal["webhook"]
    url: HttpUrl
    secret: str | None = None
    timeout_s: Annotated[float, Field(gt=0, le=120)] = 10.0


class RobotChannelConfig(StrictModel):
    """A WeCom (企业微信) or DingTalk (钉钉) group robot; DingTalk's signed mode with ``secret``."""

    id: Slug
    type: Literal["wecom", "dingtalk"]
    url: HttpUrl
    secret: str | None = None
    timeout_s: Annotated[float, Field(gt=0, le=120)] = 10.0

    @model_validator(mode="after")
    def _wecom_unsigned(self) -> RobotChannelConfig:
        if self.type == "wecom" and self.secret is not None:
            raise ValueError("a WeCom robot has no signing secret (its key is in the URL)")
        return self


class EmailChannelConfig(StrictModel):
    """SMTP with STARTTLS (default) or implicit TLS, and a login when ``username`` is set."""

    id: Slug
    type: Literal["email"]
    host: str = Field(min_length=1)
    port: Annotated[int, Field(ge=1, le=65535)] = 587
    sender: str = Field(min_length=3)
    to: list[str] = Field(min_length=1)
    username: str | None = None
    password: str | None = None
    starttls: bool = Field(default=True, description="Ignored with tls (already encrypted).")
    tls: bool = Field(default=False, description="Implicit TLS (port 465) instead of STARTTLS.")
    timeout_s: Annotated[float, Field(gt=0, le=120)] = 10.0

    @model_validator(mode="after")
    def _login_pair(self) -> EmailChannelConfig:
        if (self.username is None) != (self.password is None):
            raise ValueError("give both username and password, or neither")
        return self


ChannelConfig = Annotated[
    WebhookChannelConfig | RobotChannelConfig | EmailChannelConfig, Field(discriminator="type")
]


class RouteConfig(StrictModel):
    """Alarms of ``min_severity`` or worse (and these buildings/kinds, if given) to channels."""

    channels: list[Slug] = Field(min_length=1)
    min_severity: SeverityName = "warning"
    buildings: list[Slug] = []
    kinds: list[str] = []


class QuietHoursConfig(StrictModel):
    start: LocalTime
    end: LocalTime
    breakthrough: SeverityName = "critical"


class EscalationConfig(StrictModel):
    after_s: Annotated[float, Field(gt=0, le=30 * 86400)]
    channels: list[Slug] = Field(min_length=1)
    min_severity: SeverityName = "warning"


class DigestConfig(StrictModel):
    hour: Annotated[int, Field(ge=0, le=23)] = 8
    channels: list[Slug] = Field(min_length=1)


class NotifyConfig(StrictModel):
    """Channels and who hears of what through them."""

    channels: list[ChannelConfig] = []
    routes: list[RouteConfig] = []
    quiet_hours: QuietHoursConfig | None = None
    escalation: EscalationConfig | None = None
    digest: DigestConfig | None = None
    max_attempts: Annotated[int, Field(ge=1, le=1000)] = 20
    retry_s: Annotated[float, Field(gt=0, le=3600)] = 30.0


class WorkOrdersConfig(StrictModel):
    """Repair work orders (网上报修): SLAs, automatic orders, the public form's limits."""

    sla_s: dict[Category, Annotated[float, Field(gt=0, le=90 * 86400)]] = {}
    auto_kinds: list[str] = Field(
        default=[], description="Alarm kinds that open a work order by themselves."
    )
    public_limit: Annotated[int, Field(ge=1, le=100)] = 3
    public_window_s: Annotated[float, Field(gt=0, le=7 * 86400)] = 3600.0
    photo_max_bytes: Annotated[int, Field(ge=1024, le=20 * 1024 * 1024)] = Field(
        default=5 * 1024 * 1024, description="The largest photo staff may upload to an order."
    )


def check_alarms(
    col: Collector,
    sections: tuple[AlarmsConfig | None, NotifyConfig | None],
    raw: tuple[Any, Any],
    device_ids: set[str],
    buildings: dict[str, Building] | None = None,
) -> None:
    """Channel ids unique and known to routes/escalation/digest; rule entities on real devices;
    aggregate scopes naming buildings, rooms and devices the site has.

    ``sections``: the validated alarms and notify sections; ``raw``: the same as read (for
    positions)."""
    alarms, notify = sections
    if notify is not None:
        _check_channels(col, notify, raw[1])
    if alarms is not None:
        _check_rules(col, alarms, raw[0], device_ids)
        _check_aggregates(col, alarms, raw[0], device_ids, buildings or {})


def _check_channels(col: Collector, notify: NotifyConfig, raw_notify: Any) -> None:
    known: set[str] = set()
    raw_channels = _get(raw_notify, "channels")
    for index, channel in enumerate(notify.channels):
        if channel.id in known:
            col.add(
                col.position(_at(raw_channels, index), "id"),
                ["notify", "channels", index, "id"],
                f"duplicate channel id {channel.id!r}",
            )
        known.add(channel.id)
    refs: list[tuple[list[str | int], list[str], Any]] = [
        (["routes", index], route.channels, _at(_get(raw_notify, "routes"), index))
        for index, route in enumerate(notify.routes)
    ]
    for part in ("escalation", "digest"):
        section = getattr(notify, part)
        if section is not None:
            refs.append(([part], section.channels, _get(raw_notify, part)))
    for path, names, raw in refs:
        raw_names = _get(raw, "channels")
        for index, name in enumerate(names):
            if name not in known:
                col.add(
                    col.position(raw_names, index),
                    ["notify", *path, "channels", index],
                    f"unknown channel {name!r}",
                )


def _check_rules(col: Collector, alarms: AlarmsConfig, raw_alarms: Any, devices: set[str]) -> None:
    raw_rules = _get(raw_alarms, "rules")
    seen: set[str] = set()
    for index, rule in enumerate(alarms.rules):
        raw_rule = _at(raw_rules, index)
        _unique_id(col, seen, rule.id, raw_rule, ["alarms", "rules", index, "id"])
        device = rule.entity.rsplit(".", 1)[0]
        if device not in devices:
            col.add(
                col.position(raw_rule, "entity"),
                ["alarms", "rules", index, "entity"],
                f"no device {device!r} in this site",
            )


def _check_aggregates(
    col: Collector,
    alarms: AlarmsConfig,
    raw_alarms: Any,
    devices: set[str],
    buildings: dict[str, Building],
) -> None:
    raw_rules = _get(raw_alarms, "aggregates")
    seen = {rule.id for rule in alarms.rules}  # one id space: rule:<id> and aggregate:<id>
    for index, rule in enumerate(alarms.aggregates):
        raw_rule = _at(raw_rules, index)
        _unique_id(col, seen, rule.id, raw_rule, ["alarms", "aggregates", index, "id"])
        filters: list[tuple[list[str | int], ScopeFilter]] = [(["scope"], rule.scope)]
        if rule.scope.exclude is not None:
            filters.append((["scope", "exclude"], rule.scope.exclude))
        for path, scope in filters:
            for where, message in scope_refs(path, scope, buildings, devices):
                position, real = locate(raw_rule, where)
                col.add(position, ["alarms", "aggregates", index, *real], message)
        for i, floor in enumerate(rule.scope.floors):
            named = [buildings[b] for b in rule.scope.buildings if b in buildings]
            if named and all(floor > b.floors for b in named):
                position, real = locate(raw_rule, ["scope", "floors", i])
                message = (
                    f"floor {floor} is above the top floor of {', '.join(rule.scope.buildings)}"
                )
                col.add(position, ["alarms", "aggregates", index, *real], message)


def _unique_id(
    col: Collector, seen: set[str], rule_id: str, raw_rule: Any, path: list[str | int]
) -> None:
    """Report ``rule_id`` at its position if a rule before it had the same id."""
    if rule_id in seen:
        col.add(col.position(raw_rule, "id"), path, f"duplicate rule id {rule_id!r}")
    seen.add(rule_id)


def _get(raw: Any, key: str) -> Any:
    return raw.get(key) if isinstance(raw, dict) else None


def _at(raw: Any, index: int) -> Any:
    return raw[index] if isinstance(raw, list) and index < len(raw) else None
