"""Normalisation of domain names, IP literals and SIP user names.

Pure functions, no Django models: every entry point (services, forms, API, CLI, DNS)
normalises through here so one spelling of a name is stored, compared and shown.
"""

import ipaddress
import re
from dataclasses import dataclass

import idna
from django.core.exceptions import ValidationError

# Kamailio's domain, did, username and uri_user columns are VARCHAR(64).
MAX_NAME_LENGTH = 64

_PLAIN_ASCII = re.compile(r"^[a-z0-9.-]+$")
_LABEL = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
# RFC 3261 user part: unreserved and user-unreserved characters, without the three
# ("; ? /") that tools and URI parsers routinely mistake for delimiters.
_SIP_USER = re.compile(r"^[A-Za-z0-9\-_.!~*'()&=+$,]+$")
_DID = re.compile(r"^[a-z0-9](?:[a-z0-9._-]*[a-z0-9])?$")


class NameKind:
    HOSTNAME = "hostname"
    IPV4 = "ipv4"
    IPV6 = "ipv6"


@dataclass(frozen=True)
class HostName:
    """A normalised host: a lower-case A-label name or an IP literal (IPv6 in brackets,
    as it stands in a SIP URI)."""

    value: str
    kind: str

    @property
    def is_ip(self) -> bool:
        return self.kind != NameKind.HOSTNAME

    @property
    def display(self) -> str:
        """The Unicode form of an IDN, for people; the value itself for the rest."""
        return self.value if self.is_ip else name_for_people(self.value)


def name_for_people(stored: str) -> str:
    """The Unicode form of a stored name for people: a host name or did whose labels are
    A-labels, or USER@such a name; anything else (plain names, IP literals, what does not
    decode) as it is."""
    user, at, host = stored.rpartition("@")
    if "xn--" not in host.lower():
        return stored
    try:
        return f"{user}{at}{idna.decode(host)}"
    except (idna.IDNAError, UnicodeError, ValueError):
        return stored


def _ip_literal(text: str) -> HostName | None:
    candidate = text[1:-1] if text.startswith("[") and text.endswith("]") else text
    try:
        address = ipaddress.ip_address(candidate)
    except ValueError:
        return None
    if address.version == 6:
        if getattr(address, "scope_id", None):
            raise ValidationError(f"{text!r}: a scoped IPv6 address cannot be a SIP domain")
        if address.ipv4_mapped is not None:
            # ::ffff:192.0.2.12 is 192.0.2.12 (RFC 4291 2.5.5.2): one host, one spelling.
            return HostName(str(address.ipv4_mapped), NameKind.IPV4)
        return HostName(f"[{address.compressed}]", NameKind.IPV6)
    if candidate != text:
        raise ValidationError(f"{text!r}: only IPv6 addresses are written in brackets")
    return HostName(str(address), NameKind.IPV4)


def normalize_host(raw: str) -> HostName:
    """Lower case, no trailing dot, IDNA 2008 A-labels; IP literals recognised.

    Raises ValidationError with a message that names the problem.
    """
    if not isinstance(raw, str):
        raise ValidationError("a domain name must be text")
    text = raw.strip()
    if not text:
        raise ValidationError("the domain name is empty")
    ip = _ip_literal(text)
    if ip is not None:
        return ip
    if text.endswith("."):
        text = text[:-1]
    if not text or text.startswith(".") or ".." in text:
        raise ValidationError(f"{raw!r}: empty label in domain name")
    if _PLAIN_ASCII.match(text) and not _needs_idna(text):
        # Most names are plain lower-case LDH: the IDNA machinery (a third of a bulk
        # import's time) would return them unchanged.
        return _checked_ascii(raw, text)
    try:
        # UTS 46 mapping folds case and full-width forms the way browsers do, then IDNA
        # 2008 (not 2003, which turns "straße" into another domain, "strasse").
        ascii_name = idna.encode(text, uts46=True, transitional=False).decode("ascii")
    except idna.IDNAError as exc:
        raise ValidationError(f"{raw!r}: not a valid domain name ({exc})") from None
    except UnicodeError:
        raise ValidationError(f"{raw!r}: not a valid domain name") from None
    return _checked_ascii(raw, ascii_name.lower())


def _needs_idna(text: str) -> bool:
    # A-labels must be decoded to be checked; "--" in positions 3-4 is reserved (RFC 5891).
    return any(label.startswith("xn--") or label[2:4] == "--" for label in text.split("."))


def _checked_ascii(raw: str, ascii_name: str) -> HostName:
    if len(ascii_name) > MAX_NAME_LENGTH:
        raise ValidationError(
            f"{raw!r}: {len(ascii_name)} characters in DNS form; the proxy's tables hold at "
            f"most {MAX_NAME_LENGTH}"
        )
    labels = ascii_name.split(".")
    for label in labels:
        if not _LABEL.match(label):
            raise ValidationError(
                f"{raw!r}: label {label!r} is not a valid host name label "
                "(letters, digits and inner hyphens, 1 to 63 characters)"
            )
    if len(labels) < 2:
        raise ValidationError(f"{raw!r}: a SIP domain needs at least two labels, e.g. example.com")
    if labels[-1].isdigit():
        raise ValidationError(f"{raw!r}: neither an IP address nor a name (numeric top label)")
    return HostName(ascii_name, NameKind.HOSTNAME)


def normalize_did(raw: str) -> str:
    """A domain id chosen by an operator: lower case, 1 to 64 characters of [a-z0-9._-]."""
    text = (raw or "").strip().lower()
    if not text:
        raise ValidationError("the domain id is empty")
    if len(text) > MAX_NAME_LENGTH:
        raise ValidationError(
            f"domain id {raw!r} has {len(text)} characters; the proxy's tables hold at most "
            f"{MAX_NAME_LENGTH}"
        )
    if not _DID.match(text):
        raise ValidationError(
            f"domain id {raw!r}: use letters, digits, '.', '_' and '-', starting and ending "
            "with a letter or digit"
        )
    return text


def validate_sip_user(raw: str, *, what: str = "user name") -> str:
    """A SIP user part as stored: case is kept (SIP user parts are case-sensitive)."""
    text = (raw or "").strip()
    if not text:
        raise ValidationError(f"the {what} is empty")
    if len(text) > MAX_NAME_LENGTH:
        raise ValidationError(
            f"{what} {raw!r} has {len(text)} characters; the proxy's tables hold at most "
            f"{MAX_NAME_LENGTH}"
        )
    if not _SIP_USER.match(text):
        raise ValidationError(
            f"{what} {raw!r}: use letters, digits and - _ . ! ~ * ' ( ) & = + $ , only"
        )
    return text


def split_address(raw: str) -> tuple[str, HostName]:
    """'user@domain' into a checked user part and a normalised host."""
    text = (raw or "").strip()
    if text.lower().startswith("sip:"):
        text = text[4:]
    user, sep, host = text.rpartition("@")
    if not sep:
        raise ValidationError(f"{raw!r}: expected USER@DOMAIN")
    return validate_sip_user(user), normalize_host(host)
