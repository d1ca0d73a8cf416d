"""Routes of prepaid billing: accounts, balances, ledgers, top-ups, imports, statements, exports.

Authentication is ``controller.api.auth`` only: reads take :data:`Viewer`, top-ups and imports
:data:`TopUp` (an operator, or a payment platform's token limited to top-ups), refunds and moves
:data:`Operator`, account administration :data:`Admin`. Every change is posted under the
caller's ``actor`` and refused outside the caller's buildings. Billing errors become 4xx here,
in one place: unknown account 404, bad amount or file 422 (with the field), a closed account or
an idempotency key reused for another top-up 409.
"""

from __future__ import annotations

import contextlib
import zoneinfo
from collections.abc import Iterator
from decimal import Decimal
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field, model_validator

from controller.billing import (
    AccountClosed,
    AccountExists,
    BadAmount,
    BillingComponent,
    BillingError,
    CsvFormatError,
    CsvImport,
    KeyReused,
    LedgerStore,
    TopUps,
    UnknownAccount,
    report_figures,
    statement,
    summary_rows,
)
from controller.billing.model import Account
from controller.billing.statements import (
    STATEMENT_COLUMNS,
    SUMMARY_COLUMNS,
    month_bounds,
    statement_rows,
    to_csv,
    to_xlsx,
)
from controller.billing.tariff import month_start
from controller.billing.topup import KEY_PATTERN
from controller.config import LoadedSite

from .auth import Admin, Caller, Operator, TopUp, Viewer
from .errors import ApiError, FieldError, json_responses, responses
from .paging import Page, Paging, page, paginate

__all__ = ["billing_routes"]

Format = Literal["json", "csv", "xlsx"]
_XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
_FILE_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The table as CSV (default) or XLSX (``format=xlsx``).",
        "content": {"text/csv": {}, _XLSX: {}},
    }
}
"""How an export answers, for the OpenAPI document (a client reaching it learns the types)."""


class TopUpRequest(BaseModel):
    """Yuan as a string (``"50.00"``) or number, at most 2 decimals; ``key`` makes it once-only
    (or send the ``Idempotency-Key`` header)."""

    model_config = ConfigDict(extra="forbid")

    amount: str | int | float
    key: str | None = Field(default=None, pattern=KEY_PATTERN)
    reason: str = Field(default="", max_length=500)


class RefundRequest(BaseModel):
    """Pay money back (all of a positive balance when ``amount`` is left out)."""

    model_config = ConfigDict(extra="forbid")

    amount: str | int | float | None = None
    key: str = Field(pattern=KEY_PATTERN)
    reason: str = Field(min_length=1, max_length=500)


class BedsRequest(BaseModel):
    """Students moved in or out: the beds in use set the free allowance."""

    model_config = ConfigDict(extra="forbid")

    beds: int = Field(ge=0, le=50)
    reason: str = Field(min_length=1, max_length=500)


class ExemptionRequest(BaseModel):
    """Never cut this account off until ``until`` (epoch s) or for ``duration_s``; 0 ends it."""

    model_config = ConfigDict(extra="forbid")

    until: float | None = Field(default=None, ge=0)
    duration_s: float | None = Field(default=None, gt=0, le=366 * 86400)
    reason: str = Field(min_length=1, max_length=500)

    @model_validator(mode="after")
    def _one_end(self) -> ExemptionRequest:
        if (self.until is None) == (self.duration_s is None):
            raise ValueError("give exactly one of 'until' and 'duration_s'")
        return self


class NewAccount(BaseModel):
    """A bed account where beds have their own meters (``devices``)."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,99}$")
    building: str
    room: str
    beds: int = Field(default=1, ge=0, le=50)
    devices: list[str] = Field(min_length=1)
    reason: str = Field(min_length=1, max_length=500)


class CloseRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=500)


@contextlib.contextmanager
def _errors() -> Iterator[None]:
    """Billing errors to the API's one error body, in one place."""
    try:
        yield
    except UnknownAccount as err:
        raise ApiError(404, str(err)) from err
    except BadAmount as err:
        raise ApiError(
            422, str(err), [FieldError(loc=["body", err.field], msg=err.reason, type="value_error")]
        ) from err
    except CsvFormatError as err:
        raise ApiError(
            422,
            str(err),
            [
                FieldError(loc=["body", f"line {n}", field], msg=reason, type="value_error")
                for n, field, reason in err.problems[:200]
            ],
        ) from err
    except (AccountClosed, AccountExists, KeyReused) as err:
        raise ApiError(409, str(err)) from err
    except BillingError as err:
        raise ApiError(400, str(err)) from err


