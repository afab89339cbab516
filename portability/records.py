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
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any


@dataclass(slots=True)
class NameCheckRecord:
    """The DNS lifecycle of one host name (domains.NameCheck): where it stands, whether an
    operator exempted it, the last verdict and the negatives counted."""

    state: str
    state_changed_at: datetime
    exempt: bool
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
class NameRecord:
    name: str
    kind: str
    canonical: bool
    created_at: datetime
    # None: never checked (and always for an IP literal).
    dns: NameCheckRecord | None = None


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
        return _encoder(type(record))(record)
    if isinstance(record, list):
        return [record_to_json(item) for item in record]
    if isinstance(record, datetime):
        return timestamp_text(record)
    if isinstance(record, dict):
        return sorted_json(record)
    return record


def _field_encoder(kind: Any) -> Callable[[Any], Any] | None:
    """How one field's value becomes JSON; None when it already is JSON."""
    if isinstance(kind, types.UnionType):
        (inner,) = [option for option in typing.get_args(kind) if option is not type(None)]
        encode = _field_encoder(inner)
        return None if encode is None else (lambda v: None if v is None else encode(v))
    if typing.get_origin(kind) is list:
        (item,) = typing.get_args(kind)
        encode = _field_encoder(item)
        return None if encode is None else (lambda v: [encode(i) for i in v])
    if dataclasses.is_dataclass(kind):
        return _encoder(kind)
    if kind is datetime:
        return timestamp_text
    if kind is dict:
        return sorted_json
    return None


_ENCODERS: dict[type, Callable[[Any], dict]] = {}


def _encoder(cls: type) -> Callable[[Any], dict]:
    # Built once per record class: a backup holds hundreds of thousands of records.
    if cls not in _ENCODERS:
        fields = [(name, _field_encoder(kind)) for name, kind in _hints(cls).items()]

        def encode(record: Any) -> dict:
            return {
                name: getattr(record, name) if convert is None else convert(getattr(record, name))
                for name, convert in fields
            }

        _ENCODERS[cls] = encode
    return _ENCODERS[cls]


_HINTS: dict[type, dict[str, Any]] = {}


def _hints(cls: type) -> dict[str, Any]:
    if cls not in _HINTS:
        _HINTS[cls] = typing.get_type_hints(cls)
    return _HINTS[cls]


def _parse_timestamp(value: Any) -> datetime:
    if not isinstance(value, str):
        raise RecordError("", "must not be null" if value is None else "expected a timestamp")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise RecordError("", f"{value!r} is not an ISO 8601 timestamp") from None
    if parsed.tzinfo is None:
        raise RecordError("", f"{value!r} has no time zone")
    return parsed.astimezone(UTC)


# Parsers raise RecordError with the path below the value they were given; each level
# prefixes its own part, so paths are only built for values that are wrong.
_KIND_NAMES = {str: "text", int: "an integer", bool: "true or false", dict: "an object"}
Parser = Callable[[Any], Any]


def _plain(kind: type) -> Parser:
    name = _KIND_NAMES.get(kind, kind.__name__)

    def parse(value: Any) -> Any:
        # bool is an int in Python; JSON's true is no integer here, nor 1 a boolean.
        if type(value) is not kind:
            raise RecordError("", "must not be null" if value is None else f"expected {name}")
        return value

    return parse


def _parser(kind: Any) -> Parser:
    if isinstance(kind, types.UnionType):
        (inner,) = [option for option in typing.get_args(kind) if option is not type(None)]
        parse_inner = _parser(inner)
        return lambda value: None if value is None else parse_inner(value)
    if typing.get_origin(kind) is list:
        (item_kind,) = typing.get_args(kind)
        parse_item = _parser(item_kind)

        def parse_list(value: Any) -> list:
            if not isinstance(value, list):
                raise RecordError("", "must not be null" if value is None else "expected a list")
            parsed = []
            for index, item in enumerate(value):
                try:
                    parsed.append(parse_item(item))
                except RecordError as exc:
                    raise RecordError(f"[{index}]{exc.path}", exc.message) from None
            return parsed

        return parse_list
    if dataclasses.is_dataclass(kind):
        return lambda value: record_from_json(kind, value, "")
    if kind is datetime:
        return _parse_timestamp
    return _plain(kind)


_PARSERS: dict[type, list[tuple[str, Parser]]] = {}


def record_from_json(cls: type, data: Any, path: str) -> Any:
    """``cls`` built from a JSON object that has exactly its fields, each of its type."""
    if not isinstance(data, dict):
        raise RecordError(path, "must not be null" if data is None else "expected an object")
    if cls not in _PARSERS:
        _PARSERS[cls] = [(name, _parser(kind)) for name, kind in _hints(cls).items()]
    parsers = _PARSERS[cls]
    if len(data) != len(parsers) or any(name not in data for name, _ in parsers):
        unknown = [key for key in data if key not in _hints(cls)]
        if unknown:
            raise RecordError(path, f"unknown key(s): {', '.join(map(str, unknown))}")
        missing = [name for name, _ in parsers if name not in data]
        raise RecordError(path, f"missing key(s): {', '.join(missing)}")
    values = []
    for name, parse in parsers:
        try:
            values.append(parse(data[name]))
        except RecordError as exc:
            raise RecordError(f"{path}.{name}{exc.path}", exc.message) from None
    return cls(*values)
