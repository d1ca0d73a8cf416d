"""What a report is asked for: period, scope, language and (optionally) a chosen baseline."""

from __future__ import annotations

from dataclasses import dataclass, field

from controller.config import LoadedSite
from controller.config.reports import BaselineSpan

from .span import DateSpan, Scope

__all__ = ["ReportRequest", "baseline_of"]


@dataclass(frozen=True, slots=True)
class ReportRequest:
    span: DateSpan
    scope: Scope = field(default_factory=Scope)
    language: str = "zh"
    baseline: DateSpan | None = None
    """None: the site's ``reports.baseline`` rule."""


def baseline_of(request: ReportRequest, site: LoadedSite) -> DateSpan:
    if request.baseline is not None:
        return request.baseline
    rule = site.reports.baseline
    if isinstance(rule, BaselineSpan):
        return DateSpan(rule.start, rule.end)
    return request.span.year_before()
