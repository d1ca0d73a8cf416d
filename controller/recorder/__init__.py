"""The recorder: readings and hourly consumption into InfluxDB (durably) or embedded SQLite.

``Recorder.from_site(controller)`` picks InfluxDB when the site configures it, else the embedded
history. Reports ask ``recorder.consumption`` (or ``HistoryConsumption``/``InfluxV1Consumption``)
the one ``ConsumptionQuery``. See ``docs/recorder.md``.
"""

from .counters import CounterSpec
from .errors import (
    QueryError,
    RecorderError,
    RejectedBatchError,
    RetryableWriteError,
    SwapRecordError,
    WriteError,
)
from .events import MeterSwapped
from .history import History
from .lineproto import CONSUMPTION_MEASUREMENT, LineFormatter
from .outbox import Outbox
from .query import ConsumptionQuery, ConsumptionRow, ConsumptionSource, Period
from .recorder import Recorder
from .sender import Backoff
from .sources import HistoryConsumption, InfluxV1Consumption
from .stats import HourStat, MeterSwap, StatisticsEngine
from .unmetered import RemainderRow, unmetered
from .writers import InfluxV1Writer, InfluxV2Writer, Writer, make_writer

__all__ = [
    "CONSUMPTION_MEASUREMENT",
    "Backoff",
    "ConsumptionQuery",
    "ConsumptionRow",
    "ConsumptionSource",
    "CounterSpec",
    "History",
    "HistoryConsumption",
    "HourStat",
    "InfluxV1Consumption",
    "InfluxV1Writer",
    "InfluxV2Writer",
    "LineFormatter",
    "MeterSwap",
    "MeterSwapped",
    "Outbox",
    "Period",
    "QueryError",
    "Recorder",
    "RecorderError",
    "RejectedBatchError",
    "RemainderRow",
    "RetryableWriteError",
    "StatisticsEngine",
    "SwapRecordError",
    "WriteError",
    "Writer",
    "make_writer",
    "unmetered",
]
