"""Routes over campaign reports: build (Operator, as a queued job), list and download (Viewer).

``POST /api/reports`` only queues the build and answers 202 with the job and its ``Location``;
``GET /api/reports/jobs/{id}`` says queued, running (progress steps), done (the stored report
and its file links) or failed (the reason). The builds run on the report service's worker
threads, so no request waits for one and the API's time limit never cuts a big report off.
The web app's report page submits through :func:`submit_report`, the same checks as here.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, HTTPException, Response
from fastapi.responses import FileResponse
from pydantic import BaseModel, ConfigDict, Field

from controller.app import Controller
from controller.reports import ReportError, ReportInputError, ReportRequest, parse_scope, parse_span
from controller.reports.jobs import QueueFull, ReportJob
from controller.reports.render import parse_formats
from controller.reports.service import ReportService, ReportUnavailable
from controller.reports.store import StoredReport

from .auth import Caller, Operator, Viewer
from .deps import component
from .errors import ApiError, FieldError, responses
from .paging import Page, Paging, paginate

__all__ = [
    "ReportCreate",
    "building_of",
    "job_json",
    "report_json",
    "report_routes",
    "submit_report",
]

PREFIX = "/api/reports"

_MEDIA = {
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ".pdf": "application/pdf",
    ".html": "text/html; charset=utf-8",
    ".csv": "text/csv; charset=utf-8",
}


class ReportCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    period: str = Field(description="YYYY-MM or YYYY-MM-DD..YYYY-MM-DD", examples=["2026-11"])
    scope: str = Field(
        default="campus", description="campus, building:ID, canteen:ID, floor:ID/N, room:ID/R"
    )
    formats: list[Literal["xlsx", "pdf", "html", "csv"]] = Field(
        default_factory=lambda: ["xlsx", "pdf"]  # type: ignore[arg-type]
    )
    language: Literal["zh", "en"] = "zh"
    baseline: str | None = Field(default=None, description="A chosen baseline period.")


def _bad(err: ReportInputError) -> ApiError:
    problem = FieldError(loc=["body", err.field], msg=err.reason, type="value_error")
    return ApiError(422, str(err), [problem])


def building_of(scope: str) -> str | None:
    """The building a stored scope text names (None: the campus)."""
    if scope == "campus":
        return None
    return scope.partition(":")[2].partition("/")[0]


def report_json(stored: StoredReport) -> dict[str, Any]:
    """A stored report with a download link per file."""
    data = stored.to_json()
    data["links"] = {name: f"{PREFIX}/{stored.id}/{name}" for name in stored.files}
    return data


def job_json(job: ReportJob) -> dict[str, Any]:
    data = job.to_json()
    data["location"] = f"{PREFIX}/jobs/{job.id}"
    if job.report is not None:
        data["report"] = report_json(job.report)
    return data


def submit_report(
    service: ReportService, ctrl: Controller, caller: Caller, body: ReportCreate
) -> ReportJob:
    """Check and queue one build: 422 naming the field, 403 outside the caller's buildings,
    429 when the queue is full, 503 when the recorder is not running."""
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
        return service.submit(request, formats, by=caller.actor)
    except QueueFull as err:
        raise HTTPException(429, str(err)) from err
    except ReportUnavailable as err:
        raise HTTPException(503, str(err)) from err


def report_routes(ctrl: Controller) -> APIRouter:
    router = APIRouter(prefix=PREFIX, tags=["reports"], responses=responses(401, 403, 503))

    def service() -> ReportService:
        return component(ctrl, ReportService)

    def visible_job(job_id: str, caller: Caller) -> ReportJob:
        job = service().jobs.get(job_id)
        if job is None or not caller.account.sees(job.building):
            raise HTTPException(
                404, f"no report job {job_id!r} (jobs are forgotten when the controller restarts)"
            )
        return job

    @router.post("", status_code=202, responses=responses(422, 429))
    async def create(body: ReportCreate, caller: Operator, response: Response) -> dict[str, Any]:
        """Queue a report build; poll the job at ``Location`` until it is done or failed."""
        job = submit_report(service(), ctrl, caller, body)
        response.headers["Location"] = f"{PREFIX}/jobs/{job.id}"
        return job_json(job)

    @router.get("/jobs")
    async def jobs(caller: Viewer, paging: Paging) -> Page[dict[str, Any]]:
        """Report builds the caller may see, newest first (kept in memory until a restart)."""
        visible = [j for j in service().jobs.list() if caller.account.sees(j.building)]
        return paginate(visible, paging, job_json)

    @router.get("/jobs/{job_id}", responses=responses(404))
    async def job(job_id: str, caller: Viewer) -> dict[str, Any]:
        """One build: ``state`` queued, running (``progress``), done (``report`` with its
        ``links``) or failed (``error``)."""
        return job_json(visible_job(job_id, caller))

    @router.get("")
    async def listing(caller: Viewer, paging: Paging) -> Page[dict[str, Any]]:
        """Stored reports the caller may see, newest first (on request or by a schedule)."""
        visible = [s for s in service().store.list() if caller.account.sees(building_of(s.scope))]
        return paginate(visible, paging, report_json)

    @router.get("/{report_id}/{name}", responses=responses(404), response_model=None)
    async def download(report_id: str, name: str, caller: Viewer) -> FileResponse:
        """One file of a stored report."""
        store = service().store
        try:
            if not caller.account.sees(building_of(store.get(report_id).scope)):
                raise HTTPException(404, f"no stored report {report_id!r}")
            path = store.file(report_id, name)
        except ReportError as err:
            raise HTTPException(404, str(err)) from err
        return FileResponse(
            path, media_type=_MEDIA.get(path.suffix, "application/octet-stream"), filename=name
        )

    return router
