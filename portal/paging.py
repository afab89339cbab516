"""Pages of a long list without counting it: keyset paging ("the rows after this one, in
this order"), so that the thousandth page costs what the first one does and no page needs
a COUNT of the whole table. A page knows whether another one follows by asking for one
row more than it shows.

The queryset must be ordered by plain fields or annotations (no ``__`` lookups), the last
of them unique: a cursor is the values of those fields in the row at the edge of a page.
"""

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet


@dataclass(frozen=True)
class KeysetPage:
    rows: list[Any]
    next_cursor: str | None
    previous_cursor: str | None

    @property
    def has_next(self) -> bool:
        return self.next_cursor is not None

    @property
    def has_previous(self) -> bool:
        return self.previous_cursor is not None


class BadCursor(ValueError):
    pass


def _ordering(queryset: QuerySet) -> list[tuple[str, bool]]:
    """(field, descending) for each field the queryset is ordered by."""
    ordering = [str(term) for term in queryset.query.order_by]
    if not ordering or any("__" in term for term in ordering):
        raise ValueError("keyset paging needs an ordering by fields of the rows themselves")
    return [(term.lstrip("-"), term.startswith("-")) for term in ordering]


def _field(queryset: QuerySet, name: str):
    if name in queryset.query.annotations:
        return queryset.query.annotations[name].output_field
    if name == "pk":
        return queryset.model._meta.pk
    return queryset.model._meta.get_field(name)


def _value(row: Any, name: str) -> Any:
    return row.pk if name == "pk" else getattr(row, name)


def _encode(row: Any, fields: list[tuple[str, bool]]) -> str:
    values = [_value(row, name) for name, _descending in fields]
    text = json.dumps([v.isoformat() if hasattr(v, "isoformat") else v for v in values])
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _decode(queryset: QuerySet, cursor: str, fields: list[tuple[str, bool]]) -> list[Any]:
    try:
        raw = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise BadCursor(str(exc)) from None
    if not isinstance(raw, list) or len(raw) != len(fields):
        raise BadCursor("not a cursor of this list")
    values = []
    for (name, _descending), value in zip(fields, raw, strict=True):
        if not isinstance(value, str | int) or isinstance(value, bool) or value == "":
            raise BadCursor("not a cursor of this list")
        try:
            values.append(_field(queryset, name).to_python(value))
        except (ValidationError, TypeError, ValueError):
            raise BadCursor("not a cursor of this list") from None
    return values


def _beyond(fields: list[tuple[str, bool]], values: list[Any]) -> Q:
    """The rows that come after ``values`` in this ordering: the first field at least as
    far (which an index on it can serve), then beyond on the first field that differs."""
    (first, first_descending), first_value = fields[0], values[0]
    bound = Q(**{f"{first}__{'lte' if first_descending else 'gte'}": first_value})
    after = Q()
    for i, ((name, descending), value) in enumerate(zip(fields, values, strict=True)):
        same = {fields[j][0]: values[j] for j in range(i)}
        after |= Q(**same, **{f"{name}__{'lt' if descending else 'gt'}": value})
    return bound & after


def _flipped(fields: list[tuple[str, bool]]) -> list[tuple[str, bool]]:
    return [(name, not descending) for name, descending in fields]


def _order_by(fields: list[tuple[str, bool]]) -> list[str]:
    return [("-" if descending else "") + name for name, descending in fields]


def keyset_page(
    queryset: QuerySet, *, size: int, after: str | None = None, before: str | None = None
) -> KeysetPage:
    """The ``size`` rows after the cursor ``after``, or before ``before``, or the first
    ones. A cursor this list did not give raises BadCursor."""
    fields = _ordering(queryset)
    if before:
        values = _decode(queryset, before, fields)
        backwards = _flipped(fields)
        found = list(
            queryset.filter(_beyond(backwards, values)).order_by(*_order_by(backwards))[: size + 1]
        )
        rows = found[:size][::-1]
        if not rows:  # nothing before it any more: the list from its start
            return keyset_page(queryset, size=size)
        return KeysetPage(
            rows,
            _encode(rows[-1], fields),
            _encode(rows[0], fields) if len(found) > size else None,
        )
    if after:
        queryset = queryset.filter(_beyond(fields, _decode(queryset, after, fields)))
    found = list(queryset[: size + 1])
    rows = found[:size]
    return KeysetPage(
        rows,
        _encode(rows[-1], fields) if len(found) > size else None,
        (_encode(rows[0], fields) if rows else after) if after else None,
    )
