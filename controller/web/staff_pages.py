"""The staff pages: policies (list, edit with preview), overrides, alarms, audit log,
accounts (admins) and the calendar, each with its ``?format=json`` twin.

Changes go through the JSON API (``/api/policies``, ``/api/overrides``, ``/api/alarms``) with
the session's CSRF token, so a page and a script pass the same role, building and value
checks and are audited the same way. Two things have no API route and live here: the policy
preview over a past period (``POST /web/policies/preview``, it replays the recorder's
history) and account administration (``/web/users``), which admins do in the browser.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Sequence
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from controller.accounts import AccountError, AccountStore, Role, UnknownAccount
from controller.api.auth import Admin, Caller
from controller.api.errors import ApiError, FieldError
from controller.api.visibility import check_all, policy_buildings
from controller.app import Controller
from controller.policies.dryrun import samples_from
from controller.policies.engine import PolicyEngine
from controller.recorder import Recorder

from .i18n import Translator
from .render import lang_of, page, signed_in, to_login
from .staff_views import (
    alarms_view,
    audit_of,
    audit_view,
    calendar_view,
    engine_of,
    overrides_view,
    policies_view,
    policy_form,
    users_view,
)

__all__ = ["staff_routes"]

MAX_PREVIEW_DAYS = 31
"""The longest past period a preview replays (a month of minutes is ~45,000 steps)."""

Offset = Annotated[int, Query(ge=0, le=1_000_000)]
Text = Annotated[str, Query(max_length=200)]


class PreviewRequest(BaseModel):
    """A policy to try: now (no dates) or replayed over [start, end] (local dates)."""

    model_config = ConfigDict(extra="forbid")

    config: dict[str, Any]
    start: dt.date | None = None
    end: dt.date | None = None


class NewUser(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=64)
    role: Role
    display_name: str = Field(default="", max_length=100)
    buildings: list[str] | None = None


class _RecorderReader:
    """The recorder's stored readings as a ``policies.dryrun.HistoryReader``."""

    def __init__(self, recorder: Recorder, lookback_s: float = 86_400.0) -> None:
        self.recorder = recorder
        self.lookback_s = lookback_s

    async def read(
        self, entity_ids: Sequence[str], start: float, end: float
    ) -> dict[str, list[tuple[float, Any]]]:
        rows = await self.recorder.readings(entity_ids, start - self.lookback_s, end)
        return {e: samples_from(rows.get(e, []), start) for e in entity_ids}


def _guarded(request: Request, found: Caller | None, need: Role = Role.VIEWER) -> Response | Caller:
    """The caller, or the page to answer instead (sign-in or not allowed)."""
    if found is None:
        return to_login(request)
    if not found.account.at_least(need):
        return page(request, "error.html", found, {"error": "forbidden"}, status=403)
    return found


async def _with_engine(
    request: Request, ctrl: Controller
) -> tuple[Caller, PolicyEngine] | Response:
    """The signed-in caller and the policy engine, or the page to answer instead."""
    found = _guarded(request, await signed_in(request))
    if isinstance(found, Response):
        return found
    engine = engine_of(ctrl)
    if engine is None:
        return page(request, "error.html", found, {"error": "not_running"}, status=503)
    return found, engine


def staff_routes(ctrl: Controller, store: AccountStore) -> APIRouter:
    router = APIRouter(include_in_schema=False)
    _policy_pages(router, ctrl)
    _operation_pages(router, ctrl)
    _admin_pages(router, ctrl, store)
    return router


def _policy_pages(router: APIRouter, ctrl: Controller) -> None:
    @router.get("/policies")
    async def policies_page(
        request: Request, q: Text = "", type: Text = "", state: Text = "", offset: Offset = 0
    ) -> Response:
        opened = await _with_engine(request, ctrl)
        if isinstance(opened, Response):
            return opened
        found, engine = opened
        data = policies_view(engine, found, q=q, kind=type, state=state, offset=offset)
        return page(request, "policies.html", found, data)

    @router.get("/policies/{policy_id}")
    async def policy_page(request: Request, policy_id: str, copy: bool = False) -> Response:
        opened = await _with_engine(request, ctrl)
        if isinstance(opened, Response):
            return opened
        found, engine = opened
        if policy_id not in engine.admin.configs:
            return page(request, "error.html", found, {"error": "not_found"}, status=404)
        config = {"scope": engine.admin.config(policy_id).scope.model_dump(mode="json")}
        if not all(found.account.sees(b) for b in policy_buildings(engine, config)):
            return page(request, "error.html", found, {"error": "not_found"}, status=404)
        return page(request, "policy.html", found, policy_form(engine, policy_id, copy=copy))

    @router.post("/web/policies/preview", responses={422: {}})
    async def preview(body: PreviewRequest, found: Admin) -> dict[str, Any]:
        """A dry run of the policy in the form: now, or replayed over a past period."""
        engine = engine_of(ctrl)
        if engine is None:
            raise HTTPException(503, "the policy engine is not running")
        check_all(found, policy_buildings(engine, body.config))
        if body.start is None and body.end is None:
            return engine.views.dry_run(body.config).to_json()
        start, end = _period(ctrl, body.start, body.end)
        recorder = ctrl.find(Recorder)
        if recorder is None or not recorder.running:
            raise HTTPException(503, "the recorder is not running: no history to replay")
        report = await engine.views.dry_run_history(
            body.config, _RecorderReader(recorder), start, end
        )
        return report.to_json()


