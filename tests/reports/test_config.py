"""The ``reports`` section and ``floor_area_m2``: defaults, and errors with file:line:col."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from controller.config import ConfigError, load_site
from controller.config.reports import BaselineSpan

SITE = """\
campus: {id: t, name: {zh: 校区}}
buildings:
  - {id: dorm-1, kind: dorm, name: {zh: 1号楼}, floor_area_m2: %s}
reports:
  kgce_per_kwh: %s
  baseline: {start: 2026-05-01, end: %s}
  tariffs: {electricity: 0.61}
"""


def test_settings_load_with_their_defaults(tmp_path: Path) -> None:
    path = tmp_path / "site.yaml"
    path.write_text(SITE % ("1200", "0.1229", "2026-06-30"), encoding="utf-8")
    site = load_site(path)
    assert site.buildings["dorm-1"].floor_area_m2 == 1200.0
    assert site.reports.tariffs.electricity == 0.61
    assert site.reports.tariffs.cold_water == 4.1
    assert site.reports.co2_kg_per_kwh == 0.5703
    assert site.reports.baseline == BaselineSpan(
        start=dt.date(2026, 5, 1), end=dt.date(2026, 6, 30)
    )
    assert site.reports.vacation == "exclude"


def test_bad_settings_point_at_file_line_and_field(tmp_path: Path) -> None:
    path = tmp_path / "site.yaml"
    path.write_text(SITE % ("0", "-1", "2026-04-01"), encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_site(path)
    issues = {
        (i.position.line if i.position else 0, i.path): i.message for i in caught.value.issues
    }
    lines = {key[0] for key in issues}
    assert 3 in lines  # floor_area_m2 on the building's line
    assert 5 in lines  # kgce_per_kwh
    assert 6 in lines  # the baseline that ends before it starts
    text = "\n".join(str(i) for i in caught.value.issues)
    assert "floor_area_m2" in text
    assert "reports.kgce_per_kwh" in text
    assert "ends 2026-04-01 before it starts 2026-05-01" in text
    assert str(path) in text
