"""Results remembered per object for as long as the object lives.

For values derived from configuration objects that cannot be hashed (frozen pydantic models
and dataclasses holding dicts) and are asked for many times: a campus's 40k devices share a
few dozen profile points, and the policy engine and the alarm service index the same site.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import Generic, TypeVar

__all__ = ["IdentityCache"]

K = TypeVar("K")
V = TypeVar("V")


class IdentityCache(Generic[K, V]):
    """``make(obj)`` once per live object, found by identity; forgotten when it is collected
    (so a new object that reuses the address is never given an old result)."""

    def __init__(self, make: Callable[[K], V]) -> None:
        self._make = make
        self._found: dict[int, V] = {}

    def __call__(self, obj: K) -> V:
        key = id(obj)
        try:
            return self._found[key]
        except KeyError:
            pass
        value = self._make(obj)
        self._found[key] = value
        weakref.finalize(obj, self._found.pop, key, None)
        return value

    def __len__(self) -> int:
        return len(self._found)
