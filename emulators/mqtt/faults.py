"""Wire faults of emulated MQTT devices: what a flaky device or firmware bug puts on the wire.

Each fault turns one telemetry message into what actually gets published (possibly nothing,
possibly several messages). Random faults come at a per-message ``rate``; tests queue exact
ones with ``inject``.
"""

from __future__ import annotations

import json
import random
from collections import deque
from dataclasses import dataclass, field
from enum import StrEnum

__all__ = ["MqttFault", "MqttFaults", "corrupt"]


class MqttFault(StrEnum):
    MALFORMED_JSON = "malformed_json"
    MISSING_FIELD = "missing_field"
    WRONG_TYPE = "wrong_type"
    DUPLICATE = "duplicate"
    OUT_OF_ORDER = "out_of_order"
    BURST = "burst"
    SILENT_DISCONNECT = "silent_disconnect"
    """Disconnect cleanly (so the broker discards the LWT) and stay silent for a while."""


_RANDOM_DEFAULT = (
    MqttFault.MALFORMED_JSON,
    MqttFault.MISSING_FIELD,
    MqttFault.WRONG_TYPE,
    MqttFault.DUPLICATE,
)


@dataclass
class MqttFaults:
    """The faults one device will show."""

    rate: float = 0.0
    kinds: tuple[MqttFault, ...] = _RANDOM_DEFAULT
    burst_size: int = 20
    silent_seconds: float = 600.0
    pending: deque[MqttFault] = field(default_factory=deque)
    injected: dict[str, int] = field(default_factory=dict)

    def inject(self, fault: MqttFault, count: int = 1) -> None:
        """Apply ``fault`` to the next ``count`` telemetry messages."""
        self.pending.extend([fault] * count)

    def next(self, rng: random.Random) -> MqttFault | None:
        if self.pending:
            fault = self.pending.popleft()
        elif self.rate > 0 and self.kinds and rng.random() < self.rate:
            fault = rng.choice(self.kinds)
        else:
            return None
        self.injected[fault] = self.injected.get(fault, 0) + 1
        return fault


def _leaves(doc: dict[str, object], skip: str | None) -> list[tuple[dict[str, object], str]]:
    """(parent, key) of every scalar in ``doc`` except the timestamp."""
    out: list[tuple[dict[str, object], str]] = []
    for key, value in doc.items():
        if isinstance(value, dict):
            out.extend(_leaves(value, skip))
        elif key != skip:
            out.append((doc, key))
    return out


def corrupt(
    fault: MqttFault, doc: dict[str, object], ts_key: str | None, rng: random.Random
) -> bytes:
    """The payload of a JSON message with a payload-level fault applied (mutates ``doc``)."""
    leaves = _leaves(doc, ts_key)
    if fault is MqttFault.MALFORMED_JSON:
        text = json.dumps(doc)
        return text[: max(1, len(text) // 2)].encode()
    if fault is MqttFault.MISSING_FIELD and leaves:
        parent, key = rng.choice(leaves)
        del parent[key]
    elif fault is MqttFault.WRONG_TYPE and leaves:
        # A number sent as text is the classic firmware bug; words become null.
        numbers = [(p, k) for p, k in leaves if type(p[k]) in (int, float)]
        parent, key = rng.choice(numbers or leaves)
        value = parent[key]
        parent[key] = None if isinstance(value, str) else str(value)
    return json.dumps(doc, separators=(",", ":")).encode()
