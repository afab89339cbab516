"""An audit entry as a field diff: what each field was and what it became.

Pure: the ``before`` and ``after`` an entry stores in, the fields that differ out. Nested
objects (a domain's attributes) become dotted fields; lists (a domain's names) mark the
items removed and added. A secret (a password, an HA1 hash, a token's key) is never shown,
whatever an entry holds: only that it changed.
"""

import json
from dataclasses import dataclass, field
from typing import Any

# Shown first, in this order, as they name what the entry is about; the other fields follow
# by name (the order an entry was recorded in is not kept: PostgreSQL's jsonb sorts keys).
LEADING_FIELDS = ("did", "name", "username", "alias", "prefix", "source")
# Field names whose values are secrets wherever they appear.
SECRET_FIELDS = frozenset(
    {"password", "clear_password", "ha1", "ha1b", "key", "key_hash", "secret", "token"}
)


class Kind:
    CHANGED = "changed"  # was one value, is another
    ADDED = "added"  # not there before
    REMOVED = "removed"  # not there after
    SECRET = "secret"  # a secret: shown only as changed


@dataclass(frozen=True)
class Item:
    """One item of a list value; ``marked``: removed (on the before side) or added (after)."""

    value: Any
    marked: bool


@dataclass(frozen=True)
class FieldChange:
    field: str
    kind: str
    before: Any = None
    after: Any = None
    # For list values: every item of each side, those that went or came marked.
    before_items: list[Item] | None = None
    after_items: list[Item] | None = None


@dataclass(frozen=True)
class Diff:
    fields: list[FieldChange] = field(default_factory=list)
    unchanged: int = 0  # fields present on both sides with the same value

    def __bool__(self) -> bool:
        return bool(self.fields)


_MISSING = object()


def is_secret(name: str) -> bool:
    return name.rsplit(".", 1)[-1].lower() in SECRET_FIELDS


def flatten(values: Any, prefix: str = "") -> dict[str, Any]:
    """{"attributes": {"a": 1}} as {"attributes.a": 1} (an empty object holds no field);
    anything but an object is one field (stored without a name, the field ``value``)."""
    if not isinstance(values, dict):
        return {} if values is None else {prefix or "value": values}
    flat: dict[str, Any] = {}
    for key, value in values.items():
        name = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, dict):
            flat.update(flatten(value, name))
        else:
            flat[name] = value
    return flat


def _comparable(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def _items(values: list, others: list) -> list[Item]:
    kept = {_comparable(other) for other in others}
    return [Item(value, _comparable(value) not in kept) for value in values]


def field_change(name: str, before: Any, after: Any) -> FieldChange | None:
    """How one field changed, None if it did not."""
    if _comparable(before) == _comparable(after):
        return None
    if is_secret(name):
        return FieldChange(name, Kind.SECRET)
    if before is _MISSING:
        return FieldChange(name, Kind.ADDED, after=after)
    if after is _MISSING:
        return FieldChange(name, Kind.REMOVED, before=before)
    if isinstance(before, list) and isinstance(after, list):
        return FieldChange(
            name,
            Kind.CHANGED,
            before=before,
            after=after,
            before_items=_items(before, after),
            after_items=_items(after, before),
        )
    return FieldChange(name, Kind.CHANGED, before=before, after=after)


def _field_order(name: str) -> tuple[int, str]:
    lead = LEADING_FIELDS.index(name) if name in LEADING_FIELDS else len(LEADING_FIELDS)
    return lead, name


def entry_diff(before: Any, after: Any) -> Diff:
    """The fields ``before`` and ``after`` differ in: those of LEADING_FIELDS first, then
    the others by name."""
    old, new = flatten(before), flatten(after)
    names = sorted({*old, *new}, key=_field_order)
    fields = []
    unchanged = 0
    for name in names:
        change = field_change(name, old.get(name, _MISSING), new.get(name, _MISSING))
        if change is None:
            unchanged += 1
        else:
            fields.append(change)
    return Diff(fields=fields, unchanged=unchanged)
