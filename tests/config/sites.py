"""Helpers for tests that load sites: issues as strings, or the loaded site."""

from __future__ import annotations

from pathlib import Path

import pytest

from controller.config import ConfigError, LoadedSite, load_site


def issues_of(path: Path) -> list[str]:
    """Every issue of a site that must not load, as ``file:line:col path: message``."""
    with pytest.raises(ConfigError) as info:
        load_site(path)
    return [str(issue) for issue in info.value.issues]


def loads(path: Path) -> LoadedSite:
    try:
        return load_site(path)
    except ConfigError as err:
        pytest.fail(str(err))
