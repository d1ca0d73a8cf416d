"""The ``reports`` section: conversion factors, tariffs, the baseline rule and scheduled reports.

Reports turn kWh and m³ into the figures offices hand upward (kgce, yuan, kg CO₂), so the
factors are configuration, not constants in code: campuses pay different tariffs, and the grid
emission factor is republished every year or two. The defaults are documented public values
(0.1229 kgce/kWh, equivalent calorific value; 0.5703 kg CO₂/kWh, the national grid average the
Ministry of Ecology and Environment published for 2022) and typical campus tariffs; a site
should set its own.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import Field, model_validator

from .common import Slug, StrictModel

__all__ = ["BaselineSpan", "ReportSchedule", "ReportSettings", "Tariffs"]

Positive = Annotated[float, Field(ge=0)]


class Tariffs(StrictModel):
    """Prices used to turn savings into yuan."""

    electricity: Positive = Field(default=0.56, description="yuan per kWh")
    cold_water: Positive = Field(default=4.1, description="yuan per m³")
    hot_water: Positive = Field(default=25.0, description="yuan per m³ (heated)")
    food_waste: Positive = Field(
        default=12.0, description="yuan per kg of food thrown away (what it cost to cook)"
    )


class BaselineSpan(StrictModel):
    """A chosen pre-campaign period (inclusive dates)."""

    start: dt.date
    end: dt.date

    @model_validator(mode="after")
    def _ordered(self) -> BaselineSpan:
        if self.end < self.start:
            raise ValueError(f"ends {self.end} before it starts {self.start}")
        return self


class ReportSchedule(StrictModel):
    """A report generated and stored every week (Monday, for the last week) or month."""

    id: Slug
    every: Literal["week", "month"]
    scope: str = "campus"
    formats: tuple[Literal["xlsx", "pdf", "html", "csv"], ...] = ("xlsx", "pdf")
    language: Literal["zh", "en"] = "zh"
    send_to: list[Slug] = Field(
        default=[],
        description="notify.channels ids (webhook, email, wecom, dingtalk) told when the "
        "report is stored.",
    )


class ReportSettings(StrictModel):
    """How reports convert, compare and price consumption."""

    kgce_per_kwh: Annotated[float, Field(gt=0, le=1)] = 0.1229
    co2_kg_per_kwh: Annotated[float, Field(ge=0, le=2)] = 0.5703
    tariffs: Tariffs = Tariffs()
    baseline: BaselineSpan | None = Field(
        default=None,
        description="A chosen pre-campaign period {start, end}; without it, the same dates a "
        "year earlier.",
    )
    vacation: Literal["exclude", "include"] = Field(
        default="exclude",
        description="Vacation days (calendar) are left out of both periods, or kept.",
    )
    rankings: Annotated[int, Field(ge=1, le=100)] = 10
    build_workers: Annotated[int, Field(ge=1, le=4)] = Field(
        default=1, description="Report builds that run at the same time (worker threads)."
    )
    build_queue: Annotated[int, Field(ge=1, le=100)] = Field(
        default=8, description="Report builds that may wait or run at once; more are refused."
    )
    schedules: list[ReportSchedule] = Field(default_factory=list)
