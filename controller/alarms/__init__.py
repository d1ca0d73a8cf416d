"""Alarms that reach people: one place alarms are kept, de-duplicated, cleared and delivered.

``AlarmManager`` consumes the bus (``AlarmRaised`` from policies, the recorder and supervision;
``AvailabilityChanged`` from drivers; readings for threshold rules) and keeps every alarm in an
``AlarmStore`` (SQLite) so a restart neither forgets nor repeats one.
"""

from .manager import AlarmManager
from .model import AlarmRecord, AlarmScope, Severity
from .rules import ThresholdRule, ThresholdRules
from .store import AlarmStore

__all__ = [
    "AlarmManager",
    "AlarmRecord",
    "AlarmScope",
    "AlarmStore",
    "Severity",
    "ThresholdRule",
    "ThresholdRules",
]
