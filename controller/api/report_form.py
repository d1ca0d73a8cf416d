"""The student's repair form (网上报修) behind a room's QR code: ``/r/{token}``.

A plain HTML form that posts back to itself: no account, no JavaScript, no captcha — it must
work on any phone that scans the code on the door. The per-room token in the link is the
anti-abuse check (an unknown token is a 404 page) and the work-order service refuses a flood
from one room (a 429 page). The JSON twin is ``POST /api/public/report/{token}``.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Form, Path
from fastapi.responses import HTMLResponse

from controller.workorders import Category, RateLimited, WorkOrderError, WorkOrders

__all__ = ["report_form_routes"]

Token = Annotated[str, Path(max_length=64)]

_CATEGORIES = {
    Category.ELECTRICITY: "电 Electricity",
    Category.WATER: "水 Water",
    Category.AC: "空调 Air conditioning",
    Category.VALVE: "阀门/水龙头 Valve or tap",
    Category.OTHER: "其他 Other",
}

_PAGE = """<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>网上报修 Repair report</title>
<style>body{{font:16px/1.5 sans-serif;max-width:32em;margin:1em auto;padding:0 1em}}
label,select,textarea,button{{display:block;width:100%;margin:.4em 0}}
textarea{{min-height:8em}}.err{{color:#b00}}</style></head>
<body><h1>网上报修 <small>Repair report</small></h1>{body}</body></html>"""


def _form(room: str, error: str = "", description: str = "") -> str:
    options = "".join(
        f'<option value="{c.value}">{html.escape(label)}</option>'
        for c, label in _CATEGORIES.items()
    )
    problem = f'<p class="err">{html.escape(error)}</p>' if error else ""
    return _PAGE.format(
        body=f"<p>房间 Room: <b>{html.escape(room)}</b></p>{problem}"
        '<form method="post">'
        f'<label>类别 Category<select name="category">{options}</select></label>'
        '<label>问题描述 What is wrong<textarea name="description" maxlength="2000" required>'
        f"{html.escape(description)}</textarea></label>"
        '<button type="submit">提交 Send</button></form>'
    )


def _message(text: str, status: int) -> HTMLResponse:
    return HTMLResponse(_PAGE.format(body=f"<p>{html.escape(text)}</p>"), status_code=status)


def report_form_routes(orders_of: Callable[[], WorkOrders | None]) -> APIRouter:
    """``orders_of``: the running work-order service, or None (every link is then unknown)."""
    router = APIRouter(include_in_schema=False)
    unknown = "此报修链接无效，请联系宿管。This repair link is not known."

    @router.get("/r/{token}")
    async def form(token: Token) -> HTMLResponse:
        orders = orders_of()
        room = orders.store.room_of_token(token) if orders is not None else None
        if room is None:
            return _message(unknown, 404)
        return HTMLResponse(_form(room))

    @router.post("/r/{token}")
    async def send(
        token: Token,
        category: Annotated[str, Form(max_length=20)],
        description: Annotated[str, Form(max_length=2000)],
    ) -> HTMLResponse:
        orders = orders_of()
        room = orders.store.room_of_token(token) if orders is not None else None
        if orders is None or room is None:
            return _message(unknown, 404)
        try:
            order = orders.report(token, category, description)
        except RateLimited:
            return _message("本房间报修次数过多，请稍后再试。Too many reports from this room.", 429)
        except WorkOrderError as err:
            return HTMLResponse(_form(room, str(err), description), status_code=422)
        return _message(f"已提交，工单号 {order.id}。Sent: work order {order.id}.", 201)

    return router
