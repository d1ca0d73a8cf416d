"""What the policy engine tells people: the audit log (who, what, why) and recent actions.

Every change by staff or by the engine goes through here, so no path can change the engine's
state without a record; ``require`` turns away a change that names no actor or no reason.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from typing import Any

from controller.audit import AuditLog

from .errors import Invalid
from .overrides import Override

__all__ = ["Journal", "override_target", "require"]


class Journal:
    """Audit records (when an ``AuditLog`` is attached) and the live view's last 100 actions."""

    def __init__(self, audit: AuditLog | None) -> None:
        self.audit_log = audit
        self.recent: deque[dict[str, Any]] = deque(maxlen=100)

    def audit(
        self,
        actor: str,
        action: str,
        target: str,
        reason: str,
        *,
        details: Mapping[str, Any] | None = None,
    ) -> None:
        if self.audit_log is not None:
            self.audit_log.record(
                actor, action, target, reason=reason, source="policies", details=details
            )

    def note(self, kind: str, ts: float, target: str, value: Any, text: str) -> None:
        """Remember an action for the live view (the audit log has the full record)."""
        # The value as text: metrics turn numeric leaves of status() into gauges.
        self.recent.append(
            {"ts": ts, "kind": kind, "target": target, "value": str(value), "text": text}
        )


def require(actor: str, reason: str) -> None:
    """Every staff change names who acts and why (``Invalid`` otherwise)."""
    if not actor.strip():
        raise Invalid("actor", "who is acting (actor) is required")
    if not reason.strip():
        raise Invalid("reason", "a reason is required")


def override_target(override: Override) -> str:
    """The audit target of an override: its one device, or how many it covers."""
    devices = sorted(override.devices)
    return devices[0] if len(devices) == 1 else f"{len(devices)} devices"
