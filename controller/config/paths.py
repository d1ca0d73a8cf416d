"""Where the data folders shipped with sanjie live, in a checkout and in an installed wheel."""

from __future__ import annotations

from pathlib import Path

__all__ = ["builtin_dir"]

_PACKAGE = Path(__file__).resolve().parent.parent


def builtin_dir(name: str) -> Path:
    """``profiles``, ``grafana`` or ``examples``: inside the wheel, else at the checkout root."""
    installed = _PACKAGE / "_data" / name
    if installed.is_dir():
        return installed
    return _PACKAGE.parent / name
