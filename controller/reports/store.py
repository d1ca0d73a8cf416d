"""Stored reports: one folder per generated report with a manifest, listed newest first.

Reports generated from the API or by a schedule are kept under the controller's state folder
(``<state>/reports/<id>/``) so staff can download them later. Ids are made here (time plus
random), and a download names a file the manifest lists, so no request path reaches outside.
A build writes into a hidden staging folder (``.building-<id>``) and is renamed into place with
its manifest only when every file is complete, so a build cut off half-way (a failure, a
crash, a restart) never shows a half-written file; leftovers are swept when the service starts.
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from .errors import ReportStoreError

__all__ = ["ReportStore", "StoredReport"]

_STAGING = ".building-"


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

    def staging_of(self, report_id: str) -> Path:
        """Where a build of ``report_id`` writes its files until :meth:`publish`."""
        return self.folder / f"{_STAGING}{self.folder_of(report_id).name}"

    def publish(self, stored: StoredReport) -> StoredReport:
        """Write the manifest into the staging folder and rename it into place (atomic)."""
        staging = self.staging_of(stored.id)
        try:
            _write_manifest(staging, stored)
            staging.rename(self.folder_of(stored.id))
        except OSError as err:
            raise ReportStoreError(f"cannot store report {stored.id}: {err}") from err
        return stored

    def discard(self, report_id: str) -> None:
        """Remove an unfinished build's staging folder (nothing if there is none)."""
        shutil.rmtree(self.staging_of(report_id), ignore_errors=True)

    def sweep(self) -> int:
        """Remove staging folders a stopped or crashed build left; how many."""
        if not self.folder.is_dir():
            return 0
        left = [c for c in self.folder.iterdir() if c.name.startswith(_STAGING)]
        for child in left:
            shutil.rmtree(child, ignore_errors=True)
        return len(left)

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
            if not child.name.startswith(".") and (child / "manifest.json").is_file():
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


def _write_manifest(folder: Path, stored: StoredReport) -> None:
    (folder / "manifest.json").write_text(
        json.dumps(stored.to_json(), ensure_ascii=False, indent=1), encoding="utf-8"
    )
