"""Loading the site file for a ``sanjie`` command: every configuration error printed, exit 1.

Its own module so that ``controller.cli`` and the command groups it registers
(``cli_report``, ``cli_commission``, …) share it without importing each other.
"""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from controller.config import ConfigError, LoadedSite, load_site

__all__ = ["EXIT_INVALID", "load_or_exit"]

EXIT_INVALID = 1
_ERR = Console(stderr=True, soft_wrap=True)


def load_or_exit(path: Path) -> LoadedSite:
    """Load a site, or print every configuration error (file:line:col field: why) and exit 1."""
    try:
        return load_site(path)
    except ConfigError as err:
        for issue in err.issues:
            _ERR.print(str(issue), markup=False, highlight=False)
        _ERR.print(f"[red]{len(err.issues)} error(s)[/red] in {path}")
        raise typer.Exit(EXIT_INVALID) from None
