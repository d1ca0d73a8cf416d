"""Small value types shared by the site and profile models."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict

__all__ = ["SLUG_RE", "I18nName", "Slug", "StrictModel"]

SLUG_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_\-]*$")


def _slug(value: str) -> str:
    if not SLUG_RE.match(value):
        raise ValueError(
            f"{value!r} is not a valid id: use letters, digits, '-' and '_', starting with a "
            "letter or digit"
        )
    return value


Slug = Annotated[str, AfterValidator(_slug)]
"""An id segment: safe in entity ids, MQTT topics, InfluxDB tags and URLs."""


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
