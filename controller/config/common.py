"""Small value types shared by the site and profile models."""

from __future__ import annotations

import contextlib
import gc
import re
from collections.abc import Iterator
from typing import Annotated

from pydantic import BaseModel, ConfigDict, StringConstraints

__all__ = [
    "DOTTED_ID_PATTERN",
    "PATTERN_HELP",
    "POINT_KEY_PATTERN",
    "SLUG_PATTERN",
    "SLUG_RE",
    "DottedId",
    "I18nName",
    "Slug",
    "StrictModel",
    "paused_gc",
]

SLUG_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_\-]*$"
DOTTED_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_\-.]*$"
SLUG_RE = re.compile(SLUG_PATTERN)

# Patterns run inside pydantic-core (no Python call per value: sites have 40k devices);
# ``errors.py`` turns a mismatch into the sentence below.
POINT_KEY_PATTERN = r"^[a-z][a-z0-9_]*$"
PATTERN_HELP = {
    SLUG_PATTERN: "is not a valid id: use letters, digits, '-' and '_', starting with a letter "
    "or digit",
    DOTTED_ID_PATTERN: "is not a valid id: use letters, digits, '-', '_' and '.', starting with "
    "a letter or digit",
    POINT_KEY_PATTERN: "is not a valid point key: use lower-case letters, digits and '_', "
    "starting with a letter",
}

Slug = Annotated[str, StringConstraints(pattern=SLUG_PATTERN)]
"""An id segment: safe in entity ids, MQTT topics, InfluxDB tags and URLs."""

DottedId = Annotated[str, StringConstraints(pattern=DOTTED_ID_PATTERN)]
"""A device id: slugs joined by dots (``dorm-1.101.elec``)."""


class StrictModel(BaseModel):
    """Config models reject unknown keys: a typo must be an error, not silently ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class I18nName(StrictModel):
    """A display name in Simplified Chinese (the default) with an optional English form."""

    zh: str
    en: str | None = None

    def get(self, lang: str = "zh") -> str:
        """The name in ``lang``, falling back to Chinese."""
        if lang.startswith("en") and self.en:
            return self.en
        return self.zh


@contextlib.contextmanager
def paused_gc() -> Iterator[None]:
    """Run a bulk build without the cyclic garbage collector.

    Loading a big campus creates millions of small acyclic objects; each generation-2 pass
    walks all of them again, which costs a third of the load time. Cycles made meanwhile are
    collected once the collector is back on.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
