"""Routes over campaign reports: generate (Operator), list and download (Viewer).

Generating runs inside the request (a small campus's report takes seconds; the PDF renders
off the event loop); the files are then stored and listed like scheduled ones.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, HTTPException
from fastapi.responses import FileResponse
from pydantic import BaseModel, ConfigDict, Field

from controller.app import Controller
from controller.reports import (
    ReportError,
    ReportInputError,
    ReportRequest,
    parse_scope,
    parse_span,
)
from controller.reports.render import parse_formats
from controller.reports.service import ReportService

from .auth import Operator, Viewer
from .deps import component
from .errors import ApiError, FieldError, responses
from .paging import Page, Paging, paginate

__all__ = ["report_routes"]

_MEDIA = {
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ".pdf": "application/pdf",
    ".html": "text/html; charset=utf-8",
    ".csv": "text/csv; charset=utf-8",
}


class ReportCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    period: str = Field(description="YYYY-MM or YYYY-MM-DD..YYYY-MM-DD", examples=["2026-11"])
    scope: str = Field(default="campus", description="campus, building:ID, floor:ID/N, room:ID/R")
    formats: list[Literal["xlsx", "pdf", "html", "csv"]] = Field(
        default_factory=lambda: ["xlsx", "pdf"]  # type: ignore[arg-type]
    )
    language: Literal["zh", "en"] = "zh"
    baseline: str | None = Field(default=None, description="A chosen baseline period.")


def _bad(err: ReportInputError) -> ApiError:
    problem = FieldError(loc=["body", err.field], msg=err.reason, type="value_error")
    return ApiError(422, str(err), [problem])


def _building(scope: str) -> str | None:
    """The building a stored scope text names (None: the campus)."""
    if scope == "campus":
        return None
    return scope.partition(":")[2].partition("/")[0]


def report_routes(ctrl: Controller) -> APIRouter:
    router = APIRouter(prefix="/api/reports", tags=["reports"], responses=responses(401, 403, 503))

    def service() -> ReportService:
        return component(ctrl, ReportService)

    @router.post("", status_code=201)
    async def create(body: ReportCreate, caller: Operator) -> dict[str, Any]:
        """Generate a report now and store it."""
        try:
            request = ReportRequest(
                parse_span(body.period, "period"),
                parse_scope(body.scope, ctrl.site, "scope"),
                body.language,
                parse_span(body.baseline, "baseline") if body.baseline else None,
            )
            formats = parse_formats(body.formats, "formats")
        except ReportInputError as err:
            raise _bad(err) from err
        caller.check_building(request.scope.building)
        try:
            stored = await service().create(request, formats, by=caller.actor)
        except RuntimeError as err:
            raise HTTPException(503, str(err)) from err
        except ReportError as err:
            raise HTTPException(500, f"report failed: {err}") from err
        return stored.to_json()

    @router.get("")
    async def listing(caller: Viewer, paging: Paging) -> Page[dict[str, Any]]:
        """Stored reports the caller may see, newest first (on request or by a schedule)."""
        visible = [s for s in service().store.list() if caller.account.sees(_building(s.scope))]
        return paginate(visible, paging, lambda s: s.to_json())

    @router.get("/{report_id}/{name}", responses=responses(404), response_model=None)
    async def download(report_id: str, name: str, caller: Viewer) -> FileResponse:
        """One file of a stored report."""
        store = service().store
        try:
            if not caller.account.sees(_building(store.get(report_id).scope)):
                raise HTTPException(404, f"no stored report {report_id!r}")
            path = store.file(report_id, name)
        except ReportError as err:
            raise HTTPException(404, str(err)) from err
        return FileResponse(
            path, media_type=_MEDIA.get(path.suffix, "application/octet-stream"), filename=name
        )

    return router
