"""Paging of the portal's lists without counting them: a page reads one row more than it
shows, to know whether a next page exists, so a page costs the same at any size.

- ``keyset_page``: a long list in a fixed order (the audit log). The next page starts after
  the last row shown (``?after=<cursor>``), the previous one before the first
  (``?before=<cursor>``): an index range at any depth, with an index that ends in the
  ordering's columns.
- ``numbered_page``: ``?page=N`` (LIMIT and OFFSET), for lists a person sorts as they like;
  deep pages cost more.

Both return a ``Page`` that portal/_pager.html renders; its links keep the request's other
query parameters (the filters).
"""

import base64
import binascii
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.db.models import Model, Q, QuerySet
from django.http import HttpRequest, QueryDict
from django.utils import timezone

PAGE_SIZE = 50
# The parameters paging owns; any other one is the list's and stays in its links.
PAGING_PARAMETERS = ("after", "before", "page")


@dataclass(frozen=True)
class Page:
    items: list
    has_next: bool = False
    has_previous: bool = False
    # Query strings ("?...") of the links, every other parameter of the request kept.
    next_query: str = ""
    previous_query: str = ""
    first_query: str = ""
    number: int | None = None  # numbered pages only

    def __iter__(self):
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)

    def __bool__(self) -> bool:
        return bool(self.items)

    @property
    def has_other_pages(self) -> bool:
        return self.has_next or self.has_previous


def query_with(params: QueryDict, **changes: Any) -> str:
    """``params`` without the paging parameters and the empty ones (a filter form sends
    every field), with ``changes``, as "?...": the start of a link (just "?" when nothing is
    left, the list's own address)."""
    kept = QueryDict(mutable=True)
    for name, values in params.lists():
        if name not in PAGING_PARAMETERS and any(values):
            kept.setlist(name, [value for value in values if value])
    for name, value in changes.items():
        kept[name] = str(value)
    return "?" + kept.urlencode()


# --- keyset ---------------------------------------------------------------------------------


def _columns(ordering: Sequence[str]) -> list[tuple[str, bool]]:
    return [(name.lstrip("-"), name.startswith("-")) for name in ordering]


def encode_cursor(row: Model, ordering: Sequence[str]) -> str:
    values = [getattr(row, name) for name, _descending in _columns(ordering)]
    text = json.dumps([v.isoformat() if hasattr(v, "isoformat") else v for v in values])
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def decode_cursor(model: type[Model], ordering: Sequence[str], cursor: str) -> list | None:
    """The values a cursor holds, each as its column's Python value; None for anything that
    is not a cursor of this ordering (the list then starts at its first page)."""
    if not cursor or len(cursor) > 1000:
        return None
    try:
        raw = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        columns = _columns(ordering)
        if not isinstance(raw, list) or len(raw) != len(columns):
            return None
        values = []
        for (name, _descending), value in zip(columns, raw, strict=True):
            parsed = model._meta.get_field(name).to_python(value)
            if parsed is None or "\x00" in str(parsed):
                return None
            if isinstance(parsed, datetime) and timezone.is_naive(parsed):
                return None
            values.append(parsed)
        return values
    except (ValueError, TypeError, binascii.Error, FieldDoesNotExist, ValidationError):
        return None


def _beyond(ordering: Sequence[str], values: list, *, backwards: bool) -> Q:
    """Rows after ``values`` in ``ordering`` (before them, ``backwards``). The first column's
    bound is also given alone: the database takes it as the start of the index range."""
    condition = Q()
    equal: dict[str, Any] = {}
    for (name, descending), value in zip(_columns(ordering), values, strict=True):
        smaller = descending != backwards
        condition |= Q(**equal, **{f"{name}__{'lt' if smaller else 'gt'}": value})
        equal[name] = value
    first, descending = _columns(ordering)[0]
    bound = Q(**{f"{first}__{'lte' if descending != backwards else 'gte'}": values[0]})
    return bound & condition


def _reversed(ordering: Sequence[str]) -> list[str]:
    return [name[1:] if name.startswith("-") else f"-{name}" for name in ordering]


def keyset_page(
    queryset: QuerySet,
    request: HttpRequest,
    *,
    ordering: Sequence[str],
    size: int = PAGE_SIZE,
) -> Page:
    """One page of ``queryset`` in ``ordering`` (columns that are never null and end in a
    unique one, such as ``("-created_at", "-id")``), from the request's cursor: one query."""
    params = request.GET
    model = queryset.model
    after = decode_cursor(model, ordering, params.get("after", ""))
    before = None if after else decode_cursor(model, ordering, params.get("before", ""))
    if before is not None:
        rows = list(
            queryset.filter(_beyond(ordering, before, backwards=True)).order_by(
                *_reversed(ordering)
            )[: size + 1]
        )
        has_previous, has_next = len(rows) > size, True
        rows = rows[:size][::-1]
    else:
        narrowed = (
            queryset
            if after is None
            else queryset.filter(_beyond(ordering, after, backwards=False))
        )
        rows = list(narrowed.order_by(*ordering)[: size + 1])
        has_next, has_previous = len(rows) > size, after is not None
        rows = rows[:size]
    if not rows:
        # Past either end (the rows went meanwhile): offer the start of the list.
        start = query_with(params)
        return Page(
            items=[],
            has_previous=after is not None or before is not None,
            previous_query=start,
            first_query=start,
        )
    return Page(
        items=rows,
        has_next=has_next,
        has_previous=has_previous,
        next_query=query_with(params, after=encode_cursor(rows[-1], ordering)),
        previous_query=query_with(params, before=encode_cursor(rows[0], ordering)),
        first_query=query_with(params),
    )


# --- numbered -------------------------------------------------------------------------------


def numbered_page(queryset: QuerySet, request: HttpRequest, *, size: int = PAGE_SIZE) -> Page:
    """Page ``?page=N`` of ``queryset`` as it is ordered, without a COUNT: one query."""
    params = request.GET
    raw = params.get("page", "1")
    number = int(raw) if raw.isascii() and raw.isdigit() and len(raw) <= 6 else 1
    number = max(number, 1)
    start = (number - 1) * size
    rows = list(queryset[start : start + size + 1])
    return Page(
        items=rows[:size],
        has_next=len(rows) > size,
        has_previous=number > 1,
        next_query=query_with(params, page=number + 1),
        previous_query=query_with(params, page=number - 1) if number > 2 else query_with(params),
        first_query=query_with(params),
        number=number,
    )
