"""The staff web app's pages: server-rendered Jinja templates, each with a JSON twin.

``GET /`` (overview), ``/b/{building}``, ``/b/{building}/r/{room}``; add ``?format=json`` for
the same data as JSON. Sign-in is a plain form post (works without JavaScript); live values
arrive by server-sent events from ``/web/live``; charts read ``/web/series``. Commands,
overrides and acknowledgements go through the JSON API with the session's CSRF token, so
the web app and scripts share one code path and one set of checks.
"""

from __future__ import annotations

import urllib.parse
from typing import Annotated, Any

from fastapi import APIRouter, Form, HTTPException, Query, Request
from fastapi.responses import RedirectResponse, Response, StreamingResponse

from controller.accounts import AccountStore, BadCredentials, LockedOut
from controller.api.auth import COOKIE, LoginLimiter, caller
from controller.app import Controller

from .billing import building_billing, room_billing
from .i18n import LANGS, Translator
from .live import LiveHub
from .render import READER, lang_of, page, signed_in, to_login
from .report_page import report_routes
from .room_policies import room_policies
from .staff_pages import staff_routes
from .views import NotVisible, building_view, overview, room_view, series_view
from .workorder_pages import workorder_routes

__all__ = ["web_routes"]

MAX_WATCHED = 500
"""Entities one page may watch live (a room has a few dozen, a building page a few hundred)."""


def web_routes(ctrl: Controller, store: AccountStore, live: LiveHub | None) -> APIRouter:
    router = APIRouter(include_in_schema=False)
    _signin_routes(router, store)
    _view_routes(router, ctrl, live)
    router.include_router(staff_routes(ctrl, store))
    router.include_router(report_routes(ctrl))
    router.include_router(workorder_routes(ctrl))
    return router


def _signin_routes(router: APIRouter, store: AccountStore) -> None:
    limits = LoginLimiter()

    @router.get("/login")
    async def login_page(request: Request, next: str = "/") -> Response:
        return page(request, "login.html", None, {"next": _safe_next(next), "error": None})

    @router.post("/login")
    async def login_form(
        request: Request,
        name: Annotated[str, Form(max_length=64)] = "",
        password: Annotated[str, Form(max_length=1024)] = "",
        next: Annotated[str, Form()] = "/",
    ) -> Response:
        address = request.client.host if request.client else "?"
        error = None
        if not limits.allow(address):
            error, status = "slow_down", 429
        else:
            try:
                account = store.authenticate(name, password)
            except LockedOut:
                error, status = "locked_out", 423
            except BadCredentials:
                error, status = "wrong_login", 401
        if error is not None:
            data = {"next": _safe_next(next), "error": error, "name": name}
            return page(request, "login.html", None, data, status=status)
        secret, _ = store.open_session(account)
        response = RedirectResponse(_safe_next(next), status_code=303)
        proto = request.headers.get("x-forwarded-proto", request.url.scheme)
        response.set_cookie(
            COOKIE,
            secret,
            httponly=True,
            samesite="strict",
            secure=proto.split(",")[0].strip() == "https",
            max_age=int(store.session_max),
        )
        response.set_cookie("sanjie_lang", account.lang, samesite="strict")
        return response

    @router.post("/logout")
    async def logout(request: Request) -> Response:
        await caller(request)  # CSRF-checked
        secret = request.cookies.get(COOKIE)
        if secret:
            store.close_session(secret)
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(COOKIE)
        return response

    @router.post("/lang")
    async def set_lang(request: Request, lang: Annotated[str, Form()]) -> Response:
        found = await caller(request)
        if lang not in LANGS:
            raise HTTPException(422, "lang is zh or en")
        store.set_lang(found.account.name, lang)
        back = request.headers.get("referer", "/")
        response = RedirectResponse(_safe_next(urllib.parse.urlsplit(back).path), 303)
        response.set_cookie("sanjie_lang", lang, samesite="strict")
        return response


def _view_routes(router: APIRouter, ctrl: Controller, live: LiveHub | None) -> None:
    @router.get("/")
    async def overview_page(request: Request) -> Response:
        found = await signed_in(request)
        if found is None:
            return to_login(request)
        t = Translator(lang_of(request, found))
        return page(request, "overview.html", found, await overview(ctrl, found.account, t))

    @router.get("/b/{building}")
    async def building_page(request: Request, building: str) -> Response:
        found = await signed_in(request)
        if found is None:
            return to_login(request)
        t = Translator(lang_of(request, found))
        try:
            data = building_view(ctrl, found.account, building, t)
        except NotVisible:
            return page(request, "error.html", found, {"error": "not_found"}, status=404)
        marks = await building_billing(ctrl, building)
        for floor in data["floors"]:
            for room_data in floor["rooms"]:
                room_data["billing"] = marks.get(room_data["id"])
        return page(request, "building.html", found, data)

    @router.get("/b/{building}/r/{room}")
    async def room_page(request: Request, building: str, room: str) -> Response:
        found = await signed_in(request)
        if found is None:
            return to_login(request)
        t = Translator(lang_of(request, found))
        try:
            data = room_view(ctrl, found.account, building, room, t)
        except NotVisible:
            return page(request, "error.html", found, {"error": "not_found"}, status=404)
        data["billing"] = await room_billing(ctrl, building, room)
        data["policies"] = room_policies(ctrl, building, room, data["devices"])
        return page(request, "room.html", found, data)

    @router.get("/web/series")
    async def series(
        request: Request,
        building: str,
        room: str | None = None,
        hours: Annotated[int, Query(ge=1, le=24 * 400)] = 24,
    ) -> dict[str, Any]:
        found = await READER(request)
        try:
            return await series_view(ctrl, found.account, building, room, hours=hours)
        except NotVisible:
            raise HTTPException(404, f"no building {building!r} you may see") from None

    @router.get("/web/live")
    async def live_values(
        request: Request, entities: Annotated[str, Query(max_length=40_000)]
    ) -> Response:
        found = await READER(request)
        if live is None:
            raise HTTPException(503, "live values are not running in this controller")
        wanted = [e for e in entities.split(",") if e][:MAX_WATCHED]
        allowed = []
        for entity_id in wanted:
            entity = ctrl.registry.get(entity_id)
            if entity is None:
                raise HTTPException(422, f"unknown entity {entity_id!r}")
            if not found.account.sees(entity.building):
                raise HTTPException(403, f"{entity_id} is outside your buildings")
            allowed.append(entity_id)
        client = live.connect(allowed)
        return StreamingResponse(
            live.stream(client),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )


def _safe_next(target: str) -> str:
    """Only local paths: ``next`` must never send a signed-in user to another site."""
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target
