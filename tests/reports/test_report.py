"""Campaign reports over the seeded 70 days: figures against an independent computation,
every format written and read back (PDF as text and PNG pages, XLSX with openpyxl)."""

from __future__ import annotations

import asyncio
import datetime as dt
import subprocess
import zoneinfo
from pathlib import Path

import openpyxl
import pytest
from typer.testing import CliRunner

from controller.cli import app
from controller.recorder import HistoryConsumption, InfluxV1Consumption
from controller.reports import ReportRequest, Scope, build_report, parse_scope, parse_span
from controller.reports.generate import generate
from controller.reports.model import Cell, Column, Report, Table
from controller.reports.render import render_html
from controller.reports.render.cells import EXCEL_FORMATS, show
from controller.reports.render.html import MAX_PRINTED_ROWS
from controller.reports.sources import open_stores
from tests.servers import InfluxServer

from . import truth
from .seed import CAMPAIGN, TZ, Seeded, write_influx

PERIOD = f"{CAMPAIGN[0]}..{CAMPAIGN[1]}"
HEADINGS = [
    "节粮：食堂厨余",
    "光盘之星",
    "三节（节电·节水·节粮）成效报告",
    "总体指标",
    "与基准期对比及节约量",
    "节能之星",
    "策略执行情况",
    "数据质量",
]


def _row(report: Report, table: str, first: str) -> dict[str, object]:
    t = report.table(table)
    row = next(r for r in t.rows if r[0] == first)
    return {c.title: v for c, v in zip(t.columns, row, strict=True)}


async def _report(seeded: Seeded, scope: str = "campus", lang: str = "zh") -> Report:
    request = ReportRequest(parse_span(PERIOD), parse_scope(scope, seeded.site), lang)
    async with open_stores(seeded.site, seeded.data_dir) as stores:
        start, end = request.span.bounds(zoneinfo.ZoneInfo("Asia/Shanghai"))
        audit = await stores.audit(start.timestamp(), end.timestamp())
        return await build_report(seeded.site, stores.source, request, audit=audit)


async def test_campus_figures_match_the_meters(seeded: Seeded) -> None:
    report = await _report(seeded)
    period = truth.campus_totals(seeded, truth.PERIOD_RUNS)
    base = truth.campus_totals(seeded, truth.BASELINE_RUNS)
    days, base_days, people = (
        truth.days(truth.PERIOD_RUNS),
        truth.days(truth.BASELINE_RUNS),
        truth.PEOPLE,
    )
    assert (days, base_days, people) == (35, 28, 26)
    for name, quantity in (("用电", "electricity"), ("冷水", "cold_water"), ("热水", "hot_water")):
        row = _row(report, "compare", name)
        assert row["报告期总量"] == pytest.approx(period[quantity], abs=1e-3)
        assert row["基准期总量"] == pytest.approx(base[quantity], abs=1e-3)
        adjusted = base[quantity] / (people * base_days) * people * days
        assert row["调整后基准"] == pytest.approx(adjusted, abs=1e-3)
        assert row["节约量"] == pytest.approx(adjusted - period[quantity], abs=1e-3)
        assert row["节约率"] == pytest.approx((adjusted - period[quantity]) / adjusted, abs=1e-6)
    kwh_saved = _row(report, "compare", "用电")["节约量"]
    assert _row(report, "compare", "用电")["节约金额（元）"] == pytest.approx(kwh_saved * 0.56)  # type: ignore[operator]
    assert _row(report, "compare", "用电")["减排 kg CO₂"] == pytest.approx(kwh_saved * 0.5703)  # type: ignore[operator]
    summary = {r[0]: r[1] for r in report.table("summary").rows}
    kgce = period["electricity"] * 0.1229
    assert summary["综合能耗"] == pytest.approx(kgce, abs=1e-3)
    assert summary["人均综合能耗"] == pytest.approx(kgce / people, abs=1e-3)
    assert summary["单位面积能耗"] == pytest.approx(kgce / 2400.0, abs=1e-3)
    water = period["cold_water"] + period["hot_water"]
    assert summary["人均日用水"] == pytest.approx(water * 1000 / people / days, abs=1e-3)


