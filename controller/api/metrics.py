"""Prometheus text exposition of the controller's figures.

Components report plain nested dicts from ``status()``; every numeric leaf becomes a gauge named
after its path (``sanjie_recorder_outbox_depth``), and a dict keyed by a bus, device or building
becomes a label. No client library is needed for read-only gauges.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from typing import Any

__all__ = ["render_metrics"]

_NAME_RE = re.compile(r"[^a-zA-Z0-9_]")


def _name(parts: list[str]) -> str:
    return _NAME_RE.sub("_", "_".join(["sanjie", *parts])).lower()


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _leaves(
    data: Any, path: list[str], labels: dict[str, str]
) -> Iterator[tuple[str, dict[str, str], float]]:
    if isinstance(data, bool):
        yield _name(path), labels, float(data)
    elif isinstance(data, int | float):
        if math.isfinite(data):
            yield _name(path), labels, float(data)
    elif isinstance(data, dict):
        keyed = data and all(isinstance(v, dict) for v in data.values()) and len(path) >= 2
        for key, value in data.items():
            if keyed:
                # {"buses": {"gw-1": {...}}} → sanjie_modbus_buses_x{key="gw-1"}
                yield from _leaves(value, path, {**labels, "key": str(key)})
            else:
                yield from _leaves(value, [*path, str(key)], labels)


def render_metrics(status: dict[str, Any]) -> str:
    """``# TYPE`` lines and samples for every numeric leaf of ``status``."""
    samples: dict[str, list[str]] = {}
    for name, labels, value in _leaves(status, [], {}):
        label_text = ",".join(f'{k}="{_escape(v)}"' for k, v in sorted(labels.items()))
        sample = f"{name}{{{label_text}}} {value!r}" if label_text else f"{name} {value!r}"
        samples.setdefault(name, []).append(sample)
    lines = []
    for name, rows in sorted(samples.items()):
        lines.append(f"# TYPE {name} gauge")
        lines.extend(rows)
    return "\n".join(lines) + "\n"
