"""Small sites written into a temp folder."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

SITE_HEAD = """\
campus: {id: test, name: {zh: 测试校区}}
buildings:
  - id: dorm-1
    kind: dorm
    name: {zh: 一号楼}
    floors: 2
    rooms:
      - {id: "101", floor: 1}
      - {id: "201", floor: 2}
links:
  - {id: gw-1, type: rtu_over_tcp, host: 127.0.0.1, port: 15020}
  - {id: mqtt, type: mqtt}
"""
"""Lines 1–12 of every test site; devices start on line 14 after ``devices:``."""

Writer = Callable[..., Path]


@pytest.fixture
def write_files(tmp_path: Path) -> Writer:
    """Write ``name=text`` files (dedented) under a temp folder; returns that folder."""
    base = tmp_path.resolve()

    def write(**files: str) -> Path:
        for name, text in files.items():
            path = base / name.replace("__", "/")
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(textwrap.dedent(text), encoding="utf-8")
        return base

    return write


@pytest.fixture
def site_with(write_files: Writer) -> Callable[[str], Path]:
    """A site of the standard head plus the given ``devices:`` lines."""

    def make(devices: str) -> Path:
        body = SITE_HEAD + "devices:\n" + textwrap.indent(textwrap.dedent(devices), "  ")
        return write_files(**{"site.yaml": body}) / "site.yaml"

    return make
