"""The 节粮 section over the seeded 70 days: the 光盘 rate, waste by line, bin and meal, and diner
counts imported from a card-system CSV, each against the models' own counter readings."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from controller.cli import app
from controller.config import load_site
from controller.reports import ReportRequest, Scope, build_report, parse_span
from controller.reports.diners import DinerCount, DinerStore, parse_diner_csv
from controller.reports.errors import DinerCsvError
from controller.reports.generate import generate
from controller.reports.model import Report
from controller.reports.sources import open_stores

from . import truth
from .seed import CAMPAIGN, Seeded

PERIOD = f"{CAMPAIGN[0]}..{CAMPAIGN[1]}"
MEALS = {"breakfast": "早餐", "lunch": "午餐", "dinner": "晚餐"}
DINERS = ["canteen-1.diners.diners"]


async def _report(seeded: Seeded, diners: list[DinerCount] | None = None) -> Report:
    request = ReportRequest(parse_span(PERIOD), Scope())
    async with open_stores(seeded.site, seeded.data_dir) as stores:
        return await build_report(seeded.site, stores.source, request, diners=diners or [])


async def test_clean_plate_rate_per_meal(seeded: Seeded) -> None:
    report = await _report(seeded)
    rows = {r[1]: r for r in report.table("plates").rows}
    assert list(rows) == list(MEALS.values())
    for meal, name in MEALS.items():
        counts = {}
        for key, runs in (("now", truth.PERIOD_RUNS), ("base", truth.BASELINE_RUNS)):
            plates = truth.meal_used(seeded, ["canteen-1.plates.plates"], runs, meal)
            clean = truth.meal_used(seeded, ["canteen-1.plates.clean_plates"], runs, meal)
            counts[key] = (plates, clean, clean / plates)
        canteen, _, checked, clean_shown, rate, base_rate, points = rows[name]
        assert canteen == "第一食堂"
        assert (checked, clean_shown) == (round(counts["now"][0]), round(counts["now"][1]))
        assert rate == pytest.approx(counts["now"][2], rel=1e-9)
        assert base_rate == pytest.approx(counts["base"][2], rel=1e-9)
        assert points == pytest.approx((counts["now"][2] - counts["base"][2]) * 100, rel=1e-9)
        # the models: 55 % clean before the 光盘行动, 75 % with it (whole plates, so roughly)
        assert 0.73 < rate < 0.77  # type: ignore[operator]
        assert 0.53 < base_rate < 0.57  # type: ignore[operator]


async def test_waste_split_by_line_bin_and_meal(seeded: Seeded) -> None:
    report = await _report(seeded)
    rows = {(r[1], r[2], r[3]): r for r in report.table("food_split").rows}
    scales = {
        ("1", "餐盘剩余"): "canteen-1.scale-1.waste",
        ("2", "后厨备餐"): "canteen-1.scale-2.waste",
    }
    assert len(rows) == len(scales) * len(MEALS)
    total = truth.used(seeded, scales.values(), truth.PERIOD_RUNS)
    for (line, bin_), entity in scales.items():
        for meal, name in MEALS.items():
            row = rows[(line, bin_, name)]
            kg = truth.meal_used(seeded, [entity], truth.PERIOD_RUNS, meal)
            base = truth.meal_used(seeded, [entity], truth.BASELINE_RUNS, meal)
            assert row[4] == pytest.approx(kg, abs=1e-3)
            assert row[5] == pytest.approx(kg / total, rel=1e-6)
            assert row[6] == pytest.approx(base, abs=1e-3)
            assert row[7] == pytest.approx(kg / base - 1, rel=1e-6)
    assert sum(r[5] for r in rows.values()) == pytest.approx(1.0)  # type: ignore[misc]


async def test_imported_diners_replace_the_counter_for_their_meals(seeded: Seeded) -> None:
    days = [CAMPAIGN[0] + dt.timedelta(days=n) for n in range(3)]
    text = "canteen,date,meal,count\n" + "".join(f"canteen-1,{d},午餐,1000\n" for d in days)
    report = await _report(seeded, parse_diner_csv(text, seeded.site))
    lunch = next(r for r in report.table("food").rows if r[1] == "午餐")
    metered = truth.meal_used(seeded, DINERS, [(days[0], days[-1])], "lunch")
    diners = truth.meal_used(seeded, DINERS, truth.PERIOD_RUNS, "lunch") - metered + 3 * 1000
    scales = ["canteen-1.scale-1.waste", "canteen-1.scale-2.waste"]
    waste = truth.meal_used(seeded, scales, truth.PERIOD_RUNS, "lunch")
    assert lunch[2] == round(diners)
    assert lunch[4] == pytest.approx(waste / diners, rel=1e-6)
    assert "3 个餐次" in report.table("food").note
    dinner = next(r for r in report.table("food").rows if r[1] == "晚餐")
    assert dinner[2] == round(truth.meal_used(seeded, DINERS, truth.PERIOD_RUNS, "dinner"))


BAD = """\
canteen,date,meal,count
canteen-1,2026-11-02,lunch,1200
dorm-1,2026-11-02,lunch,5
canteen-1,2026-13-01,lunch,5
canteen-1,2026-11-02,supper,5
canteen-1,2026-11-03,dinner,-3
canteen-1,2026-11-02,午餐,7
canteen-1,2026-11-03,lunch
"""


def test_bad_rows_are_refused_with_line_and_field(seeded: Seeded) -> None:
    with pytest.raises(DinerCsvError) as caught:
        parse_diner_csv(BAD, seeded.site)
    assert [(line, field) for line, field, _ in caught.value.problems] == [
        (3, "canteen"),
        (4, "date"),
        (5, "meal"),
        (6, "count"),
        (7, "meal"),
        (8, "row"),
    ]
    assert "repeats line 2" in caught.value.problems[4][2]
    with pytest.raises(DinerCsvError, match="header"):
        parse_diner_csv("canteen;date;meal;count\n", seeded.site)


def test_reimport_is_idempotent(seeded: Seeded, tmp_path: Path) -> None:
    rows = parse_diner_csv("\ufeffcanteen,date,meal,count\ncanteen-1,2026-11-02,lunch,1200\n"
                           "canteen-1,2026-11-02,晚餐,900\n", seeded.site)  # fmt: skip
    store = DinerStore(tmp_path / "diners.sqlite3")
    try:
        first = store.put(rows, source="a", now=1.0)
        again = store.put(rows, source="a", now=2.0)
        fixed = store.put([DinerCount("canteen-1", dt.date(2026, 11, 2), "lunch", 1250)],
                          source="b", now=3.0)  # fmt: skip
        assert (first.added, first.changed, first.unchanged) == (2, 0, 0)
        assert (again.added, again.changed, again.unchanged) == (0, 0, 2)
        assert (fixed.added, fixed.changed, fixed.unchanged) == (0, 1, 0)
        assert [r.count for r in store.between(dt.date(2026, 11, 1), dt.date(2026, 11, 30))] == [
            900,
            1250,
        ]
    finally:
        store.close()


async def test_cli_import_reaches_the_generated_report(seeded: Seeded, tmp_path: Path) -> None:
    folder = tmp_path / "campus"
    shutil.copytree(seeded.data_dir, folder)
    csv = tmp_path / "card-export.csv"
    csv.write_text(f"canteen,date,meal,count\ncanteen-1,{CAMPAIGN[0]},dinner,777\n", "utf-8")
    runner = CliRunner()
    args = ["diners", "import", str(csv), "--site", str(folder / "site.yaml")]
    done = runner.invoke(app, [*args, "--data-dir", str(folder)])
    assert done.exit_code == 0, done.output
    assert "1 row(s): 1 added, 0 changed, 0 already imported" in done.output
    again = runner.invoke(app, [*args, "--data-dir", str(folder)])
    assert "0 added, 0 changed, 1 already imported" in again.output
    listed = runner.invoke(
        app,
        ["diners", "list", "--from", "2026-10-01", "--to", "2026-12-31", "--data-dir", str(folder)],
    )
    assert listed.output.splitlines() == [
        "canteen,date,meal,count",
        f"canteen-1,{CAMPAIGN[0]},dinner,777",
    ]
    bad = tmp_path / "bad.csv"
    bad.write_text(BAD, "utf-8")
    refused = runner.invoke(app, ["diners", "import", str(bad), "--site", str(folder / "site.yaml"),
                                  "--data-dir", str(folder)])  # fmt: skip
    assert refused.exit_code == 2
    assert f"{bad}:3: canteen: 'dorm-1' is not a canteen" in refused.output
    site = load_site(folder / "site.yaml")
    report, _ = await generate(
        site, folder, ReportRequest(parse_span(PERIOD), Scope()), formats=["csv"], out_dir=tmp_path
    )
    dinner = next(r for r in report.table("food").rows if r[1] == "晚餐")
    day = CAMPAIGN[0]
    metered = truth.meal_used(seeded, DINERS, [(day, day)], "dinner")
    expected = truth.meal_used(seeded, DINERS, truth.PERIOD_RUNS, "dinner") - metered + 777
    assert dinner[2] == round(expected)
