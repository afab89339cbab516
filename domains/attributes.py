"""The domain attributes serweb knows, their types, defaults and validation.

Operators may also set attributes not listed here (Kamailio's domain_attrs is free-form);
those are checked for shape only. Tenants may set only the ones listed here. Attributes
from DNS are imported only when listed here with ``from_dns``. Reserved names are refused
to everyone.
"""

import re
from collections.abc import Callable
from dataclasses import dataclass

from django.core.exceptions import ValidationError

from domains.models import AttributeType
from domains.names import normalize_host

NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
# lookup_domain("$rd", "dom_") sets $avp(dom_did) to the domain's did and one
# $avp(dom_<name>) per attribute: an attribute named "did" would replace the did the
# script uses as realm and AOR domain.
RESERVED_NAMES = frozenset({"did"})
MAX_VALUE_LENGTH = 255
# Kamailio parses integer attributes as signed 32-bit numbers.
INT_MIN, INT_MAX = -(2**31), 2**31 - 1


@dataclass(frozen=True)
class AttributeSpec:
    name: str
    type: int
    description: str
    # None: no default, every value is shown to the proxy. For "realm" the default is
    # the did, handled by the caller.
    default: str | None = None
    check: Callable[[str], str] | None = None
    from_dns: bool = False


def _realm(value: str) -> str:
    host = normalize_host(value)
    if host.is_ip:
        raise ValidationError("a realm must be a domain name, not an IP address")
    return host.value


def _int_range(low: int, high: int) -> Callable[[str], str]:
    def check(value: str) -> str:
        number = _parse_int(value)
        if not low <= number <= high:
            raise ValidationError(f"must be between {low} and {high}")
        return str(number)

    return check


def _enum(*choices: str) -> Callable[[str], str]:
    def check(value: str) -> str:
        lowered = value.lower()
        if lowered not in choices:
            raise ValidationError(f"must be one of {', '.join(choices)}")
        return lowered

    return check


def _bool(value: str) -> str:
    lowered = value.strip().lower()
    if lowered in {"1", "yes", "true", "on"}:
        return "1"
    if lowered in {"0", "no", "false", "off"}:
        return "0"
    raise ValidationError("must be yes or no (1 or 0)")


def _display_name(value: str) -> str:
    if len(value) > 64:
        raise ValidationError("at most 64 characters")
    return value


KNOWN_ATTRIBUTES: dict[str, AttributeSpec] = {
    spec.name: spec
    for spec in [
        AttributeSpec(
            "realm",
            AttributeType.STRING,
            "Digest realm for the domain's users (default: the did). Changing it "
            "invalidates stored HA1 hashes.",
            check=_realm,
            from_dns=True,
        ),
        AttributeSpec(
            "display_name",
            AttributeType.STRING,
            "Name shown for the domain on pages and in greetings.",
            check=_display_name,
            from_dns=True,
        ),
        AttributeSpec(
            "peering_policy",
            AttributeType.STRING,
            "Which foreign domains may send calls in: open (any), closed (none), "
            "listed (only peers the operator lists).",
            default="open",
            check=_enum("open", "closed", "listed"),
            from_dns=True,
        ),
        AttributeSpec(
            "max_contacts",
            AttributeType.INTEGER,
            "Most contacts one AOR may register (0: no limit).",
            default="0",
            check=_int_range(0, 1000),
            from_dns=True,
        ),
        AttributeSpec(
            "digest_qop",
            AttributeType.STRING,
            "Quality of protection offered in digest challenges: auth or none.",
            default="auth",
            check=_enum("auth", "none"),
            from_dns=True,
        ),
        AttributeSpec(
            "allow_register",
            AttributeType.INTEGER,
            "Whether the domain's users may register (1) or only place calls (0).",
            default="1",
            check=_bool,
        ),
    ]
}


def _parse_int(value: str) -> int:
    text = value.strip()
    if not re.fullmatch(r"[+-]?\d{1,10}", text):
        raise ValidationError(f"{value!r} is not an integer")
    number = int(text)
    if not INT_MIN <= number <= INT_MAX:
        raise ValidationError(f"{value!r} does not fit in a 32-bit integer")
    return number


def validate_attribute_name(name: str, *, known_only: bool = False) -> str:
    """An attribute name as stored; ``known_only`` (tenants) refuses names serweb does
    not know."""
    clean_name = (name or "").strip().lower()
    if not NAME_RE.match(clean_name):
        raise ValidationError(
            {"name": f"attribute name {name!r}: a letter, then letters, digits or '_', at most 32"}
        )
    if clean_name in RESERVED_NAMES:
        raise ValidationError({"name": f"{clean_name} is reserved and cannot be an attribute"})
    if known_only and clean_name not in KNOWN_ATTRIBUTES:
        raise ValidationError(
            {
                "name": f"{clean_name} is not an attribute you may set "
                f"(known: {', '.join(sorted(KNOWN_ATTRIBUTES))})"
            }
        )
    return clean_name


def validate_attribute(
    name: str, value: str, *, as_int: bool | None = None, known_only: bool = False
) -> tuple[str, int, str]:
    """Check one attribute; return (name, Kamailio type, normalised value).

    ``as_int`` is the caller's type for attributes serweb does not know; for known ones it
    must agree with the table or be None. ``known_only``: as in validate_attribute_name.
    """
    clean_name = validate_attribute_name(name, known_only=known_only)
    if not isinstance(value, str):
        value = str(value)
    if len(value) > MAX_VALUE_LENGTH:
        raise ValidationError({"value": f"{clean_name}: at most {MAX_VALUE_LENGTH} characters"})
    if not value:
        raise ValidationError({"value": f"{clean_name}: the value is empty"})
    if any(not (0x20 <= ord(ch) <= 0x7E) for ch in value):
        raise ValidationError(
            {"value": f"{clean_name}: only printable ASCII characters, no control characters"}
        )
    spec = KNOWN_ATTRIBUTES.get(clean_name)
    if spec is not None:
        if as_int is not None and as_int != (spec.type == AttributeType.INTEGER):
            kind = "an integer" if spec.type == AttributeType.INTEGER else "a string"
            raise ValidationError({"as_int": f"{clean_name} is {kind} attribute"})
        try:
            clean_value = spec.check(value) if spec.check else value
        except ValidationError as exc:
            raise ValidationError({"value": f"{clean_name}: {'; '.join(exc.messages)}"}) from None
        return clean_name, spec.type, clean_value
    if as_int:
        try:
            return clean_name, AttributeType.INTEGER, str(_parse_int(value))
        except ValidationError as exc:
            raise ValidationError({"value": f"{clean_name}: {'; '.join(exc.messages)}"}) from None
    return clean_name, AttributeType.STRING, value


def is_default_value(name: str, value: str, *, did: str) -> bool:
    if name == "realm":
        return value == did
    spec = KNOWN_ATTRIBUTES.get(name)
    return spec is not None and spec.default is not None and spec.default == value