Month = Annotated[
    str | None,
    Query(
        pattern=r"^\d{4}-\d{2}$", description="A calendar month, 2026-03 (instead of start/end)."
    ),
]


def _period(
    start: float | None,
    end: float | None,
    month: str | None,
    now: float,
    tz: zoneinfo.ZoneInfo,
) -> tuple[float, float]:
    """``month``, or [start, end); default: the local month so far."""
    if month is not None:
        if start is not None or end is not None:
            raise ApiError(
                422,
                "give either month or start/end",
                [FieldError(loc=["query", "month"], msg="not with start/end", type="value_error")],
            )
        try:
            return month_bounds(month, tz)
        except ValueError as err:
            raise ApiError(
                422,
                str(err),
                [FieldError(loc=["query", "month"], msg=str(err), type="value_error")],
            ) from err
    if end is None:
        end = now + 1
    if start is None:
        start = month_start(now, tz)
    if end <= start:
        raise ApiError(
            422,
            "end must be after start",
            [FieldError(loc=["query", "end"], msg="must be after start", type="value_error")],
        )
    return start, end


def _export(columns: Any, rows: list[list[Any]], fmt: Format, name: str) -> Response:
    if fmt == "xlsx":
        return Response(
            to_xlsx(columns, rows, name),
            media_type=_XLSX,
            headers={"Content-Disposition": f'attachment; filename="{name}.xlsx"'},
        )
    return Response(
        to_csv(columns, rows),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
    )


