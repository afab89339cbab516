"""Domain attributes published in DNS (RFC 1464 ``name=value`` TXT records at
``_<label>-config.<domain>``): parsed, validated like an operator's, imported all or
nothing; the operator's own values still win."""

from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from domains.attributes import KNOWN_ATTRIBUTES, validate_attribute
from domains.dns.client import Answer, Status
from domains.dns.resolution import txt_values
from domains.models import AttributeSource, Domain, DomainName, DomainState
from domains.services import Actor, domain_attribute_set, domain_attribute_unset

# RFC 1464 records: at most this many in the RRset, each at most this long once joined.
MAX_CONFIG_RECORDS = 16
MAX_CONFIG_RECORD_LENGTH = 32 + 1 + 255


@dataclass
class AttributeImport:
    status: str  # imported, unchanged, nothing published, refused, unknown, not asked
    values: dict[str, str] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    def to_evidence(self) -> dict[str, Any]:
        shown: dict[str, Any] = {"status": self.status}
        if self.values:
            shown["values"] = self.values
        if self.problems:
            shown["problems"] = self.problems
        return shown


_VALUE_FORBIDDEN = set("\"'\\` ")


def _parse_config_record(record: bytes) -> tuple[str, str]:
    """One RFC 1464 ``name=value`` record; ValueError says what is wrong with it."""
    if len(record) > MAX_CONFIG_RECORD_LENGTH:
        raise ValueError(f"a record of {len(record)} bytes (at most {MAX_CONFIG_RECORD_LENGTH})")
    if any(byte < 0x20 or byte > 0x7E for byte in record):
        raise ValueError("non-ASCII or control characters")
    text = record.decode("ascii")
    if "`" in text:
        # RFC 1464 quotes with backquotes; serweb's names never need it, so none is read.
        raise ValueError(f"{text!r}: backquote quoting is not accepted")
    name, sep, value = text.partition("=")
    if not sep:
        raise ValueError(f"{text!r}: no '='")
    if not name:
        raise ValueError(f"{text!r}: empty attribute name")
    bad = sorted(_VALUE_FORBIDDEN & set(value))
    if bad:
        raise ValueError(f"{text!r}: {' '.join(repr(c) for c in bad)} not allowed in a value")
    # DNS-style names (display-name) stand for serweb's (display_name).
    return name.lower().replace("-", "_"), value


def _check_realm(value: str, domain: Domain) -> None:
    """A realm from DNS must name this domain or a verified domain of the same tenant."""
    owner = DomainName.objects.filter(name=value).select_related("domain").first()
    if owner is not None and owner.domain_id == domain.pk:
        return
    same_tenant = (
        owner is not None
        and domain.tenant_id is not None
        and owner.domain.tenant_id == domain.tenant_id
        and owner.domain.state in (DomainState.ACTIVE, DomainState.SUSPECT)
    )
    if not same_tenant:
        raise ValidationError(f"realm {value}: not a verified domain of the same owner")


def parse_config(values: list[bytes], domain: Domain) -> tuple[dict[str, str], list[str]]:
    """The attributes a config RRset asks for, and every problem with it."""
    problems: list[str] = []
    wanted: dict[str, str] = {}
    if len(values) > MAX_CONFIG_RECORDS:
        return {}, [f"{len(values)} records (at most {MAX_CONFIG_RECORDS})"]
    for record in values:
        try:
            name, value = _parse_config_record(record)
        except ValueError as exc:
            problems.append(str(exc))
            continue
        spec = KNOWN_ATTRIBUTES.get(name)
        if name == "did":
            problems.append("did: a domain id is never taken from DNS")
            continue
        if spec is None or not spec.from_dns:
            problems.append(f"{name}: not an attribute serweb takes from DNS")
            continue
        if name in wanted:
            problems.append(f"{name}: given twice")
            continue
        try:
            _key, _kind, clean = validate_attribute(name, value)
            if name == "realm":
                _check_realm(clean, domain)
        except ValidationError as exc:
            problems.append("; ".join(exc.messages))
            continue
        wanted[name] = clean
    return wanted, problems


def import_dns_attributes(*, actor: Actor, domain: Domain, config: Answer) -> AttributeImport:
    """Make the domain's DNS attributes what its config TXT says: all of it or nothing.

    NXDOMAIN/NODATA keeps the current values (nothing published); an unknown answer
    changes nothing. The operator's own values are not touched and still win.
    """
    if config.status == Status.UNKNOWN:
        return AttributeImport("unknown", problems=[config.error])
    if config.status != Status.ANSWER:
        return AttributeImport("nothing published")
    wanted, problems = parse_config(txt_values(config), domain)
    if problems:
        return AttributeImport("refused", wanted, problems)
    current = {a.name: a.value for a in domain.attributes.filter(source=AttributeSource.DNS)}
    if current == wanted:
        return AttributeImport("unchanged", wanted)
    try:
        with transaction.atomic():
            for name, value in wanted.items():
                if current.get(name) != value:
                    domain_attribute_set(
                        actor=actor,
                        domain=domain,
                        name=name,
                        value=value,
                        source=AttributeSource.DNS,
                    )
            for name in current.keys() - wanted.keys():
                domain_attribute_unset(
                    actor=actor, domain=domain, name=name, source=AttributeSource.DNS
                )
    except ValidationError as exc:
        return AttributeImport("refused", wanted, exc.messages)
    return AttributeImport("imported", wanted)
