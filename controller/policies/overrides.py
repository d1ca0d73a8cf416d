"""Overrides: temporary exemptions from policies for some devices, ending by themselves.

Staff grant an exemption (scope, policy or all policies, reason, who, until when), e.g. AC for
a sick student; a staff member's manual command that goes against a policy is an override too.
While an override covers a unit, the policy's wants for it are dropped; when it expires or is
ended early, the policy resumes.
"""

from __future__ import annotations

import heapq
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = ["Override", "OverrideBook", "OverrideKind"]

OverrideKind = Literal["exemption", "manual"]


@dataclass(frozen=True, slots=True)
class Override:
    """An exemption of ``devices`` from ``policies`` (None: every policy) until ``expires_at``."""

    id: str
    kind: OverrideKind
    policies: frozenset[str] | None
    devices: frozenset[str]
    reason: str
    actor: str
    created_at: float
    expires_at: float
    scope: dict[str, Any] = field(default_factory=dict)
    entity_id: str | None = None

    def applies_to(self, policy_id: str) -> bool:
        return self.policies is None or policy_id in self.policies

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "policies": None if self.policies is None else sorted(self.policies),
            "devices": sorted(self.devices),
            "reason": self.reason,
            "actor": self.actor,
            "created_at": self.created_at,
            "expires_at": self.expires_at,
            "scope": self.scope,
            "entity_id": self.entity_id,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Override:
        policies = data.get("policies")
        return cls(
            id=str(data["id"]),
            kind="manual" if data.get("kind") == "manual" else "exemption",
            policies=None if policies is None else frozenset(policies),
            devices=frozenset(data.get("devices") or ()),
            reason=str(data.get("reason", "")),
            actor=str(data.get("actor", "")),
            created_at=float(data["created_at"]),
            expires_at=float(data["expires_at"]),
            scope=dict(data.get("scope") or {}),
            entity_id=data.get("entity_id"),
        )


class OverrideBook:
    """The active overrides, indexed by device and by expiry."""

    def __init__(self) -> None:
        self._active: dict[str, Override] = {}
        self._by_device: dict[str, set[str]] = defaultdict(set)
        self._expiry: list[tuple[float, str]] = []

    def __len__(self) -> int:
        return len(self._active)

    def __bool__(self) -> bool:
        return bool(self._active)

    def add(self, override: Override) -> None:
        self._active[override.id] = override
        for device in override.devices:
            self._by_device[device].add(override.id)
        heapq.heappush(self._expiry, (override.expires_at, override.id))

    def remove(self, override_id: str) -> Override | None:
        override = self._active.pop(override_id, None)
        if override is not None:
            for device in override.devices:
                ids = self._by_device.get(device)
                if ids is not None:
                    ids.discard(override_id)
                    if not ids:
                        del self._by_device[device]
        return override

    def get(self, override_id: str) -> Override | None:
        return self._active.get(override_id)

    def active(self) -> list[Override]:
        return sorted(self._active.values(), key=lambda o: o.expires_at)

    def covers(self, policy_id: str, devices: Iterable[str], now: float) -> Override | None:
        """The override exempting any of ``devices`` from ``policy_id`` at ``now``, if any."""
        by_device = self._by_device
        for device in devices:
            ids = by_device.get(device)
            if not ids:
                continue
            for oid in ids:
                override = self._active[oid]
                if override.expires_at > now and override.applies_to(policy_id):
                    return override
        return None

    def expire(self, now: float) -> list[Override]:
        """Remove and return the overrides whose time is up."""
        out = []
        while self._expiry and self._expiry[0][0] <= now:
            _, oid = heapq.heappop(self._expiry)
            override = self._active.get(oid)
            if override is not None and override.expires_at <= now:
                self.remove(oid)
                out.append(override)
        return out

    def next_expiry(self) -> float | None:
        while self._expiry and self._expiry[0][1] not in self._active:
            heapq.heappop(self._expiry)
        return self._expiry[0][0] if self._expiry else None
