"""A meter swap through the real recorder: billing charges the hour as the statistics count it,
and a swap recorded by staff after the hour was charged posts the difference once."""

from __future__ import annotations

from decimal import Decimal as D  # noqa: N817 (figures read better short)
from pathlib import Path

from controller.app import Controller
from controller.billing import BillingComponent, EntryKind
from controller.config import LoadedSite
from controller.core import FakeClock
from controller.recorder import Recorder

from .conftest import at, energy_hours, ts, with_billing

ROOM = "dorm-1.101"
ENERGY = f"{ROOM}.elec.energy"
FLAT = {
    "id": "flat",
    "utility": "electricity",
    "effective_from": "2026-03-01",
    "pricing": {"type": "flat", "price": "1.00"},
}


async def hour_zero(recorder: Recorder) -> float:
    """The statistics' figure for 00:00–01:00 (what the recorder's own query says)."""
    rows = await recorder.consumption.consumption(
        energy_hours(f"{ROOM}.elec", at(2026, 3, 2, 0), at(2026, 3, 2, 1))
    )
    return sum(r.consumption for r in rows)


async def test_a_swap_is_billed_as_the_statistics_count_it(
    site: LoadedSite, tmp_path: Path
) -> None:
    clock = FakeClock(ts(2026, 3, 2, 0))
    controller = Controller(
        with_billing(site, tariffs=[FLAT], settle_s=60, opening_balance="100"), clock
    )
    recorder = Recorder(controller, history_path=tmp_path / "history.sqlite3", flush_interval=0.05)
    controller.add(recorder)
    billing = BillingComponent(
        controller, store_path=tmp_path / "billing.sqlite3", source=lambda: recorder.consumption
    )
    await billing.open()
    try:
        async with controller.running():
            await recorder.wait_started()
            await billing.cycle()  # charging starts with hour 0

            def read(minute: int, value: float) -> None:
                clock.set(ts(2026, 3, 2, 0) + minute * 60)
                controller.states.set(ENERGY, value)

            # The old meter reads 200.6 at 00:15 and is replaced by one that reads 5.0.
            for minute, value in ((0, 200.0), (15, 200.6), (30, 5.4), (60, 6.4), (62, 6.5)):
                read(minute, value)
            await recorder.flush()
            clock.set(ts(2026, 3, 2, 1, 2))
            await billing.cycle()
            counted = await hour_zero(recorder)
            store = billing.store
            assert store is not None
            (charge,) = store.entries(ROOM, kinds=[EntryKind.CHARGE])
            assert charge.quantity == D(repr(counted))
            # Without the record the statistics took the new meter's first 5.4 as implausible:
            # 0.6 + 1.0 kWh counted, 5.4 held out (noted, not charged).
            assert counted == 1.6
            (held,) = store.entries(ROOM, kinds=[EntryKind.HELD])
            assert (held.quantity, held.amount) == (D("5.4"), D(0))

            # Staff enter the swap afterwards: the statistics revise hour 0, billing follows.
            await recorder.record_meter_swap(ENERGY, ts(2026, 3, 2, 0, 20), 200.6, 5.0, "wang")
            await recorder.flush()
            read(120, 7.4)  # the next hour settles: the recent hours are read again
            await recorder.flush()
            clock.set(ts(2026, 3, 2, 2, 2))
            await billing.cycle()
            await billing.cycle()  # a second look changes nothing
            revised = await hour_zero(recorder)
            assert revised == 2.0  # 0.6 on the old meter, 1.4 on the new one
            billed = [
                e
                for e in store.entries(ROOM, kinds=[EntryKind.CHARGE, EntryKind.CORRECTION])
                if e.hour == ts(2026, 3, 2, 0)
            ]
            assert [(e.kind, e.quantity, e.amount) for e in billed] == [
                (EntryKind.CHARGE, D("1.6"), D("-1.6")),
                (EntryKind.CORRECTION, D("0.4"), D("-0.4")),
            ]
            assert store.verify() == []
    finally:
        await billing.close()
