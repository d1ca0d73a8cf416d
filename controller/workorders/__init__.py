"""Repair work orders (网上报修): from alarms, by staff, or by students via a room link."""

from .model import Category, Status, WorkOrder, WorkOrderError
from .photos import PhotoRefused
from .service import RateLimited, WorkOrders
from .store import WorkOrderStore

__all__ = [
    "Category",
    "PhotoRefused",
    "RateLimited",
    "Status",
    "WorkOrder",
    "WorkOrderError",
    "WorkOrderStore",
    "WorkOrders",
]
