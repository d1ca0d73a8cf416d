"""Explicit paging for every list the API returns: nothing is ever cut silently.

A list answers ``Page``: the ``items`` of this page, the ``total`` that match, the ``limit``
and ``offset`` used, and ``next`` (the relative URL of the following page, or null on the last
one). ``limit`` is at most ``MAX_LIMIT``; lists are built in memory from live state, so offset
paging is exact as long as the set does not change between pages.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Annotated, Generic, TypeVar

from fastapi import Depends, Query, Request
from pydantic import BaseModel, Field

__all__ = ["DEFAULT_LIMIT", "MAX_LIMIT", "Page", "Paging", "PagingParams", "page", "paginate"]

T = TypeVar("T")
U = TypeVar("U")

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000


class Page(BaseModel, Generic[T]):
    """One page of a list."""

    items: list[T]
    total: int = Field(description="How many items match, over all pages.")
    limit: int
    offset: int
    next: str | None = Field(description="URL of the next page; null on the last page.")


@dataclass(frozen=True, slots=True)
class PagingParams:
    limit: int
    offset: int
    request: Request


def _paging(
    request: Request,
    limit: Annotated[
        int, Query(ge=1, le=MAX_LIMIT, description=f"Items per page (at most {MAX_LIMIT}).")
    ] = DEFAULT_LIMIT,
    offset: Annotated[int, Query(ge=0, le=10_000_000, description="Items to skip.")] = 0,
) -> PagingParams:
    return PagingParams(limit, offset, request)


Paging = Annotated[PagingParams, Depends(_paging)]


def paginate(items: Sequence[U], paging: PagingParams, convert: Callable[[U], T]) -> Page[T]:
    """This page of ``items`` (converted), with the total and the next page's URL."""
    start, end = paging.offset, paging.offset + paging.limit
    return page([convert(item) for item in items[start:end]], len(items), paging)


def page(items: list[T], total: int, paging: PagingParams) -> Page[T]:
    """A page whose ``items`` were already cut to ``paging`` (by a database query)."""
    end = paging.offset + paging.limit
    following = None
    if end < total:
        url = paging.request.url.include_query_params(offset=end, limit=paging.limit)
        following = f"{url.path}?{url.query}"  # relative: right behind a reverse proxy too
    return Page[T](
        items=items, total=total, limit=paging.limit, offset=paging.offset, next=following
    )
