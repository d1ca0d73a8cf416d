"""Child process of the crash test: charges hour after hour until killed or done.

``python -m tests.billing.crash_child SITE HISTORY STORE UNTIL [slow]``: charges the history's
hours into the store up to UNTIL (epoch s). With ``slow`` every posting is announced on stdout
and followed by a pause, so the parent can SIGKILL it inside an hour's open transaction.
"""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path
from typing import Any

from controller.billing import Charger, LedgerStore, Meters, TariffBook, sync_accounts
from controller.config import load_site
from controller.core import FakeClock
from controller.recorder.sources import HistoryConsumption

from .conftest import TZ, billing, ts

START = ts(2026, 3, 2, 0)


class AnnouncingStore(LedgerStore):
    def post(self, *args: Any, **kwargs: Any) -> Any:
        entry = super().post(*args, **kwargs)
        print(f"posted {entry.key}", flush=True)
        time.sleep(0.05)
        return entry


async def main(site_path: str, history: str, store_path: str, until: float, slow: bool) -> None:
    site = load_site(site_path)
    config = billing()
    kind = AnnouncingStore if slow else LedgerStore
    store = kind(Path(store_path), FakeClock(START))
    sync_accounts(store, site, config)
    async with HistoryConsumption.open(history, TZ) as source:
        charger = Charger(store, TariffBook(config, TZ), Meters(site, store.accounts()), source)
        charger.start_at(START)
        now = START
        while now < until:
            now += 3600
            report = await charger.run_once(now + 600)
            print(f"charged {report.watermark}", flush=True)
    store.close()
    print("done", flush=True)


if __name__ == "__main__":
    site_arg, history_arg, store_arg, until_arg = sys.argv[1:5]
    asyncio.run(main(site_arg, history_arg, store_arg, float(until_arg), "slow" in sys.argv[5:]))
