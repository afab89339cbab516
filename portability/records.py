"""The provisioning data as plain records: what a backup holds and what adoption produces.

One record per domain (with its names, attributes and DNS state), per subscriber (with
its valid From identities and the user aliases leading to it), per tenant (with its owner
and claims) and per proxy. Records refer to each other by natural keys (did, tenant name,
user@did), never by database ids, so a backup restores into any database.

``record_to_json`` and ``record_from_json`` convert them to and from JSON values, in field
order, checking every key and type on the way in.
"""

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any


@dataclass(slots=True)
class NameRecord:
    name: str
    kind: str
    canonical: bool
    created_at: datetime


@dataclass(slots=True)
class AttributeRecord:
    name: str
    type: int
    value: str
    source: str
    is_default: bool
    updated_at: datetime


@dataclass(slots=True)
class CheckRecord:
    """The DNS lifecycle of a domain (domains.DomainCheck), so housekeeping goes on where
    it was: whether it manages the domain, the last verdict and the negatives counted."""

    managed: bool
    verdict: str
    outcome: str
    reason: str
    evidence: dict
    checked_at: datetime | None
    expires_at: datetime | None
    last_positive_at: datetime | None
    negatives: int
    first_negative_at: datetime | None
    last_negative_at: datetime | None
    unknowns: int


@dataclass(slots=True)
class DomainRecord:
    did: str
    state: str
    enabled: bool
    origin: str
    tenant: str | None
    created_at: datetime
    updated_at: datetime
    state_changed_at: datetime
    names: list[NameRecord]
    attributes: list[AttributeRecord]
    dns: CheckRecord | None


@dataclass(slots=True)
class ValidFromRecord:
    user: str
    created_at: datetime


@dataclass(slots=True)
class AliasRecord:
    """A user alias ``username@domain`` (a did) leading to the subscriber that holds it."""

    domain: str
    username: str
    created_at: datetime


@dataclass(slots=True)
class SubscriberRecord:
    domain: str
    username: str
    ha1: str
    ha1b: str
    ha1_realm: str
    password: str
    email: str
    enabled: bool
    created_at: datetime
    updated_at: datetime
    valid_from: list[ValidFromRecord]
    aliases: list[AliasRecord]


@dataclass(slots=True)
class OwnerRecord:
    """A tenant owner's login; ``password`` is Django's password hash, never a clear one."""

    username: str
    email: str
    first_name: str
    last_name: str
    is_active: bool
    password: str
    date_joined: datetime
    last_login: datetime | None


@dataclass(slots=True)
class ClaimRecord:
    name: str
    token: str
    domain: str | None
    created_at: datetime
    verified_at: datetime | None
    checked_at: datetime | None
    result: str


@dataclass(slots=True)
class TenantRecord:
    name: str
    created_at: datetime
    owner: OwnerRecord
    claims: list[ClaimRecord]


@dataclass(slots=True)
class ProxyRecord:
    name: str
    transport: str
    address: str
    enabled: bool
    sip_address: str
    created_at: datetime


@dataclass(slots=True)
class Document:
    tenants: list[TenantRecord] = field(default_factory=list)
    domains: list[DomainRecord] = field(default_factory=list)
    subscribers: list[SubscriberRecord] = field(default_factory=list)
    proxies: list[ProxyRecord] = field(default_factory=list)


# --- to and from JSON -------------------------------------------------------------------


class RecordError(ValueError):
    """A value of the wrong shape; ``path`` says where, as domains[3].names[0].name."""

    def __init__(self, path: str, message: str) -> None:
        self.path = path
        self.message = message
        super().__init__(f"{path}: {message}")


def timestamp_text(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="microseconds")


def sorted_json(value: Any) -> Any:
    """A JSON value with every object's keys sorted: the same text however it was stored
    (PostgreSQL's jsonb keeps keys in an order of its own)."""
    if isinstance(value, dict):
        return {key: sorted_json(value[key]) for key in sorted(value)}
    if isinstance(value, list):
        return [sorted_json(item) for item in value]
    return value


def record_to_json(record: Any) -> Any:
    if dataclasses.is_dataclass(record):
        return {f.name: record_to_json(getattr(record, f.name)) for f in dataclasses.fields(record)}
    if isinstance(record, list):
        return [record_to_json(item) for item in record]
    if isinstance(record, datetime):
        return timestamp_text(record)
    if isinstance(record, dict):
        return sorted_json(record)
    return record


_HINTS: dict[type, dict[str, Any]] = {}


def _hints(cls: type) -> dict[str, Any]:
    if cls not in _HINTS:
        _HINTS[cls] = typing.get_type_hints(cls)
    return _HINTS[cls]


def _parse_timestamp(value: Any, path: str) -> datetime:
    if not isinstance(value, str):
        raise RecordError(path, "expected a timestamp (ISO 8601 text)")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise RecordError(path, f"{value!r} is not an ISO 8601 timestamp") from None
    if parsed.tzinfo is None:
        raise RecordError(path, f"{value!r} has no time zone")
    return parsed.astimezone(UTC)


_KIND_NAMES = {str: "text", int: "an integer", bool: "true or false", dict: "an object"}


def _parse(kind: Any, value: Any, path: str) -> Any:
    if isinstance(kind, types.UnionType):
        options = typing.get_args(kind)
        if value is None:
            if type(None) in options:
                return None
            raise RecordError(path, "must not be null")
        (kind,) = [option for option in options if option is not type(None)]
    if value is None:
        raise RecordError(path, "must not be null")
    if typing.get_origin(kind) is list:
        if not isinstance(value, list):
            raise RecordError(path, "expected a list")
        (item_kind,) = typing.get_args(kind)
        return [_parse(item_kind, item, f"{path}[{i}]") for i, item in enumerate(value)]
    if dataclasses.is_dataclass(kind):
        return record_from_json(kind, value, path)
    if kind is datetime:
        return _parse_timestamp(value, path)
    # bool is an int in Python; JSON's true is no integer here, nor 1 a boolean.
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise RecordError(path, f"expected {_KIND_NAMES.get(kind, kind.__name__)}")
    return value


def record_from_json(cls: type, data: Any, path: str) -> Any:
    """``cls`` built from a JSON object that has exactly its fields, each of its type."""
    if not isinstance(data, dict):
        raise RecordError(path, "expected an object")
    hints = _hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    unknown = [key for key in data if key not in hints]
    if unknown:
        raise RecordError(path, f"unknown key(s): {', '.join(map(str, unknown))}")
    missing = [name for name in names if name not in data]
    if missing:
        raise RecordError(path, f"missing key(s): {', '.join(missing)}")
    return cls(**{name: _parse(hints[name], data[name], f"{path}.{name}") for name in names})
