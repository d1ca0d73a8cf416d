"""One error body for every failure the API answers, and the handlers that produce it.

Every 4xx and 5xx carries ``ErrorBody``: ``detail`` is one sentence for people, ``errors`` lists
each offending field (``loc`` as FastAPI spells it, e.g. ``["body", "value"]``) with why and, for
values, what is allowed. FastAPI's own 422 (``detail`` an array) and Starlette's plain 404/405
are rewritten into it, so clients parse one shape and the OpenAPI document tells the truth.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine, Iterable, Mapping, Sequence
from typing import Any

from fastapi import FastAPI, HTTPException, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from controller.policies.errors import Invalid, NotFound, PolicyError, Refused

__all__ = [
    "INTERNAL",
    "ApiError",
    "EngineErrorRoute",
    "ErrorBody",
    "FieldError",
    "error_response",
    "install_error_handlers",
    "json_responses",
    "policy_error_response",
    "responses",
]

_LOGGER = logging.getLogger(__name__)

DESCRIPTIONS = {
    400: "The request is malformed.",
    401: "Not signed in: no valid session cookie or API token.",
    403: "Signed in, but the account's role, buildings or token scope do not allow this (or no "
    "CSRF token).",
    404: "Unknown id (entity, policy, override, room, alarm) or route.",
    405: "The route does not take this method.",
    409: "Refused: read-only point, or a record that does not fit the data.",
    413: "The request body is larger than the API accepts.",
    415: "The body is not of a type the route accepts (e.g. a photo that is not JPEG, PNG or "
    "WebP).",
    422: "Invalid body, query or header: ``errors`` names each field and why.",
    423: "The account is locked after too many failed sign-ins; try again later.",
    429: "Too many requests: sign-in attempts from one address, or reports from one room's "
    "public form; wait a few minutes.",
    500: "A bug in the controller (logged); the request had no effect or an unknown one.",
    502: "The device did not confirm the command.",
    503: "The component behind the route is not running.",
    504: "The controller did not answer in time (the request may still take effect).",
}


class FieldError(BaseModel):
    """One offending field of a request."""

    loc: list[str | int] = Field(description='Where: ["body", "value"], ["query", "limit"].')
    msg: str = Field(description="Why, for people.")
    type: str = Field(description="Machine-readable kind: missing, out_of_range, not_allowed…")
    allowed: dict[str, Any] | None = Field(
        default=None,
        description='What would be accepted: {"min": 16, "max": 30}, {"choices": […]}.',
    )


class ErrorBody(BaseModel):
    """The body of every error response."""

    detail: str = Field(description="What went wrong, in one sentence.")
    errors: list[FieldError] = Field(default=[], description="Each offending field (4xx only).")


class ApiError(HTTPException):
    """An HTTP error with field details; plain ``HTTPException(status, "reason")`` works too."""

    def __init__(self, status: int, detail: str, errors: Sequence[FieldError] = ()) -> None:
        super().__init__(status, detail)
        self.errors = list(errors)


def responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for these error statuses, all with ``ErrorBody``."""
    return {s: {"model": ErrorBody, "description": DESCRIPTIONS[s]} for s in statuses}


def json_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The same for a route whose success is not JSON (FastAPI would document its errors in
    the route's media type); ``ErrorBody`` must be in the document through other routes."""
    schema = {"$ref": "#/components/schemas/ErrorBody"}
    return {
        s: {"description": DESCRIPTIONS[s], "content": {"application/json": {"schema": schema}}}
        for s in statuses
    }


def error_response(
    status: int,
    detail: str,
    errors: Iterable[FieldError] = (),
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    body = ErrorBody(detail=detail, errors=list(errors))
    return JSONResponse(body.model_dump(exclude_none=True), status_code=status, headers=headers)


def field_errors(raw: Iterable[Any]) -> list[FieldError]:
    """pydantic/FastAPI error dicts → ``FieldError`` (no input echoed back)."""
    return [
        FieldError(loc=list(e.get("loc", ())), msg=str(e.get("msg", "")), type=str(e.get("type")))
        for e in raw
    ]


def _summary(errors: Sequence[FieldError]) -> str:
    parts = [f"{'.'.join(str(p) for p in e.loc)}: {e.msg}" for e in errors[:3]]
    more = f" (+{len(errors) - 3} more)" if len(errors) > 3 else ""
    return "; ".join(parts) + more if parts else "invalid request"


def install_error_handlers(api: FastAPI) -> None:
    """Every error the app raises (and every bug) answers with ``ErrorBody``."""

    async def http_error(_request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        errors: list[FieldError] = getattr(exc, "errors", [])
        detail = exc.detail
        if isinstance(detail, list):  # older call sites passing pydantic-style details
            errors = field_errors(detail)
            detail = _summary(errors)
        return error_response(exc.status_code, str(detail), errors, exc.headers)

    async def invalid(_request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        errors = field_errors(exc.errors())
        return error_response(422, _summary(errors), errors)

    async def bug(request: Request, exc: Exception) -> JSONResponse:
        if isinstance(exc, PolicyError):
            return policy_error_response(exc)
        _LOGGER.error("%s %s failed", request.method, request.url.path, exc_info=exc)
        return error_response(500, INTERNAL)

    api.add_exception_handler(StarletteHTTPException, http_error)
    api.add_exception_handler(RequestValidationError, invalid)
    api.add_exception_handler(Exception, bug)


INTERNAL = "internal error in the controller; it is logged"


def policy_error_response(err: PolicyError) -> JSONResponse:
    """The policy engine's deliberate errors: ``NotFound`` → 404, ``Invalid`` → 422 naming
    each field, ``Refused`` → 409. Any other error is a bug and answers 500."""
    if isinstance(err, NotFound):
        return error_response(404, str(err))
    if isinstance(err, Invalid):
        errors = [
            FieldError(loc=field.split(".") if field else [], msg=reason, type="value_error")
            for field, reason in err.issues
        ]
        return error_response(422, _summary(errors), errors)
    if isinstance(err, Refused):
        return error_response(409, err.reason)
    _LOGGER.error("Policy error %r has no HTTP status; answering 500", err)
    return error_response(500, INTERNAL)


class EngineErrorRoute(APIRoute):
    """A route whose handler answers engine errors as :func:`policy_error_response` says, and
    anything else unexpected as a logged 500, so a stray ``KeyError`` never reads as "not
    found". ``HTTPException`` and request validation pass through to the app's handlers."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            try:
                return await handler(request)
            except (StarletteHTTPException, RequestValidationError):
                raise
            except PolicyError as err:
                return policy_error_response(err)
            except Exception:
                _LOGGER.exception("%s %s failed", request.method, request.url.path)
                return error_response(500, INTERNAL)

        return handle
