"""Rendering a page: the reader's language, the template or the page's JSON twin, sign-in.

Every page route renders through :func:`page`, so the HTML and ``?format=json`` always show
the same dict, and pages that need a signed-in account ask :func:`signed_in` the same way.
"""

from __future__ import annotations

import json
import urllib.parse
from pathlib import Path
from typing import Any

from fastapi import HTTPException, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from controller import __version__
from controller.accounts import Role
from controller.api.auth import Caller, require

from .i18n import LANGS, Translator

__all__ = ["READER", "TEMPLATES", "lang_of", "page", "signed_in", "to_login"]

READER = require(Role.VIEWER)
"""Who may read pages, charts and live values: any signed-in account, not a top-up token."""

TEMPLATES = Jinja2Templates(directory=Path(__file__).parent / "templates")
# JSON as people write it in a form: Chinese stays Chinese (``tojson`` would escape every CJK
# character to a backslash-u code).
TEMPLATES.env.filters["json"] = lambda value: json.dumps(value, ensure_ascii=False)
TEMPLATES.env.filters["scope_text"] = lambda scope: "; ".join(
    ", ".join(str(v) for v in values) if isinstance(values, list) else f"{key}: {values}"
    for key, values in (scope or {}).items()
)


def lang_of(request: Request, found: Caller | None) -> str:
    asked = request.query_params.get("lang") or request.cookies.get("sanjie_lang")
    if asked in LANGS:
        return str(asked)
    return found.account.lang if found is not None else "zh"


def page(
    request: Request,
    template: str,
    found: Caller | None,
    data: dict[str, Any],
    *,
    status: int = 200,
) -> Response:
    if request.query_params.get("format") == "json":
        return JSONResponse(data, status_code=status)
    t = Translator(lang_of(request, found))
    context = {
        "request": request,
        "t": t,
        "me": found.account if found else None,
        "csrf": found.csrf if found else "",
        "data": data,
        "version": __version__,
        "path": request.url.path,
    }
    return TEMPLATES.TemplateResponse(request, template, context, status_code=status)


async def signed_in(request: Request) -> Caller | None:
    try:
        return await READER(request)
    except HTTPException as err:
        if err.status_code == 401:
            return None
        raise


def to_login(request: Request) -> RedirectResponse:
    target = urllib.parse.quote(str(request.url.path), safe="/")
    return RedirectResponse(f"/login?next={target}", status_code=303)
