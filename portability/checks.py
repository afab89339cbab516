"""The rules a backup must keep before it is restored: the services' rules, applied to
every record, and the references between records.

Each problem is one line naming where it is (``domains[3].names[0]``) and what is wrong.
"""

import re
from collections.abc import Callable
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError

from domains.attributes import is_default_value, validate_attribute
from domains.models import AttributeSource, CheckVerdict, DomainOrigin, DomainState, NameState
from domains.names import (
    MAX_NAME_LENGTH,
    NameKind,
    normalize_did,
    normalize_host,
    validate_sip_user,
)
from portability.records import (
    CheckRecord,
    Document,
    DomainRecord,
    NameCheckRecord,
    SubscriberRecord,
    TenantRecord,
)
from proxies.models import ProxyTransport
from proxies.services import proxy_address_clean
from subscribers.services import MAX_PASSWORD_LENGTH, clean_email

HASH = re.compile(r"^[0-9a-fA-F]*$")
MAX_HASH_LENGTH = 128


def messages_of(exc: ValidationError) -> str:
    return "; ".join(exc.messages)


class Problems:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def add(self, path: str, message: str) -> None:
        self.lines.append(f"{path}: {message}")

    def check(self, path: str, check: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """check(*args, **kwargs), or None with its complaint added."""
        try:
            return check(*args, **kwargs)
        except ValidationError as exc:
            self.add(path, messages_of(exc))
            return None

    def same(self, path: str, given: Any, clean: Any, what: str) -> None:
        if clean is not None and clean != given:
            self.add(path, f"{given!r} is not a normalised {what} (serweb stores {clean!r})")


def document_problems(document: Document) -> list[str]:
    problems = Problems()
    tenants = _check_tenants(problems, document)
    dids = _check_domains(problems, document, tenants)
    _check_claims(problems, document, dids)
    _check_subscribers(problems, document, dids)
    _check_proxies(problems, document)
    return problems.lines


def _check_text(problems: Problems, path: str, value: str, *, most: int, least: int = 0) -> None:
    if not least <= len(value) <= most:
        problems.add(path, f"{len(value)} characters; {least} to {most} allowed")


def _check_tenants(problems: Problems, document: Document) -> set[str]:
    users = get_user_model()
    names: dict[str, int] = {}
    logins: dict[str, int] = {}
    for i, tenant in enumerate(document.tenants):
        path = f"tenants[{i}]"
        _check_tenant(problems, path, tenant, users)
        first = names.setdefault(tenant.name.lower(), i)
        if first != i:
            problems.add(f"{path}.name", f"tenant {tenant.name} is also tenants[{first}]")
        first = logins.setdefault(tenant.owner.username, i)
        if first != i:
            problems.add(f"{path}.owner", f"{tenant.owner.username} also owns tenants[{first}]")
    taken = set(users.objects.filter(username__in=list(logins)).values_list("username", flat=True))
    for login in sorted(taken):
        problems.add(f"tenants[{logins[login]}].owner", f"the account {login} exists already")
    return {tenant.name for tenant in document.tenants}


def _check_tenant(problems: Problems, path: str, tenant: TenantRecord, users) -> None:
    if tenant.name != tenant.name.strip():
        problems.add(f"{path}.name", "leading or trailing spaces")
    _check_text(problems, f"{path}.name", tenant.name, least=1, most=100)
    owner = tenant.owner
    problems.check(f"{path}.owner.username", users.username_validator, owner.username)
    _check_text(problems, f"{path}.owner.username", owner.username, least=1, most=150)
    if owner.email:
        problems.same(
            f"{path}.owner.email",
            owner.email,
            problems.check(f"{path}.owner.email", clean_email, owner.email),
            "e-mail address",
        )
    _check_text(problems, f"{path}.owner.password", owner.password, most=128)
    for part in ("first_name", "last_name"):
        _check_text(problems, f"{path}.owner.{part}", getattr(owner, part), most=150)


def _check_host(problems: Problems, path: str, name: str, kind: str | None = None) -> None:
    host = problems.check(path, normalize_host, name)
    if host is None:
        return
    problems.same(path, name, host.value, "name")
    if kind is not None and host.kind != kind:
        problems.add(path, f"{name} is of kind {host.kind}, not {kind}")


def _check_domains(problems: Problems, document: Document, tenants: set[str]) -> set[str]:
    dids: dict[str, int] = {}
    names: dict[str, str] = {}
    for i, domain in enumerate(document.domains):
        path = f"domains[{i}]"
        _check_domain(problems, path, domain, tenants)
        first = dids.setdefault(domain.did, i)
        if first != i:
            problems.add(f"{path}.did", f"domain id {domain.did} is also domains[{first}]")
        for j, name in enumerate(domain.names):
            owner = names.setdefault(name.name, f"{path}.names[{j}]")
            if owner != f"{path}.names[{j}]":
                problems.add(f"{path}.names[{j}]", f"{name.name} is also {owner}")
    return set(dids)


def _check_domain(problems: Problems, path: str, domain: DomainRecord, tenants: set[str]) -> None:
    problems.same(
        f"{path}.did", domain.did, problems.check(f"{path}.did", normalize_did, domain.did), "did"
    )
    for key, value, allowed in [
        ("state", domain.state, DomainState.values),
        ("origin", domain.origin, DomainOrigin.values),
    ]:
        if value not in allowed:
            problems.add(f"{path}.{key}", f"{value!r} is not one of {', '.join(allowed)}")
    if domain.tenant is not None and domain.tenant not in tenants:
        problems.add(f"{path}.tenant", f"no tenant named {domain.tenant} in the backup")
    if not domain.names:
        problems.add(f"{path}.names", "a domain needs a name")
    elif sum(1 for n in domain.names if n.canonical) != 1:
        problems.add(f"{path}.names", "exactly one name must be canonical")
    for j, name in enumerate(domain.names):
        _check_host(problems, f"{path}.names[{j}].name", name.name, name.kind)
        if name.dns is not None:
            where = f"{path}.names[{j}].dns"
            # An IP literal is disabled while it is not a proxy address, never more.
            literal_states = (NameState.ACTIVE, NameState.DISABLED)
            if name.kind != NameKind.HOSTNAME and name.dns.state not in literal_states:
                problems.add(f"{where}.state", "an IP literal is only active or disabled")
            if name.dns.state not in NameState.values:
                problems.add(f"{where}.state", f"{name.dns.state!r} is not a name's state")
            _check_dns(problems, where, name.dns)
    sources: set[tuple[str, str]] = set()
    for j, attribute in enumerate(domain.attributes):
        where = f"{path}.attributes[{j}]"
        clean = problems.check(
            where,
            validate_attribute,
            attribute.name,
            attribute.value,
            as_int=attribute.type == 0,
        )
        problems.same(where, (attribute.name, attribute.type, attribute.value), clean, "attribute")
        if attribute.source not in AttributeSource.values:
            problems.add(f"{where}.source", f"{attribute.source!r} is not a source")
        if (attribute.name, attribute.source) in sources:
            problems.add(where, f"{attribute.name} from {attribute.source} is given twice")
        sources.add((attribute.name, attribute.source))
        if attribute.is_default != is_default_value(
            attribute.name, attribute.value, did=domain.did
        ):
            problems.add(f"{where}.is_default", "does not match the attribute's default")
    if domain.dns is not None:
        _check_dns(problems, f"{path}.dns", domain.dns)


def _check_dns(problems: Problems, path: str, check: CheckRecord | NameCheckRecord) -> None:
    """A DNS check of a domain or of one of its names."""
    if check.verdict and check.verdict not in CheckVerdict.values:
        problems.add(f"{path}.verdict", f"{check.verdict!r} is not a verdict")
    for key in ("negatives", "unknowns"):
        if getattr(check, key) < 0:
            problems.add(f"{path}.{key}", "must not be negative")
    _check_text(problems, f"{path}.outcome", check.outcome, most=16)
    _check_text(problems, f"{path}.reason", check.reason, most=255)


def _check_claims(problems: Problems, document: Document, dids: set[str]) -> None:
    for i, tenant in enumerate(document.tenants):
        seen: set[str] = set()
        for j, claim in enumerate(tenant.claims):
            path = f"tenants[{i}].claims[{j}]"
            _check_host(problems, f"{path}.name", claim.name)
            if claim.name in seen:
                problems.add(f"{path}.name", f"{claim.name} is claimed twice")
            seen.add(claim.name)
            _check_text(problems, f"{path}.token", claim.token, least=1, most=64)
            _check_text(problems, f"{path}.result", claim.result, most=255)
            if claim.domain is not None and claim.domain not in dids:
                problems.add(f"{path}.domain", f"no domain {claim.domain} in the backup")


def _check_subscribers(problems: Problems, document: Document, dids: set[str]) -> None:
    users: dict[tuple[str, str], int] = {}
    for i, subscriber in enumerate(document.subscribers):
        _check_subscriber(problems, f"subscribers[{i}]", subscriber, dids)
        key = (subscriber.domain, subscriber.username)
        first = users.setdefault(key, i)
        if first != i:
            problems.add(f"subscribers[{i}]", f"{key[1]}@{key[0]} is also subscribers[{first}]")
    aliases: dict[tuple[str, str], str] = {}
    for i, subscriber in enumerate(document.subscribers):
        for j, alias in enumerate(subscriber.aliases):
            path = f"subscribers[{i}].aliases[{j}]"
            if alias.domain not in dids:
                problems.add(f"{path}.domain", f"no domain {alias.domain} in the backup")
            problems.check(f"{path}.username", validate_sip_user, alias.username)
            key = (alias.domain, alias.username)
            first = aliases.setdefault(key, path)
            if first != path:
                problems.add(path, f"{alias.username}@{alias.domain} is also {first}")
            if key in users:
                problems.add(
                    path,
                    f"{alias.username}@{alias.domain} is subscribers[{users[key]}]; an alias "
                    "cannot shadow a subscriber",
                )


def _check_hash(problems: Problems, path: str, value: str, *, required: bool) -> None:
    if required and not value:
        problems.add(path, "is empty")
    elif len(value) > MAX_HASH_LENGTH or not HASH.match(value):
        problems.add(path, f"not a hexadecimal digest of at most {MAX_HASH_LENGTH} digits")


def _check_subscriber(
    problems: Problems, path: str, subscriber: SubscriberRecord, dids: set[str]
) -> None:
    if subscriber.domain not in dids:
        problems.add(f"{path}.domain", f"no domain {subscriber.domain} in the backup")
    problems.same(
        f"{path}.username",
        subscriber.username,
        problems.check(f"{path}.username", validate_sip_user, subscriber.username),
        "user name",
    )
    _check_hash(problems, f"{path}.ha1", subscriber.ha1, required=True)
    _check_hash(problems, f"{path}.ha1b", subscriber.ha1b, required=False)
    _check_text(problems, f"{path}.ha1_realm", subscriber.ha1_realm, least=1, most=MAX_NAME_LENGTH)
    _check_text(problems, f"{path}.password", subscriber.password, most=MAX_PASSWORD_LENGTH)
    if subscriber.email:
        problems.same(
            f"{path}.email",
            subscriber.email,
            problems.check(f"{path}.email", clean_email, subscriber.email),
            "e-mail address",
        )
    seen: set[str] = set()
    for j, valid_from in enumerate(subscriber.valid_from):
        where = f"{path}.valid_from[{j}]"
        problems.check(where, validate_sip_user, valid_from.user)
        if valid_from.user in seen:
            problems.add(where, f"{valid_from.user} is given twice")
        seen.add(valid_from.user)


def _check_proxies(problems: Problems, document: Document) -> None:
    seen: set[str] = set()
    for i, proxy in enumerate(document.proxies):
        path = f"proxies[{i}]"
        _check_text(problems, f"{path}.name", proxy.name, least=1, most=64)
        if proxy.name in seen:
            problems.add(f"{path}.name", f"a proxy named {proxy.name} is given twice")
        seen.add(proxy.name)
        if proxy.transport not in ProxyTransport.values:
            problems.add(f"{path}.transport", f"{proxy.transport!r} is not a transport")
        else:
            problems.check(f"{path}.address", proxy_address_clean, proxy.transport, proxy.address)
        if proxy.sip_address:
            problems.check(
                f"{path}.sip_address", proxy_address_clean, ProxyTransport.UDP, proxy.sip_address
            )
