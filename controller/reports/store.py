"""Stored reports: one folder per generated report with a manifest, listed newest first.

Reports generated from the API or by a schedule are kept under the controller's state folder
(``<state>/reports/<id>/``) so staff can download them later. Ids are made here (time plus
random), and a download names a file the manifest lists, so no request path reaches outside.
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from .errors import ReportStoreError

__all__ = ["ReportStore", "StoredReport"]


@dataclass(frozen=True, slots=True)
class StoredReport:
    id: str
    created: str
    period: str
    baseline: str
    scope: str
    language: str
    files: tuple[str, ...]
    by: str
    schedule: str | None = None

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["files"] = list(self.files)
        return data


class ReportStore:
    """A folder of generated reports."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def new_id(self, now: dt.datetime) -> str:
        return f"{now:%Y%m%dT%H%M%S}-{secrets.token_hex(3)}"

    def folder_of(self, report_id: str) -> Path:
        if not report_id or "/" in report_id or "\\" in report_id or report_id.startswith("."):
            raise ReportStoreError(f"no stored report {report_id!r}")
        return self.folder / report_id

    def save(self, stored: StoredReport) -> StoredReport:
        folder = self.folder_of(stored.id)
        try:
            folder.mkdir(parents=True, exist_ok=True)
            (folder / "manifest.json").write_text(
                json.dumps(stored.to_json(), ensure_ascii=False, indent=1), encoding="utf-8"
            )
        except OSError as err:
            raise ReportStoreError(f"cannot store report {stored.id}: {err}") from err
        return stored

    def get(self, report_id: str) -> StoredReport:
        path = self.folder_of(report_id) / "manifest.json"
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            data["files"] = tuple(data["files"])
            return StoredReport(**data)
        except (OSError, ValueError, TypeError, KeyError) as err:
            raise ReportStoreError(f"no stored report {report_id!r}") from err

    def list(self) -> list[StoredReport]:
        if not self.folder.is_dir():
            return []
        found = []
        for child in sorted(self.folder.iterdir(), reverse=True):
            if (child / "manifest.json").is_file():
                try:
                    found.append(self.get(child.name))
                except ReportStoreError:
                    continue
        return found

    def file(self, report_id: str, name: str) -> Path:
        """The path of one listed file of a stored report."""
        stored = self.get(report_id)
        if name not in stored.files:
            raise ReportStoreError(f"report {report_id} has no file {name!r}")
        return self.folder_of(report_id) / name