async def test_buildings_rooms_and_days_respect_the_hierarchy(seeded: Seeded) -> None:
    report = await _report(seeded)
    runs = truth.PERIOD_RUNS
    dorm1 = _row(report, "buildings", "1号宿舍楼")
    assert dorm1["用电 kWh"] == pytest.approx(
        truth.used(seeded, ["dorm-1.main.energy"], runs), abs=1e-3
    )
    assert dorm1["冷水 m³"] == pytest.approx(
        truth.used(seeded, ["dorm-1.water.volume"], runs), abs=1e-3
    )
    dorm2 = _row(report, "buildings", "2号宿舍楼")
    assert dorm2["用电 kWh"] == pytest.approx(
        truth.used(seeded, truth.dorm2_rooms("elec.energy"), runs), abs=1e-3
    )
    rooms = report.table("rooms")
    room = next(r for r in rooms.rows if r[0] == "1号宿舍楼" and r[1] == "102")
    kwh = truth.used(seeded, ["dorm-1.102.elec.energy"], runs)
    assert room[4] == pytest.approx(kwh, abs=1e-3)
    assert room[5] == pytest.approx(kwh / 3 / 35, abs=1e-6)
    floor1 = next(r for r in report.table("floors").rows if r[0] == "1号宿舍楼" and r[1] == 1)
    assert floor1[3] == pytest.approx(
        truth.used(seeded, [f"dorm-1.10{i}.elec.energy" for i in (1, 2, 3)], runs), abs=1e-3
    )
    day = CAMPAIGN[0] + dt.timedelta(days=3)
    daily = {r[0]: r for r in report.table("daily").rows}
    expected = truth.used(
        seeded, ["dorm-1.main.energy", *truth.dorm2_rooms("elec.energy")], [(day, day)]
    )
    assert daily[day.isoformat()][1] == pytest.approx(expected, abs=1e-3)
    assert len(daily) == 35


async def test_policies_and_rankings(seeded: Seeded) -> None:
    report = await _report(seeded)
    start = dt.datetime.combine(CAMPAIGN[0], dt.time(), TZ).timestamp()
    end = dt.datetime.combine(CAMPAIGN[1] + dt.timedelta(days=1), dt.time(), TZ).timestamp()
    batches = [(t, on) for t, on in seeded.curfew_log if start <= t < end]
    hours, off = 0.0, None
    for t, on in batches:
        if not on:
            off = t
        elif off is not None:
            hours, off = hours + (t - off) / 3600, None
    if off is not None:
        hours += (end - off) / 3600
    curfew = _row(report, "policies", "熄灯断电")
    assert curfew["下发命令"] == len(batches) * seeded.sockets
    assert str(curfew["说明"]).endswith(f"{hours * seeded.sockets:.1f}")
    stars = report.table("star_energy").rows
    assert stars, "the curfew lowered the rooms' use: someone is most improved"
    assert [r[0] for r in stars] == list(range(1, len(stars) + 1))
    changes = [r[5] for r in stars]
    assert changes == sorted(changes)  # type: ignore[type-var]


async def test_food_waste_per_diner(seeded: Seeded) -> None:
    report = await _report(seeded)
    scales = ["canteen-1.scale-1.waste", "canteen-1.scale-2.waste"]
    per_diner = {}
    for name, runs in (("period", truth.PERIOD_RUNS), ("base", truth.BASELINE_RUNS)):
        waste = truth.used(seeded, scales, runs)
        diners = truth.used(seeded, ["canteen-1.diners.diners"], runs)
        per_diner[name] = waste / diners
    summary = {r[0]: r[1] for r in report.table("summary").rows}
    assert summary["人均每餐厨余"] == pytest.approx(per_diner["period"], rel=1e-6)
    food = _row(report, "compare", "厨余")
    assert food["基准人均日"] == pytest.approx(per_diner["base"], rel=1e-6)
    assert food["节约率"] == pytest.approx(1 - per_diner["period"] / per_diner["base"], abs=1e-6)
    assert 0.2 < food["节约率"] < 0.45  # type: ignore[operator]  # the 光盘行动 cuts a third
    meals = report.table("food").rows
    assert [r[1] for r in meals] == ["早餐", "午餐", "晚餐"]
    assert sum(r[3] for r in meals) == pytest.approx(  # type: ignore[misc]
        truth.used(seeded, scales, truth.PERIOD_RUNS), abs=1e-3
    )
    assert report.table("star_plate").rows[0][1] == "第一食堂"