def billing_routes(billing: BillingComponent) -> APIRouter:  # noqa: PLR0915 (one route each)
    router = APIRouter(prefix="/api/billing", tags=["billing"], responses=responses(401, 403))
    clock = billing.controller.clock

    async def account_for(caller: Caller, account_id: str) -> Account:
        store = await _store(billing)
        with _errors():
            account = await billing.call(store.account, account_id)
        caller.check_building(account.building)
        return account

    def view(account: Account, balance: Decimal) -> dict[str, Any]:
        limits = billing.limits
        return {
            **account.to_json(),
            "balance": str(balance),
            "cut_off": bool(limits and account.id in limits.state.cut),
            "meters": billing.meters.devices_of(account.id) if billing.meters else [],
        }

    @router.get("/accounts")
    async def accounts(
        who: Viewer, paging: Paging, building: str | None = None
    ) -> Page[dict[str, Any]]:
        """Accounts the caller's buildings hold, with balances and whether they are cut off."""
        store = await _store(billing)
        found = await billing.call(store.accounts)
        balances = await billing.call(store.balances)
        seen = [a for a in found if who.account.sees(a.building) and building in (None, a.building)]
        return paginate(seen, paging, lambda a: view(a, balances[a.id]))

    @router.get("/accounts/{account_id}", responses=responses(404))
    async def account(account_id: str, who: Viewer) -> dict[str, Any]:
        found = await account_for(who, account_id)
        store = await _store(billing)
        data = view(found, await billing.call(store.balance, account_id))
        data["events"] = await billing.call(store.account_events, account_id)
        return data

    @router.get("/accounts/{account_id}/ledger", responses=responses(404))
    async def ledger(
        account_id: str,
        who: Viewer,
        paging: Paging,
        since: float | None = None,
        until: float | None = None,
    ) -> Page[dict[str, Any]]:
        """The account's ledger, oldest first (posting time in [since, until))."""
        await account_for(who, account_id)
        store = await _store(billing)
        window = {"since": since, "until": until}
        entries = await billing.call(
            store.entries, account_id, limit=paging.limit, offset=paging.offset, **window
        )
        total = await billing.call(store.count_entries, account_id, **window)
        return page([e.to_json() for e in entries], total, paging)

    @router.get(
        "/accounts/{account_id}/statement",
        response_model=None,
        responses={**_FILE_RESPONSE, **json_responses(401, 403, 404)},
    )
    async def account_statement(
        account_id: str,
        who: Viewer,
        *,
        start: float | None = None,
        end: float | None = None,
        month: Month = None,
        format: Format = "json",
    ) -> dict[str, Any] | Response:
        await account_for(who, account_id)
        store = await _store(billing)
        begin, finish = _period(start, end, month, clock.time(), clock.tz)
        st = await billing.call(statement, store, account_id, begin, finish)
        if format == "json":
            return st.to_json()
        return _export(STATEMENT_COLUMNS, statement_rows(st), format, f"statement-{account_id}")

    @router.post("/accounts/{account_id}/top-up", responses=responses(404, 409))
    async def top_up(
        account_id: str,
        body: TopUpRequest,
        who: TopUp,
        response: Response,
        idempotency_key: Annotated[
            str | None, Header(alias="Idempotency-Key", pattern=KEY_PATTERN)
        ] = None,
    ) -> dict[str, Any]:
        key = body.key or idempotency_key
        if key is None:
            raise ApiError(
                422,
                "an idempotency key is required (body 'key' or the Idempotency-Key header)",
                [
                    FieldError(
                        loc=["body", "key"], msg="an idempotency key is required", type="missing"
                    )
                ],
            )
        await account_for(who, account_id)
        store = await _store(billing)
        with _errors():
            entry, applied = await billing.call(
                TopUps(store).top_up,
                account_id,
                body.amount,
                key=key,
                actor=who.actor,
                reason=body.reason,
                source=who.via,
            )
        if applied:
            billing.changed(
                who.actor, "top_up", account_id, body.reason, amount=str(entry.amount), key=key
            )
        response.status_code = 201 if applied else 200
        return {"applied": applied, "entry": entry.to_json(), "balance": str(entry.balance_after)}

    @router.post("/accounts/{account_id}/refund", responses=responses(404, 409))
    async def refund(account_id: str, body: RefundRequest, who: Operator) -> dict[str, Any]:
        await account_for(who, account_id)
        store = await _store(billing)
        with _errors():
            entry, applied = await billing.call(
                TopUps(store).refund,
                account_id,
                body.amount,
                key=body.key,
                actor=who.actor,
                reason=body.reason,
            )
        if applied:
            billing.changed(who.actor, "refund", account_id, body.reason, amount=str(-entry.amount))
        return {"applied": applied, "entry": entry.to_json()}

    @router.post("/accounts/{account_id}/beds", responses=responses(404))
    async def beds(account_id: str, body: BedsRequest, who: Operator) -> dict[str, Any]:
        await account_for(who, account_id)
        store = await _store(billing)
        with _errors():
            found = await billing.call(
                store.set_beds, account_id, body.beds, who.actor, body.reason
            )
        billing.changed(who.actor, "beds", account_id, body.reason, beds=body.beds)
        return found.to_json()

    @router.post("/accounts/{account_id}/exemption", responses=responses(404))
    async def exemption(account_id: str, body: ExemptionRequest, who: Admin) -> dict[str, Any]:
        await account_for(who, account_id)
        store = await _store(billing)
        until = body.until if body.until is not None else clock.time() + (body.duration_s or 0)
        with _errors():
            found = await billing.call(
                store.set_exemption, account_id, until, who.actor, body.reason
            )
        billing.changed(who.actor, "exempt", account_id, body.reason, until=until)
        return found.to_json()

    @router.post("/accounts", status_code=201, responses=responses(409))
    async def create(body: NewAccount, who: Admin) -> dict[str, Any]:
        who.check_building(body.building)
        site = billing.controller.site
        unknown = [
            d
            for d in body.devices
            if d not in site.devices
            or (site.devices[d].building, site.devices[d].room) != (body.building, body.room)
        ]
        if unknown:
            why = f"not meters of {body.building} room {body.room}: {unknown}"
            raise ApiError(
                422, why, [FieldError(loc=["body", "devices"], msg=why, type="value_error")]
            )
        under = [d for d in body.devices if _under_room_meter(site, d, body.devices)]
        if under:
            why = f"{under} hang under a meter of the room, which would bill their units again"
            raise ApiError(
                422, why, [FieldError(loc=["body", "devices"], msg=why, type="value_error")]
            )
        store = await _store(billing)
        with _errors():
            found = await billing.call(
                store.add_account,
                body.id,
                body.building,
                body.room,
                body.beds,
                devices=body.devices,
                actor=who.actor,
                reason=body.reason,
            )
        await billing.call(billing.rebuild_meters)
        billing.changed(who.actor, "open", body.id, body.reason, devices=body.devices)
        return found.to_json()

    @router.post("/accounts/{account_id}/close", responses=responses(404, 409))
    async def close(account_id: str, body: CloseRequest, who: Admin) -> dict[str, Any]:
        await account_for(who, account_id)
        store = await _store(billing)
        with _errors():
            refunded = await billing.call(store.close_account, account_id, who.actor, body.reason)
        await billing.call(billing.rebuild_meters)
        refund = str(-refunded.amount) if refunded else "0"
        billing.changed(who.actor, "close", account_id, body.reason, refunded=refund)
        return {"closed": account_id, "refund": refunded.to_json() if refunded else None}

    @router.post("/import")
    async def import_batch(request: Request, who: TopUp) -> dict[str, Any]:
        """A campus-card batch file (CSV) as the request body; all lines or none."""
        who.check_building(None)
        data = await request.body()  # bounded by the API's body limit (413): larger via the CLI
        store = await _store(billing)
        with _errors():
            result = await billing.call(CsvImport(store).run, data, actor=who.actor)
        billing.changed(who.actor, "import", "campus-card", "batch file", **result.to_json())
        return result.to_json()

    @router.get(
        "/export",
        response_model=None,
        responses={**_FILE_RESPONSE, **json_responses(401, 403)},
    )
    async def export(
        who: Viewer,
        start: float | None = None,
        end: float | None = None,
        month: Month = None,
        format: Literal["csv", "xlsx"] = "csv",
    ) -> Response:
        """Per account: opening, top-ups, refunds, charges per utility, closing."""
        store = await _store(billing)
        begin, finish = _period(start, end, month, clock.time(), clock.tz)
        buildings = sorted(who.account.buildings) if who.account.buildings is not None else None
        rows = await billing.call(summary_rows, store, begin, finish, buildings)
        return _export(SUMMARY_COLUMNS, rows, format, "billing-summary")

    @router.get("/report")
    async def report(
        who: Viewer,
        start: float | None = None,
        end: float | None = None,
        month: Month = None,
        building: str | None = None,
    ) -> dict[str, Any]:
        store = await _store(billing)
        begin, finish = _period(start, end, month, clock.time(), clock.tz)
        if building is not None:
            who.check_building(building)
            scope: list[str] | None = [building]
        else:
            scope = sorted(who.account.buildings) if who.account.buildings is not None else None
        return await billing.call(report_figures, store, begin, finish, scope)

    @router.get("/tariffs")
    async def tariffs(who: Viewer, paging: Paging) -> Page[dict[str, Any]]:
        return paginate(billing.config.tariffs, paging, lambda t: t.model_dump(mode="json"))

    return router


def _under_room_meter(site: LoadedSite, device_id: str, own: list[str]) -> bool:
    """Whether a meter of the same room, not the bed's own, is upstream of ``device_id``."""
    device = site.devices[device_id]
    parent = device.parent
    while parent is not None and parent in site.devices:
        upstream = site.devices[parent]
        if upstream.room == device.room and upstream.building == device.building:
            return parent not in own
        parent = upstream.parent
    return False


async def _store(billing: BillingComponent) -> LedgerStore:
    await billing.wait_ready()
    assert billing.store is not None
    return billing.store
