"""``sanjie billing …`` on a generated site with a billing section: import, balances, statement,
export, verify, and the import refused while a controller holds the state folder."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import pytest
from openpyxl import load_workbook
from typer.testing import CliRunner

from controller.backup import hold_lock
from controller.billing.statements import SUMMARY_COLUMNS
from controller.cli import app
from controller.service import state_dir

from .conftest import BILLING

BATCH = "流水号,账户,金额,时间,备注\nC-1,dorm-1.101,50.00,2026-03-01 08:00,\nC-2,dorm-1.102,30,,\n"


@pytest.fixture
def billed_site(site_dir: Path, tmp_path: Path) -> Path:
    """A copy of the small site with a ``billing:`` section (JSON is YAML)."""
    copy = tmp_path / "site"
    shutil.copytree(site_dir, copy)
    with (copy / "site.yaml").open("a", encoding="utf-8") as out:
        out.write(f"billing: {json.dumps(BILLING)}\n")
    return copy / "site.yaml"


def sanjie(*args: str | Path) -> tuple[int, str]:
    result = CliRunner().invoke(app, [str(a) for a in args])
    return result.exit_code, result.output


def test_import_balances_statement_export_verify(billed_site: Path, tmp_path: Path) -> None:
    data = tmp_path / "data"
    where = ("--site", billed_site, "--data-dir", data)
    batch = tmp_path / "batch.csv"
    batch.write_bytes(BATCH.encode("gb18030"))  # as a Chinese Windows spreadsheet saves it

    code, out = sanjie("billing", "balances", *where)
    assert code == 1
    assert "no billing ledger" in out

    code, out = sanjie("billing", "import", batch, *where)
    assert code == 0, out
    assert "created 4 room account(s)" in out
    assert "2 applied (80.00 yuan), 0 imported before" in out
    code, out = sanjie("billing", "import", batch, *where)
    assert code == 0, out
    assert "0 applied (0.00 yuan), 2 imported before" in out

    code, out = sanjie("billing", "balances", *where, "--below", "40")
    assert code == 0, out
    assert "dorm-1.102" in out
    assert "30.00" in out
    assert "dorm-1.101" not in out

    code, out = sanjie("billing", "statement", "dorm-1.101", "--format", "json", *where)
    assert code == 0, out
    st = json.loads(out)
    assert (st["opening"], st["top_ups"], st["closing"]) == ("0.00", "50.00", "50.00")
    assert st["entries"][0]["actor"].startswith("cli")
    code, out = sanjie("billing", "statement", "dorm-1.101", *where)
    assert code == 0, out
    assert "closing balance" in out
    assert "C-1" in out

    xlsx = tmp_path / "month.xlsx"
    code, out = sanjie("billing", "export", "--format", "xlsx", "--output", xlsx, *where)
    assert code == 0, out
    sheet = load_workbook(io.BytesIO(xlsx.read_bytes())).active
    assert sheet is not None
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0] == SUMMARY_COLUMNS
    top_ups = {r[0]: r[SUMMARY_COLUMNS.index("top_ups")] for r in rows[1:]}
    assert top_ups == {"dorm-1.101": 50.0, "dorm-1.102": 30.0, "dorm-1.201": 0, "dorm-1.202": 0}

    code, out = sanjie("billing", "verify", *where)
    assert code == 0, out
    assert "2 ledger entries, every balance adds up" in out


def test_a_bad_batch_applies_nothing_and_names_each_line(billed_site: Path, tmp_path: Path) -> None:
    data = tmp_path / "data"
    batch = tmp_path / "batch.csv"
    batch.write_text(BATCH + "C-3,dorm-1.999,5,,\nC-4,dorm-1.101,1.001,,\n", encoding="utf-8")
    code, out = sanjie("billing", "import", batch, "--site", billed_site, "--data-dir", data)
    assert code == 1
    assert "line 4: account: unknown account 'dorm-1.999'" in out
    assert "line 5: amount: at most 2 decimals" in out
    code, out = sanjie("billing", "verify", "--site", billed_site, "--data-dir", data)
    assert "0 ledger entries" in out


def test_import_is_refused_while_the_controller_runs(billed_site: Path, tmp_path: Path) -> None:
    data = tmp_path / "data"
    batch = tmp_path / "batch.csv"
    batch.write_text(BATCH, encoding="utf-8")
    with hold_lock(state_dir(data)):  # what `sanjie run` holds
        code, out = sanjie("billing", "import", batch, "--site", billed_site, "--data-dir", data)
    assert code == 1
    assert "POST /api/billing/import" in out


def test_a_site_without_billing_is_told_so(site_dir: Path, tmp_path: Path) -> None:
    code, out = sanjie("billing", "balances", "--site", site_dir / "site.yaml")
    assert code == 1
    assert "no billing: section" in out
    code, out = sanjie("billing", "export", "--month", "2026-13", "--site", site_dir / "site.yaml")
    assert code == 1