async def test_scopes_narrow_the_figures(seeded: Seeded) -> None:
    report = await _report(seeded, "room:dorm-2/101")
    kwh = truth.used(seeded, ["dorm-2.101.elec.energy"], truth.PERIOD_RUNS)
    assert _row(report, "compare", "用电")["报告期总量"] == pytest.approx(kwh, abs=1e-3)
    canteen = await _report(seeded, "canteen:canteen-1", "en")
    assert _row(canteen, "compare", "Electricity")["Period total"] == 0.0
    assert [r[0] for r in canteen.table("food").rows] == ["Canteen 1"] * 3
    floor = await _report(seeded, "floor:dorm-1/2")
    kwh = truth.used(seeded, [f"dorm-1.20{i}.elec.energy" for i in (1, 2, 3)], truth.PERIOD_RUNS)
    assert _row(floor, "compare", "用电")["报告期总量"] == pytest.approx(kwh, abs=1e-3)
    assert sum(r[1] for r in floor.table("daily").rows) == pytest.approx(kwh, abs=1e-3)  # type: ignore[misc]
    building = await _report(seeded, "building:dorm-1", "en")
    assert _row(building, "compare", "Electricity")["Period total"] == pytest.approx(
        truth.used(seeded, ["dorm-1.main.energy"], truth.PERIOD_RUNS), abs=1e-3
    )


async def test_influxdb_answers_the_same_report(
    seeded: Seeded, influxdb: InfluxServer, unique_name: str
) -> None:
    write_influx(influxdb.url, unique_name, seeded.lines)
    request = ReportRequest(parse_span(PERIOD), Scope())
    tz = zoneinfo.ZoneInfo("Asia/Shanghai")
    async with InfluxV1Consumption(influxdb.url, unique_name, tz) as influx:
        from_influx = await build_report(seeded.site, influx, request)
    async with HistoryConsumption.open(seeded.data_dir / "var" / "history.sqlite3", tz) as sqlite:
        from_sqlite = await build_report(seeded.site, sqlite, request)
    for a, b in zip(from_influx.tables, from_sqlite.tables, strict=True):
        if a.key != "quality":
            assert a.rows == b.rows, a.key


async def test_every_format(seeded: Seeded, artifacts: Path) -> None:
    request = ReportRequest(parse_span(PERIOD), Scope())
    report, files = await generate(
        seeded.site,
        seeded.data_dir,
        request,
        formats=("xlsx", "pdf", "html", "csv"),
        out_dir=artifacts,
    )
    await asyncio.to_thread(_check_files, report, files, artifacts)


def _check_files(report: Report, files: list[Path], artifacts: Path) -> None:
    by_suffix = {p.suffix for p in files}
    assert by_suffix == {".xlsx", ".pdf", ".html", ".csv"}
    pdf = next(p for p in files if p.suffix == ".pdf")
    words = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True)
    for heading in HEADINGS:
        assert heading in words.stdout, heading
    fonts = subprocess.run(["pdffonts", str(pdf)], capture_output=True, text=True, check=True)
    cjk = [line for line in fonts.stdout.splitlines() if "Noto-Sans-CJK" in line]
    assert cjk, fonts.stdout
    assert all(line.split()[-5:-3] == ["yes", "yes"] for line in cjk)  # embedded, subset
    for old in artifacts.glob("page-*.png"):
        old.unlink()
    subprocess.run(["pdftoppm", "-r", "60", "-png", str(pdf), str(artifacts / "page")], check=True)
    assert sorted(artifacts.glob("page-*.png"))
    book = openpyxl.load_workbook(next(p for p in files if p.suffix == ".xlsx"))
    assert {"逐日用量", "分楼栋", "分房间", "节能之星", "策略动作", "数据质量"} <= set(
        book.sheetnames
    )
    assert len(book.sheetnames) == len(report.tables)  # cover (with the summary) + one per table
    for sheet, charts in (("逐日用量", 1), ("分楼栋", 2)):
        ws = book[sheet]
        assert len(ws._charts) == charts  # type: ignore[attr-defined]  # private list
    html = next(p for p in files if p.suffix == ".html").read_text(encoding="utf-8")
    assert "echarts.init" in html  # the vendored copy, inline: no CDN, opens offline
    assert "<script src=" not in html
    csvs = [p for p in files if p.suffix == ".csv"]
    assert len(csvs) == len(report.tables)
    rooms_csv = next(p for p in csvs if p.stem.endswith("-rooms")).read_text(encoding="utf-8-sig")
    assert rooms_csv.splitlines()[0].startswith("楼栋,房间")
    _check_circuit_shares(report, files, words.stdout, book)


