"""Shared pieces of the routers: the acting user, component lookup and error translation."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Annotated, Any, TypeVar

from fastapi import Header, HTTPException
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from controller.app import Controller

__all__ = ["Actor", "Reason", "component", "translate_errors"]

T = TypeVar("T")

Actor = Annotated[
    str,
    Header(
        alias="X-Sanjie-User",
        min_length=1,
        max_length=100,
        description="Who acts (staff account). Every change is audited under this name.",
    ),
]


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
