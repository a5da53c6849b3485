"""Pure: OCPI list pagination (transport_and_format §Pagination) over a stable order."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Generic, TypeVar

T = TypeVar("T")


@dataclass(frozen=True, slots=True, kw_only=True)
class PageRequest:
    """What the caller asked for, with ``limit`` already capped at the server maximum."""

    offset: int = 0
    limit: int
    date_from: datetime | None = None  # inclusive, on last_updated
    date_to: datetime | None = None  # exclusive, on last_updated


@dataclass(frozen=True, slots=True, kw_only=True)
class Page(Generic[T]):
    """One page, with what the response headers need."""

    items: tuple[T, ...]
    total: int  # X-Total-Count: matching objects, ignoring offset and limit
    next_offset: int | None  # for the Link header; None on the last page


def paginate(
    items: Sequence[T], request: PageRequest, *, last_updated: Callable[[T], datetime]
) -> Page[T]:
    """Filter on ``last_updated`` and cut one page; ``items`` must already be in stable order."""
    matching = [
        item
        for item in items
        if (request.date_from is None or last_updated(item) >= request.date_from)
        and (request.date_to is None or last_updated(item) < request.date_to)
    ]
    end = request.offset + request.limit
    return Page(
        items=tuple(matching[request.offset : end]),
        total=len(matching),
        next_offset=end if end < len(matching) else None,
    )
