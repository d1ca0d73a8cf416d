"""The report's billing section: what prepaid billing charged, took in and cut, from the ledger.

The figures come from ``controller.billing.report_figures`` (the ledger is the only truth about
money, so the report never re-prices consumption itself); cut-offs come from the audit log's
``billing:cut_off:<account>`` alarms, which the limits raise once per cut.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from controller.audit import AuditEntry
from controller.billing.statements import report_figures
from controller.billing.store import LedgerStore

from .i18n import text
from .model import Column, Table
from .span import Scope

__all__ = ["BillingFigures", "billing_tables", "fetch_billing"]

CUT_OFF_PREFIX = "billing:cut_off:"


@dataclass(frozen=True, slots=True)
class BillingFigures:
    """``figures`` as ``report_figures`` returns them; ``cut_offs`` per building in the period."""

    figures: dict[str, Any]
    cut_offs: dict[str, int]


def fetch_billing(
    store: LedgerStore, start: float, end: float, scope: Scope, audit: Iterable[AuditEntry]
) -> BillingFigures:
    """The period's billing figures for the buildings of ``scope`` (a floor or room scope
    reports its whole building: accounts are kept per room, figures per building)."""
    buildings = None if scope.kind == "campus" or scope.building is None else [scope.building]
    figures = report_figures(store, start, end, buildings)
    building_of = {a.id: a.building for a in store.accounts()}
    cuts: Counter[str] = Counter()
    for entry in audit:
        alarm = str(entry.details.get("alarm_id", ""))
        if entry.action != "alarm.raise" or not alarm.startswith(CUT_OFF_PREFIX):
            continue
        if not start <= entry.ts < end:
            continue
        building = building_of.get(alarm.removeprefix(CUT_OFF_PREFIX))
        if building is not None and (buildings is None or building in buildings):
            cuts[building] += 1
    return BillingFigures(figures, dict(cuts))


def billing_tables(billing: BillingFigures, names: dict[str, str], lang: str) -> list[Table]:
    """Two tables: charges per building and utility, and money and cut-offs per building."""

    def col(key: str, style: str = "num2") -> Column:
        return Column(text(key, lang), style)  # type: ignore[arg-type]

    charges = Table(
        "billing",
        text("t_billing", lang),
        (
            col("building", "text"),
            col("utility", "text"),
            col("charged_qty", "num3"),
            col("free_qty", "num3"),
            col("held_qty", "num3"),
            col("amount_yuan"),
        ),
        note=text("billing_note", lang),
    )
    accounts = Table(
        "billing_accounts",
        text("t_billing_accounts", lang),
        (
            col("building", "text"),
            col("accounts", "int"),
            col("in_arrears", "int"),
            col("top_ups_yuan"),
            col("refunds_yuan"),
            col("cut_offs", "int"),
        ),
    )
    total = Decimal(0)
    for bid, figures in billing.figures["buildings"].items():
        name = names.get(bid, bid)
        for utility, line in figures["utilities"].items():
            amount = Decimal(line["amount"])
            total += amount
            charges.rows.append(
                (
                    name,
                    text(utility, lang),
                    float(line["quantity"]),
                    float(line["free"]),
                    float(line["held"]),
                    float(amount),
                )
            )
        accounts.rows.append(
            (
                name,
                int(figures["accounts"]),
                int(figures["at_or_below_zero"]),
                float(figures["top_ups"]),
                float(figures["refunds"]),
                billing.cut_offs.get(bid, 0),
            )
        )
    if charges.rows:
        charges.rows.append((text("total", lang), "", None, None, None, float(total)))
    return [charges, accounts]
