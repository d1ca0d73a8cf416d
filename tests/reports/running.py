"""A controller over a copy of the seeded campus, with the recorder and the report service."""

from __future__ import annotations

import datetime as dt
import shutil
from dataclasses import dataclass
from pathlib import Path

from controller.app import Controller
from controller.audit import AuditLog
from controller.config import load_site
from controller.core import FakeClock
from controller.recorder import Recorder
from controller.reports.service import ReportService

from .seed import Seeded

__all__ = ["ReportController", "report_controller"]


@dataclass
class ReportController:
    folder: Path
    clock: FakeClock
    ctrl: Controller
    recorder: Recorder
    audit: AuditLog
    service: ReportService


def report_controller(
    seeded: Seeded, folder: Path, now: dt.datetime, site_extra: str = ""
) -> ReportController:
    """``site_extra`` is appended to the site file (its last section is ``reports:``). The
    recorder is added to the controller; the service is the caller's to add. The caller
    closes ``audit``."""
    shutil.copytree(seeded.data_dir, folder)
    site_file = folder / "site.yaml"
    site_file.write_text(site_file.read_text(encoding="utf-8") + site_extra, encoding="utf-8")
    clock = FakeClock(now.timestamp())
    ctrl = Controller(load_site(site_file), clock)
    recorder = Recorder.from_site(ctrl, data_dir=folder)
    audit = AuditLog(folder / "var" / "audit.sqlite3", clock)
    ctrl.add(recorder)
    return ReportController(
        folder, clock, ctrl, recorder, audit, ReportService(ctrl, recorder, audit)
    )
