"""Shared pieces of the routers: the acting user, component lookup and error translation."""

from __future__ import annotations

import contextlib
import unicodedata
from collections.abc import Iterator
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Header, HTTPException, Request
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from controller.app import Controller

from .errors import ApiError, FieldError

__all__ = ["Actor", "Reason", "acting_user", "component", "known_query", "translate_errors"]

T = TypeVar("T")


def acting_user(
    user: Annotated[
        str,
        Header(
            alias="X-Sanjie-User",
            min_length=1,
            max_length=100,
            description="Who acts (staff account). Every change is audited under this name; "
            "control and format characters are refused.",
        ),
    ],
) -> str:
    """The acting staff account: the one place that decides who acts (accounts replace the
    header later). Control characters would forge lines in the audit log and in logs.

    HTTP headers travel as bytes and Starlette reads them as Latin-1, so ``王丽`` sent as
    UTF-8 arrives as ``çŽ‹ä¸½``: a value that is valid UTF-8 is read as UTF-8."""
    # Not UTF-8 bytes: a Latin-1 name stays as it came.
    with contextlib.suppress(UnicodeEncodeError, UnicodeDecodeError):
        user = user.encode("latin-1").decode("utf-8")
    if user != user.strip() or any(unicodedata.category(c)[0] == "C" for c in user):
        raise ApiError(
            422,
            "X-Sanjie-User holds control characters or surrounding spaces",
            [
                FieldError(
                    loc=["header", "X-Sanjie-User"],
                    msg="printable characters only, no surrounding spaces",
                    type="string_pattern_mismatch",
                )
            ],
        )
    return user


Actor = Annotated[str, Depends(acting_user)]


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
    for candidate in ctrl.components:
        if isinstance(candidate, kind):
            return candidate
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
