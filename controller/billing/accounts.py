"""Room accounts from the site: every billed building's rooms get an account on first start.

An account's id is ``<building>.<room>`` (bed accounts, made by an administrator, add a suffix).
Accounts are never deleted: a room taken out of the site keeps its account and history, and a
closed account stays closed when the site is loaded again.
"""

from __future__ import annotations

from controller.config import LoadedSite
from controller.config.billing import BillingConfig

from .meters import billed_buildings
from .store import LedgerStore

__all__ = ["room_account_id", "sync_accounts"]


def room_account_id(building: str, room: str) -> str:
    return f"{building}.{room}"


def sync_accounts(store: LedgerStore, site: LoadedSite, config: BillingConfig) -> int:
    """Create the missing room accounts (beds = the room's occupants); how many were made."""
    known = {a.id for a in store.accounts()}
    made = 0
    with store.transaction():
        for bid in billed_buildings(site):
            building = site.buildings.get(bid)
            if building is None:
                continue
            for room in building.rooms:
                account_id = room_account_id(bid, room.id)
                if account_id in known:
                    continue
                store.add_account(
                    account_id,
                    bid,
                    room.id,
                    room.occupancy,
                    opening=config.opening_balances.get(account_id, config.opening_balance),
                    actor="system",
                    reason="room in the site's billing buildings",
                )
                made += 1
    return made
