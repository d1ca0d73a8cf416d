"""Threshold rules on readings: "hot-water outlet below 55 °C for 30 min", with hysteresis.

A rule is violated once the value is past its threshold; it raises when that lasted
``duration_s`` (checked on each reading and on ``tick``, so a sensor that stops changing still
raises on time) and clears only when the value is back past threshold ± ``hysteresis`` — a value
hovering at the threshold neither raises nor clears over and over.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from .model import AlarmError, Severity

__all__ = ["RuleChange", "ThresholdRule", "ThresholdRules"]


@dataclass(frozen=True, slots=True)
class ThresholdRule:
    """One rule; exactly one of ``below``/``above``."""

    id: str
    entity_id: str
    below: float | None = None
    above: float | None = None
    hysteresis: float = 0.0
    duration_s: float = 0.0
    severity: Severity = Severity.WARNING

    def __post_init__(self) -> None:
        if (self.below is None) == (self.above is None):
            raise AlarmError(f"rule {self.id}: give exactly one of below/above")
        if self.hysteresis < 0 or self.duration_s < 0:
            raise AlarmError(f"rule {self.id}: hysteresis and duration must be >= 0")

    @classmethod
    def from_config(cls, data: Mapping[str, Any]) -> ThresholdRule:
        """From a site-config mapping; errors name the rule and the field."""
        rid = str(data.get("id", "?"))
        try:
            return cls(
                id=rid,
                entity_id=str(data["entity"]),
                below=None if data.get("below") is None else float(data["below"]),
                above=None if data.get("above") is None else float(data["above"]),
                hysteresis=float(data.get("hysteresis", 0.0)),
                duration_s=float(data.get("duration_s", 0.0)),
                severity=Severity.parse(str(data.get("severity", "warning"))),
            )
        except KeyError as exc:
            raise AlarmError(f"rule {rid}: field {exc.args[0]!r} is required") from None
        except (TypeError, ValueError) as exc:
            raise AlarmError(f"rule {rid}: {exc}") from None

    def violated(self, value: float) -> bool:
        if self.below is not None:
            return value < self.below
        assert self.above is not None
        return value > self.above

    def recovered(self, value: float) -> bool:
        if self.below is not None:
            return value >= self.below + self.hysteresis
        assert self.above is not None
        return value <= self.above - self.hysteresis

    def describe(self) -> str:
        side = f"below {self.below}" if self.below is not None else f"above {self.above}"
        return f"{side} for {self.duration_s:.0f} s"


RuleChange = tuple[ThresholdRule, bool, float, float]
"""(rule, raised?, value, timestamp): True raises, False clears."""


@dataclass(slots=True)
class _RuleState:
    since: float | None = None
    raised: bool = False
    value: float = 0.0


class ThresholdRules:
    """The rules of a site, indexed by entity for the event stream."""

    def __init__(self, rules: Iterable[ThresholdRule]) -> None:
        self._by_entity: dict[str, list[ThresholdRule]] = {}
        self._state: dict[str, _RuleState] = {}
        for rule in rules:
            if rule.id in self._state:
                raise AlarmError(f"rule {rule.id}: duplicate id")
            self._by_entity.setdefault(rule.entity_id, []).append(rule)
            self._state[rule.id] = _RuleState()
        self._rules = {r.id: r for rs in self._by_entity.values() for r in rs}

    @property
    def count(self) -> int:
        return len(self._rules)

    def watches(self, entity_id: str) -> bool:
        """Whether a rule reads ``entity_id`` (the alarm service skips the other readings)."""
        return entity_id in self._by_entity

    def feed(self, entity_id: str, value: object, ts: float) -> list[RuleChange]:
        rules = self._by_entity.get(entity_id)
        if not rules or isinstance(value, (str, bool)) or value is None:
            return []
        v = float(value)  # type: ignore[arg-type]
        out: list[RuleChange] = []
        for rule in rules:
            st = self._state[rule.id]
            st.value = v
            if rule.violated(v):
                if st.since is None:
                    st.since = ts
                if not st.raised and ts - st.since >= rule.duration_s:
                    st.raised = True
                    out.append((rule, True, v, ts))
            elif st.raised:
                if rule.recovered(v):
                    st.raised, st.since = False, None
                    out.append((rule, False, v, ts))
            else:
                st.since = None
        return out

    def tick(self, now: float) -> list[RuleChange]:
        out: list[RuleChange] = []
        for rid, st in self._state.items():
            rule = self._rules[rid]
            if st.since is not None and not st.raised and now - st.since >= rule.duration_s:
                st.raised = True
                out.append((rule, True, st.value, now))
        return out
