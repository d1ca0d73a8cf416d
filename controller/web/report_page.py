"""The reports page (``/reports``): start a campaign report, watch it build, download it.

The form is a plain POST (it works without JavaScript; the CSRF token rides in a hidden field)
that goes through the API's own :func:`~controller.api.reports.submit_report`, so the page and
``POST /api/reports`` pass the same role, building and field checks and are audited alike.
After a build is queued the page redirects to itself with ``?job=``; a small script polls
``/api/reports/jobs/{id}`` for the progress and shows the download links when it is done.
The page lists earlier reports and the site's schedules, each limited to the buildings the
account sees; ``?format=json`` gives the same data.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from controller.accounts import Role
from controller.api.auth import Caller, require
from controller.api.errors import ApiError
from controller.api.reports import (
    ReportCreate,
    building_of,
    job_json,
    report_json,
    submit_report,
)
from controller.app import Controller
from controller.config import BuildingKind
from controller.config.reports import BaselineSpan
from controller.reports.service import ReportService, last_period

from .i18n import Translator
from .render import lang_of, page, signed_in, to_login
from .staff_views import paged

__all__ = ["report_routes"]

FORMATS = ("xlsx", "pdf", "html", "csv")
RECENT_JOBS = 10
OPERATOR = require(Role.OPERATOR)


def _service(ctrl: Controller) -> ReportService | None:
    return ctrl.find(ReportService)


def _scopes(ctrl: Controller, found: Caller, t: Translator) -> list[dict[str, str]]:
    """What the account may report on: the campus (unrestricted accounts), its buildings and
    canteens."""
    choices = []
    if found.account.sees(None):
        choices.append({"value": "campus", "label": t("whole_campus"), "group": "campus"})
    for b in ctrl.site.buildings.values():
        if not found.account.sees(b.id):
            continue
        canteen = b.kind is BuildingKind.CANTEEN
        choices.append(
            {
                "value": f"{'canteen' if canteen else 'building'}:{b.id}",
                "label": t.name(b.name.zh, b.name.en),
                "group": "canteens" if canteen else "buildings",
            }
        )
    return choices


def _scope_label(ctrl: Controller, scope: str, t: Translator) -> str:
    if scope == "campus":
        return t("whole_campus")
    kind, _, rest = scope.partition(":")
    building_id, _, inner = rest.partition("/")
    building = ctrl.site.buildings.get(building_id)
    name = t.name(building.name.zh, building.name.en) if building else building_id
    if kind == "floor":
        return f"{name} {inner}{t('floor_suffix')}"
    if kind == "room":
        return f"{name} {inner}"
    return name


def _baseline_rule(ctrl: Controller, t: Translator) -> str:
    rule = ctrl.site.reports.baseline
    if isinstance(rule, BaselineSpan):
        return f"{t('configured_baseline')} {rule.start}..{rule.end}"
    return t("same_dates_last_year")


def reports_view(
    ctrl: Controller,
    found: Caller,
    t: Translator,
    *,
    offset: int = 0,
    form: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    highlight: str | None = None,
) -> dict[str, Any]:
    """Everything the page shows (and its JSON twin answers)."""
    service = _service(ctrl)
    today = ctrl.clock.now().date()
    month = last_period("month", today).first
    defaults = {
        "period_kind": "month",
        "month": f"{month:%Y-%m}",
        "start": (today - dt.timedelta(days=7)).isoformat(),
        "end": (today - dt.timedelta(days=1)).isoformat(),
        "scope": "",
        "baseline_kind": "rule",
        "baseline_start": "",
        "baseline_end": "",
        "formats": ["xlsx", "pdf"],
        "language": t.lang,
    }
    sees = found.account.sees

    def stored(s: Any) -> dict[str, Any]:
        return {**report_json(s), "scope_label": _scope_label(ctrl, s.scope, t)}

    def job(j: Any) -> dict[str, Any]:
        data = job_json(j)
        data["scope_label"] = _scope_label(ctrl, j.request.scope.text, t)
        return data

    reports = [s for s in service.store.list() if sees(building_of(s.scope))] if service else []
    jobs = [j for j in service.jobs.list() if sees(j.building)][:RECENT_JOBS] if service else []
    schedules = []
    for s in ctrl.site.reports.schedules:
        if not sees(building_of(s.scope)):
            continue
        scheduled = service.scheduler.get_job(f"report:{s.id}") if service else None
        schedules.append(
            {
                "id": s.id,
                "every": s.every,
                "scope_label": _scope_label(ctrl, s.scope, t),
                "formats": list(s.formats),
                "language": s.language,
                "send_to": list(s.send_to),
                "next_run": scheduled.next_run.isoformat(timespec="minutes")
                if scheduled and scheduled.next_run
                else None,
            }
        )
    return {
        "running": service is not None,
        "can_build": service is not None and found.account.at_least(Role.OPERATOR),
        "scopes": _scopes(ctrl, found, t),
        "formats": list(FORMATS),
        "baseline_rule": _baseline_rule(ctrl, t),
        "form": {**defaults, **(form or {})},
        "errors": errors or {},
        "highlight": highlight,
        "jobs": [job(j) for j in jobs],
        "reports": paged(reports, offset, stored),
        "schedules": schedules,
    }


def _period(form: dict[str, Any]) -> str:
    if form["period_kind"] == "range":
        return f"{form['start']}..{form['end']}"
    return str(form["month"])


def _baseline(form: dict[str, Any]) -> str | None:
    if form["baseline_kind"] == "range":
        return f"{form['baseline_start']}..{form['baseline_end']}"
    return None


async def _read_form(request: Request) -> dict[str, Any]:
    raw = await request.form()

    def one(name: str, default: str = "") -> str:
        value = raw.get(name, default)
        return value[:200] if isinstance(value, str) else default

    return {
        "period_kind": "range" if one("period_kind") == "range" else "month",
        "month": one("month"),
        "start": one("start"),
        "end": one("end"),
        "scope": one("scope", "campus"),
        "baseline_kind": "range" if one("baseline_kind") == "range" else "rule",
        "baseline_start": one("baseline_start"),
        "baseline_end": one("baseline_end"),
        "formats": [f for f in raw.getlist("formats") if isinstance(f, str)][:4],
        "language": one("language", "zh"),
    }


def _field_errors(err: ApiError | ValidationError) -> dict[str, str]:
    if isinstance(err, ValidationError):
        return {str(e["loc"][0]) if e["loc"] else "form": e["msg"] for e in err.errors()}
    found = {str(f.loc[-1]): f.msg for f in err.errors}
    return found or {"form": str(err.detail)}


def report_routes(ctrl: Controller) -> APIRouter:
    router = APIRouter(include_in_schema=False)

    @router.get("/reports")
    async def reports_page(
        request: Request,
        offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
        job: Annotated[str | None, Query(max_length=64)] = None,
    ) -> Response:
        found = await signed_in(request)
        if found is None:
            return to_login(request)
        t = Translator(lang_of(request, found))
        data = reports_view(ctrl, found, t, offset=offset, highlight=job)
        return page(request, "reports.html", found, data)

    @router.post("/reports")
    async def start_report(request: Request) -> Response:
        try:
            found = await OPERATOR(request)  # signed in, operator or admin, CSRF checked
        except HTTPException as err:
            if err.status_code == 401:  # the session ended while the form was open
                return to_login(request)
            raise
        t = Translator(lang_of(request, found))
        service = _service(ctrl)
        if service is None:
            return page(request, "error.html", found, {"error": "not_running"}, status=503)
        form = await _read_form(request)
        try:
            body = ReportCreate(
                period=_period(form),
                scope=form["scope"],
                formats=form["formats"],
                language=form["language"],
                baseline=_baseline(form),
            )
            job = submit_report(service, ctrl, found, body)
        except (ApiError, ValidationError) as err:
            data = reports_view(ctrl, found, t, form=form, errors=_field_errors(err))
            return page(request, "reports.html", found, data, status=422)
        except HTTPException as err:
            data = reports_view(ctrl, found, t, form=form, errors={"form": str(err.detail)})
            return page(request, "reports.html", found, data, status=err.status_code)
        return RedirectResponse(f"/reports?job={job.id}", status_code=303)

    return router
