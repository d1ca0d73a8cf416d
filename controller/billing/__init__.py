"""Prepaid electricity and water: tariffs, accounts, an append-only ledger, charging, limits.

``store`` keeps accounts and the ledger (SQLite); ``tariff`` prices an hour; ``charger`` posts
the recorder's settled hours once; ``limits`` warns, cuts off and restores through the command
router; ``topup`` and ``csvimport`` bring money in; ``statements`` renders it for people and the
finance office; ``component`` runs it all inside the controller.
"""

from .accounts import room_account_id, sync_accounts
from .charger import Charger, ChargeReport, HourUse, apply_hour
from .component import BillingComponent, billing_component
from .csvimport import CsvImport, ImportResult
from .errors import (
    AccountClosed,
    AccountExists,
    BadAmount,
    BillingError,
    CsvFormatError,
    KeyReused,
    UnknownAccount,
)
from .events import BalanceCutOff, BalanceLow, BalanceRestored, Notice
from .limits import Limits, LimitState
from .meters import Meters
from .model import Account, EntryKind, LedgerEntry, Utility
from .notices import OutboxNotices
from .statements import Statement, report_figures, statement, summary_rows
from .store import LedgerStore
from .tariff import Priced, TariffBook
from .topup import TopUps

__all__ = [
    "Account",
    "AccountClosed",
    "AccountExists",
    "BadAmount",
    "BalanceCutOff",
    "BalanceLow",
    "BalanceRestored",
    "BillingComponent",
    "BillingError",
    "ChargeReport",
    "Charger",
    "CsvFormatError",
    "CsvImport",
    "EntryKind",
    "HourUse",
    "ImportResult",
    "KeyReused",
    "LedgerEntry",
    "LedgerStore",
    "LimitState",
    "Limits",
    "Meters",
    "Notice",
    "OutboxNotices",
    "Priced",
    "Statement",
    "TariffBook",
    "TopUps",
    "UnknownAccount",
    "Utility",
    "apply_hour",
    "billing_component",
    "report_figures",
    "room_account_id",
    "statement",
    "summary_rows",
    "sync_accounts",
]
