"""JSON Schema of a site file, assembled from the section models."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from .alarms import AlarmsConfig, NotifyConfig, WorkOrdersConfig
from .billing import BillingConfig
from .policies import PolicyConfig
from .reports import ReportSettings
from .site import Building, Calendar, Campus, Device, Link, Sinks

__all__ = ["site_json_schema"]


class _SiteFile(BaseModel):
    """A site file: every section the loader accepts (``loader._SECTIONS``), for editors."""

    model_config = ConfigDict(extra="forbid")

    campus: Campus
    profile_dirs: list[str] = Field(default=[], description="Extra profile folders.")
    buildings: list[Building] = []
    links: list[Link] = []
    devices: list[Device] = []
    sinks: Sinks = Sinks()
    policies: list[PolicyConfig] = []
    calendar: Calendar = Calendar()
    alarms: AlarmsConfig = AlarmsConfig()
    notify: NotifyConfig = NotifyConfig()
    workorders: WorkOrdersConfig = WorkOrdersConfig()
    reports: ReportSettings = ReportSettings()
    billing: BillingConfig | None = None


def site_json_schema() -> dict[str, Any]:
    schema: dict[str, Any] = TypeAdapter(_SiteFile).json_schema()
    schema["title"] = "sanjie site"
    return schema
