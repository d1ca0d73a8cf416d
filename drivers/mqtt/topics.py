"""Subscriptions: the fewest topic filters that cover every topic the devices use.

Topics made from one template differ only where the device's base or id goes, so each template
becomes one wildcard filter (``bath1/shower/+/state``) instead of one subscription per device.
Messages on matching topics that no device uses are dropped by the dispatch dict.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

__all__ = ["covers", "subscription_filters"]


def subscription_filters(topics: Iterable[tuple[str | None, str]]) -> list[str]:
    """Filters for ``(template, topic)`` pairs; topics without a template are exact filters."""
    groups: dict[tuple[str, int], list[list[str]]] = defaultdict(list)
    exact: set[str] = set()
    for template, topic in topics:
        levels = topic.split("/")
        if template is None:
            exact.add(topic)
        else:
            groups[(template, len(levels))].append(levels)
    filters = set(exact)
    for members in groups.values():
        if len(members) == 1:
            filters.add("/".join(members[0]))
            continue
        merged = [
            level if all(m[i] == level for m in members) else "+"
            for i, level in enumerate(members[0])
        ]
        filters.add("/".join(merged))
    return sorted(f for f in filters if not any(o != f and covers(o, f) for o in filters))


def covers(outer: str, inner: str) -> bool:
    """Whether every topic matching filter ``inner`` also matches filter ``outer``."""
    out_levels = outer.split("/")
    in_levels = inner.split("/")
    for i, level in enumerate(out_levels):
        if level == "#":
            return True
        if i >= len(in_levels):
            return False
        if level == "+":
            if in_levels[i] == "#":
                return False
            continue
        if level != in_levels[i]:
            return False
    return len(out_levels) == len(in_levels)
