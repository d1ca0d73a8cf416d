"""Shared pieces of the routers: unknown query parameters, component lookup and error translation.

Who acts is no longer a header the client chooses: it is the authenticated account
(``auth.Caller``), which every route takes.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any, TypeVar

from fastapi import HTTPException, Request
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from controller.app import Controller

from .errors import ApiError, FieldError

__all__ = ["Reason", "component", "known_query", "translate_errors"]

T = TypeVar("T")


def known_query(request: Request) -> None:
    """Refuse query parameters the route does not declare: ``?buildng=dorm-1`` would otherwise
    be ignored and answer every building's entities as if they matched."""
    route = request.scope.get("route")
    if not isinstance(route, APIRoute) or not request.query_params:
        return
    if not request.url.path.startswith("/api/"):  # pages take ?lang= ?format= ?next=
        return
    declared = _query_names(route.dependant)
    unknown = sorted(set(request.query_params) - declared)
    if unknown:
        raise ApiError(
            422,
            f"unknown query parameter(s) {', '.join(repr(u) for u in unknown[:5])}",
            [
                FieldError(loc=["query", name], msg="not a parameter of this route", type="extra")
                for name in unknown[:20]
            ],
        )


def _query_names(dependant: Dependant) -> set[str]:
    names = {param.alias for param in dependant.query_params}
    for sub in dependant.dependencies:
        names |= _query_names(sub)
    return names


class Reason(BaseModel):
    """Body of a change that needs nothing but a reason (audited)."""

    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=500)


def component(ctrl: Controller, kind: type[T]) -> T:
    """The running component of ``kind``, or 503 when this controller has none."""
    found = ctrl.find(kind)
    if found is not None:
        return found
    raise HTTPException(503, f"{kind.__name__} is not running in this controller")


@contextlib.contextmanager
def translate_errors(what: str = "") -> Iterator[None]:
    """Built-in errors to HTTP (the history routes): KeyError → 404, invalid input → 422.

    The policy routes do not use this: they map only ``PolicyError``s (``errors.py``).
    """
    try:
        yield
    except KeyError as err:
        raise HTTPException(
            404, f"unknown {what} {err.args[0] if err.args else ''}".strip()
        ) from err
    except ValidationError as err:
        raise HTTPException(422, _details(err)) from err
    except (ValueError, TypeError) as err:
        raise HTTPException(422, str(err)) from err


def _details(err: ValidationError) -> list[dict[str, Any]]:
    return [
        {"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]}
        for e in err.errors(include_url=False, include_context=False, include_input=False)
    ]