def _check_circuit_shares(
    report: Report, files: list[Path], pdf_text: str, book: openpyxl.Workbook
) -> None:
    """分项计量 prints each circuit's share unsigned (100.0%), as every share column does: a plus
    sign belongs to a change against the baseline, and "+100.0%" read as a doubling."""
    table = report.table("circuits")
    assert table.rows
    assert table.columns[-1].style == "share"
    shown = [show(row[-1], table.columns[-1]) for row in table.rows]
    assert all(s.endswith("%") and not s.startswith(("+", "-")) for s in shown), shown
    heading = "五、分项计量"  # the section's one table prints under the section heading
    section = pdf_text.split(heading, 1)[1].split("六、", 1)[0]
    assert all(s in section for s in shown), section
    assert "+" not in section, section
    html = next(p for p in files if p.suffix == ".html").read_text(encoding="utf-8")
    rows = html.split(heading, 1)[1].split("</table>", 1)[0]
    assert all(f'<td class="num">{s}</td>' in rows for s in shown), rows
    assert "+" not in rows, rows
    ws = book[table.title]
    formats = {ws.cell(row, len(table.columns)).number_format for row in range(3, ws.max_row + 1)}
    assert formats - {"General"} == {EXCEL_FORMATS["share"]}, formats
    csv_file = next(p for p in files if p.stem.endswith("-circuits"))
    lines = csv_file.read_text(encoding="utf-8-sig").splitlines()[1:]
    shares = [float(line.rsplit(",", 1)[1]) for line in lines]
    assert shares
    assert all(0 < s <= 1 for s in shares)  # a fraction, as the other share columns


def test_cli_writes_the_files_with_a_progress_bar(seeded: Seeded, tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app,
        [
            "report",
            "--site",
            str(seeded.data_dir / "site.yaml"),
            "--data-dir",
            str(seeded.data_dir),
            "--period",
            "2026-11",
            "--scope",
            "building:dorm-2",
            "--format",
            "csv,xlsx",
            "--lang",
            "en",
            "--out",
            str(tmp_path),
        ],
    )
    assert result.exit_code == 0, result.output
    assert (tmp_path / "report-20261101-20261130-building-dorm-2-en.xlsx").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--period", "2026-13"], "--period: '2026-13': month must be 01–12"),
        (["--period", "2026-11", "--scope", "building:nope"], "--scope: unknown building 'nope'"),
        (["--period", "2026-11", "--format", "docx"], "--format: unknown format(s) ['docx']"),
    ],
)
def test_cli_bad_input_is_one_clear_line(seeded: Seeded, args: list[str], message: str) -> None:
    result = CliRunner().invoke(
        app,
        [
            "report",
            "--site",
            str(seeded.data_dir / "site.yaml"),
            "--data-dir",
            str(seeded.data_dir),
            *args,
        ],
    )
    assert result.exit_code == 1
    assert message in result.output


def test_print_formats_cut_long_tables_and_say_so() -> None:
    rows: list[tuple[Cell, ...]] = [(f"room-{i}", float(i)) for i in range(MAX_PRINTED_ROWS + 1)]
    table = Table("rooms", "分房间", (Column("房间", "text"), Column("用电 kWh")), rows)
    report = Report(
        "zh", "t", "s", dt.datetime(2026, 12, 1, tzinfo=TZ), [], [table], [], [("h", ["rooms"])]
    )
    page = render_html(report, for_pdf=True)
    assert f"room-{MAX_PRINTED_ROWS - 1}<" in page
    assert f"room-{MAX_PRINTED_ROWS}<" not in page
    assert f"共 {MAX_PRINTED_ROWS + 1} 行" in page
