"""The staff web app: pages served by the controller, live values, no Node or CDN needed."""

from .live import LiveHub
from .pages import web_routes

__all__ = ["LiveHub", "web_routes"]