def _period(
    ctrl: Controller, start: dt.date | None, end: dt.date | None
) -> tuple[dt.datetime, dt.datetime]:
    """[start 00:00, end 24:00) local, in the past, at most ``MAX_PREVIEW_DAYS`` long."""
    if start is None or end is None:
        missing = "start" if start is None else "end"
        problem = FieldError(loc=["body", missing], msg="give both dates", type="missing")
        raise ApiError(422, f"{missing}: give both dates of the period", [problem])
    tz = ctrl.clock.tz
    begin = dt.datetime.combine(start, dt.time(), tzinfo=tz)
    finish = dt.datetime.combine(end, dt.time(), tzinfo=tz) + dt.timedelta(days=1)
    finish = min(finish, ctrl.clock.now())
    if not begin < finish or (finish - begin).days >= MAX_PREVIEW_DAYS:
        problem = FieldError(
            loc=["body", "end"],
            msg=f"the period is 1 to {MAX_PREVIEW_DAYS} days in the past",
            type="out_of_range",
        )
        raise ApiError(422, f"end: {problem.msg}", [problem])
    return begin, finish


def _operation_pages(router: APIRouter, ctrl: Controller) -> None:
    @router.get("/overrides")
    async def overrides_page(request: Request, offset: Offset = 0) -> Response:
        opened = await _with_engine(request, ctrl)
        if isinstance(opened, Response):
            return opened
        found, engine = opened
        t = Translator(lang_of(request, found))
        data = overrides_view(ctrl, engine, found, t, offset=offset)
        return page(request, "overrides.html", found, data)

    @router.get("/alarms")
    async def alarms_page(
        request: Request,
        *,
        history: bool = False,
        severity: Text = "",
        kind: Text = "",
        building: Text = "",
        offset: Offset = 0,
    ) -> Response:
        opened = await _with_engine(request, ctrl)
        if isinstance(opened, Response):
            return opened
        found, engine = opened
        data = alarms_view(
            ctrl,
            engine,
            found,
            history=history,
            severity=severity,
            kind=kind,
            building=building,
            offset=offset,
        )
        return page(request, "alarms.html", found, data)

    @router.get("/audit")
    async def audit_page(
        request: Request,
        *,
        who: Text = "",
        what: Text = "",
        target: Text = "",
        since: Text = "",
        until: Text = "",
        offset: Offset = 0,
    ) -> Response:
        found = _guarded(request, await signed_in(request))
        if isinstance(found, Response):
            return found
        data = audit_view(
            ctrl,
            found,
            who=who,
            what=what,
            target=target,
            since=since,
            until=until,
            offset=offset,
        )
        return page(request, "audit.html", found, data)

    @router.get("/calendar")
    async def calendar_page(
        request: Request, year: Annotated[int | None, Query(ge=2000, le=2100)] = None
    ) -> Response:
        found = _guarded(request, await signed_in(request))
        if isinstance(found, Response):
            return found
        data = calendar_view(ctrl, year or ctrl.clock.now().year)
        return page(request, "calendar.html", found, data)


def _admin_pages(router: APIRouter, ctrl: Controller, store: AccountStore) -> None:
    def audit(found: Caller, action: str, name: str, **details: Any) -> None:
        log = audit_of(ctrl)
        if log is not None:
            log.record(found.actor, action, f"user:{name}", source="web", details=details)

    @router.get("/users")
    async def users_page(request: Request) -> Response:
        found = _guarded(request, await signed_in(request), Role.ADMIN)
        if isinstance(found, Response):
            return found
        return page(request, "users.html", found, users_view(store))

    @router.post("/web/users", status_code=201)
    async def add_user(body: NewUser, found: Admin) -> dict[str, Any]:
        """A new account with a random password, shown once in the answer."""
        found.check_building(None)  # only a campus-wide admin manages accounts
        unknown = sorted(set(body.buildings or ()) - set(ctrl.site.buildings))
        if unknown:
            problem = FieldError(
                loc=["body", "buildings"], msg=f"unknown building {unknown[0]}", type="not_found"
            )
            raise ApiError(422, f"buildings: unknown building {unknown[0]}", [problem])
        password = secrets.token_urlsafe(12)
        buildings = frozenset(body.buildings) if body.buildings is not None else None
        try:
            account = store.add(
                body.name,
                body.role,
                password,
                display_name=body.display_name,
                buildings=buildings,
            )
        except ValueError as err:
            problem = FieldError(loc=["body", "name"], msg=str(err), type="value_error")
            raise ApiError(422, f"name: {err}", [problem]) from None
        except AccountError as err:  # the name is taken, or the password rules refuse
            raise HTTPException(409, str(err)) from None
        audit(found, "user.add", account.name, role=account.role.value, buildings=body.buildings)
        return {"name": account.name, "role": account.role.value, "password": password}

    @router.post("/web/users/{name}/{action}")
    async def change_user(name: str, action: str, found: Admin) -> dict[str, Any]:
        """``disable``, ``enable`` or ``password`` (a new random one, shown once)."""
        found.check_building(None)
        if action not in ("disable", "enable", "password"):
            raise HTTPException(404, f"no action {action!r}")
        if name == found.account.name and action == "disable":
            raise HTTPException(409, "an admin cannot disable their own account")
        try:
            store.get(name)
        except UnknownAccount:
            raise HTTPException(404, f"unknown account {name!r}") from None
        out: dict[str, Any] = {"name": name, "action": action}
        if action == "password":
            out["password"] = secrets.token_urlsafe(12)
            store.set_password(name, out["password"])
        else:
            store.set_disabled(name, action == "disable")
        audit(found, f"user.{action}", name)
        return out
