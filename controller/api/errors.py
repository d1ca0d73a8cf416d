"""Policy-engine errors to HTTP, for every route of a router, in one place.

Only the engine's own errors are translated: ``NotFound`` → 404, ``Invalid`` → 422 (with the
field and the reason, in FastAPI's ``loc``/``msg``/``type`` shape), ``Refused`` → 409. Anything
else a handler raises is a bug: it is logged with its traceback and answered with a plain 500,
so a stray ``KeyError`` never reads as "not found". ``HTTPException`` and FastAPI's own request
validation pass through untouched.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException

from controller.policies.errors import Invalid, NotFound, PolicyError, Refused

__all__ = ["EngineErrorRoute", "policy_error_response"]

_LOGGER = logging.getLogger(__name__)

INTERNAL = "internal error in the controller; it is logged"


def policy_error_response(err: PolicyError) -> JSONResponse:
    """The HTTP answer to one of the engine's deliberate errors."""
    if isinstance(err, NotFound):
        return JSONResponse({"detail": str(err)}, status_code=404)
    if isinstance(err, Invalid):
        issues = [
            {"loc": field.split(".") if field else [], "msg": reason, "type": "value_error"}
            for field, reason in err.issues
        ]
        return JSONResponse({"detail": issues}, status_code=422)
    if isinstance(err, Refused):
        return JSONResponse({"detail": err.reason}, status_code=409)
    _LOGGER.error("Policy error %r has no HTTP status; answering 500", err)
    return JSONResponse({"detail": INTERNAL}, status_code=500)


class EngineErrorRoute(APIRoute):
    """An ``APIRoute`` whose handler answers engine errors and bugs as the module describes."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            try:
                return await handler(request)
            except (HTTPException, RequestValidationError):
                raise
            except PolicyError as err:
                return policy_error_response(err)
            except Exception:
                _LOGGER.exception("%s %s failed", request.method, request.url.path)
                return JSONResponse({"detail": INTERNAL}, status_code=500)

        return handle
