"""The report's tables, part 3: what the policies did, the alarms, and the data quality."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from controller.audit import AuditEntry
from controller.config.hierarchy import metered_kinds
from controller.recorder.history import MeterEvent

from .actions import ActionSummary, summarise_actions
from .i18n import POLICY_NAMES, named
from .model import Table
from .tables import QUANTITIES, Tables
from .usage import KINDS

__all__ = ["policies", "quality"]


def policies(
    m: Tables, entries: Iterable[AuditEntry], end: float
) -> tuple[Table, Table, ActionSummary]:
    """The policy-action and alarm tables, and the summary they come from (its leak closures
    make the water-saved table)."""
    summary = summarise_actions(entries, m.site, m.places, m.scope, end)
    table = Table(
        "policies",
        m.t("t_policies"),
        (
            m.col("policy", "text"),
            m.col("commands", "int"),
            m.col("failed", "int"),
            m.col("detail", "text"),
        ),
    )
    for policy_type, count in sorted(summary.commands.items()):
        detail = ""
        if policy_type == "curfew":
            detail = f"{m.t('curfew_hours')}: {summary.curfew_hours:.1f}"
        elif policy_type in ("leak", "night_leak"):
            closed = [c for c in summary.leaks if c.policy_type == policy_type]
            saved = sum(c.litres_saved or 0.0 for c in closed) / 1000
            detail = f"{m.t('leaks_closed')}: {len(closed)}, {m.t('saved')} {saved:.3f} m³"
        table.rows.append(
            (
                named(POLICY_NAMES, policy_type, m.lang),
                count,
                summary.failed[policy_type],
                detail,
            )
        )
    alarms = Table(
        "alarms",
        m.t("t_alarms"),
        (m.col("alarm", "text"), m.col("severity", "text"), m.col("count", "int")),
    )
    for (kind, severity), count in sorted(summary.alarms.items()):
        alarms.rows.append((kind, severity, count))
    return table, alarms, summary


def quality(m: Tables, events: Sequence[MeterEvent]) -> Table:
    """Metering points in scope, those that sent nothing, suspect use, swaps, anomalies."""
    meters = [
        d.id
        for d in m.site.devices.values()
        if m.places.in_scope(d.id, m.scope) and metered_kinds(m.site.profile_of(d)) & set(KINDS)
    ]
    reporting = {device for (device, _, _, _) in m.period.meters}
    silent = [m for m in meters if m not in reporting]
    in_scope = [e for e in events if m.places.in_scope(e.entity_id.rsplit(".", 1)[0], m.scope)]
    swaps = sum(1 for e in in_scope if e.kind.startswith("meter_swap"))
    held = ", ".join(f"{m.t(q)} {m.period.held_out.get(q, 0.0):.3f}" for q in QUANTITIES)
    table = Table("quality", m.t("t_quality"), (m.col("check", "text"), m.col("value", "text")))
    listed = f" ({', '.join(silent[:10])}{', …' if len(silent) > 10 else ''})" if silent else ""
    table.rows = [
        (m.t("meters_total"), str(len(meters))),
        (m.t("meters_silent"), f"{len(silent)}{listed}"),
        (m.t("held_out"), held),
        (m.t("swaps"), str(swaps)),
        (m.t("anomalies"), str(len(in_scope) - swaps)),
        (m.t("partial"), m.t("yes") if m.period.partial else m.t("no")),
    ]
    return table
