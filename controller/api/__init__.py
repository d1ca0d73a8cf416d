"""The HTTP API for facilities staff and the web app (FastAPI)."""

from .app import create_api
from .server import ApiServer

__all__ = ["ApiServer", "create_api"]
