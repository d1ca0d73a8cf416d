"""Prepaid balances in the web app: what staff answer a student at the door with.

Shown when the controller runs billing. The room page: the room account's balance, whether it
is cut off or exempt, the month's use and charges per utility, and the latest ledger entries.
The building page: each room's balance, marked when it is low (warned) or cut off. Read through
the billing component's database thread, like the API's billing routes.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from controller.app import Controller
from controller.billing import BillingComponent, UnknownAccount, room_account_id, statement
from controller.billing.money import to_cents
from controller.billing.tariff import month_start

__all__ = ["building_billing", "room_billing"]

RECENT = 8


def _component(ctrl: Controller) -> BillingComponent | None:
    return ctrl.find(BillingComponent)


async def room_billing(ctrl: Controller, building_id: str, room_id: str) -> dict[str, Any] | None:
    """The room account's figures (None: no billing, or the room has no account)."""
    billing = _component(ctrl)
    if billing is None or billing.store is None:
        return None
    store = billing.store
    now = ctrl.clock.time()
    account_id = room_account_id(building_id, room_id)
    try:
        st = await billing.call(
            statement, store, account_id, month_start(now, ctrl.clock.tz), now + 1
        )
    except UnknownAccount:
        return None
    balance = await billing.call(store.balance, account_id)
    limits = billing.limits
    tz = ctrl.clock.tz
    return {
        "account": account_id,
        "balance": str(to_cents(balance)),
        "cut_off": bool(limits and account_id in limits.state.cut),
        "exempt": st.account.exempt(now),
        "open": st.account.open,
        "utilities": [line.to_json() for line in st.utilities.values()],
        "recent": [
            {
                "when": dt.datetime.fromtimestamp(e.ts, tz).strftime("%m-%d %H:%M"),
                "kind": e.kind.value,
                "utility": e.utility.value if e.utility else "",
                "amount": str(to_cents(e.amount)),
                "balance": str(to_cents(e.balance_after)),
            }
            for e in st.entries[-RECENT:][::-1]
        ],
    }


async def building_billing(ctrl: Controller, building_id: str) -> dict[str, dict[str, Any]]:
    """Room id → its room account's balance and marks (empty: no billing here)."""
    billing = _component(ctrl)
    if billing is None or billing.store is None:
        return {}
    store = billing.store
    accounts = await billing.call(store.accounts)
    balances = await billing.call(store.balances)
    limits = billing.limits
    cut = limits.state.cut if limits else set()
    warned = limits.state.warned if limits else {}
    return {
        a.room: {
            "balance": str(to_cents(balances[a.id])),
            "cut_off": a.id in cut,
            "low": a.id in warned,
        }
        for a in accounts
        if a.building == building_id and a.open and a.id == room_account_id(a.building, a.room)
    }
