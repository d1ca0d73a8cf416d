"""``Recorder.seed_history``: made-up hours through the recorder's own path, once, marked."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from controller.app import Controller
from controller.config import LoadedSite
from controller.core import FakeClock
from controller.demo_seed import SEED_ID, SEED_NOTE, seeded_days
from controller.recorder import ConsumptionQuery, Period, Recorder
from controller.recorder.history import History
from controller.recorder.query import ConsumptionRow
from tests.recorder.conftest import H

TZ = FakeClock().tz


async def test_the_recorder_writes_a_seed_once_and_marks_it(
    small_site: LoadedSite, tmp_path: Path
) -> None:
    path = tmp_path / "history.sqlite3"
    end = H + 3 * 86400

    def month_total(rows: list[ConsumptionRow]) -> float:
        return round(sum(r.consumption for r in rows), 6)

    query = ConsumptionQuery(
        dt.datetime.fromtimestamp(H, TZ),
        dt.datetime.fromtimestamp(end, TZ),
        Period.DAY,
        ("building",),
        {"kind": "active_energy"},
    )
    totals = []
    for attempt in range(2):  # a second demo start on the same files
        controller = Controller(small_site, FakeClock(end + 600))
        recorder = Recorder(controller, history_path=path, flush_interval=0.05)
        controller.add(recorder)
        async with controller.running():
            await recorder.wait_started()
            days = seeded_days(controller.registry, end, TZ, days=3)
            span = await recorder.seed_history(SEED_ID, days, SEED_NOTE)
            if attempt == 0:
                assert span is not None
                assert (span.start, span.end) == (H, end)
                assert recorder.status()["seeded"]["note"] == SEED_NOTE
            else:
                assert span is None  # already there: nothing written again
            totals.append(month_total(await recorder.consumption.consumption(query)))
    assert totals[0] == totals[1] > 0
    history = History(path, recorder.formatter.keys)
    try:
        (marked,) = history.seeded()
        assert (marked.id, marked.start, marked.end, marked.note) == (SEED_ID, H, end, SEED_NOTE)
        assert marked.rows == 3 * 24 * len(recorder.engine)  # every counter, every hour
    finally:
        history.close()
