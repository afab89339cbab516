"""Every write to domains, their names and attributes, and proxies.

Each function is atomic, validates before it writes, records an audit entry and sends
``domains_changed`` when the proxy's view of the data changes. Bad input raises
django.core.exceptions.ValidationError with a message meant for the person who typed it.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from audit.services import audit_record
from domains.attributes import is_default_value, validate_attribute
from domains.models import (
    AttributeSource,
    Domain,
    DomainAttribute,
    DomainName,
    DomainOrigin,
    DomainState,
    Proxy,
    ProxyTransport,
    Tenant,
)
from domains.names import HostName, normalize_did, normalize_host
from domains.selectors import actor_is_operator, domain_realm
from domains.signals import domains_changed

Actor = AbstractBaseUser | None

# The code of the refusal to change a realm without consent, so callers can name the
# option (or checkbox) that gives it.
REALM_CONSENT_CODE = "realm_change_needs_consent"


@dataclass(frozen=True)
class DeletionSummary:
    did: str
    names: list[str]
    subscribers: int
    user_aliases: int
    attributes: int


def domain_snapshot(domain: Domain) -> dict[str, Any]:
    names = list(domain.names.order_by("-is_canonical", "name"))
    return {
        "did": domain.did,
        "state": domain.state,
        "enabled": domain.enabled,
        "origin": domain.origin,
        "tenant": domain.tenant.name if domain.tenant_id else None,
        "canonical": next((n.name for n in names if n.is_canonical), None),
        "names": [n.name for n in names],
        "attributes": {
            f"{a.name}[{a.source}]": a.value for a in domain.attributes.order_by("name", "source")
        },
    }


def _record(
    actor: Actor, action: str, domain: Domain, before: dict | None, after: dict | None
) -> None:
    audit_record(
        actor=actor,
        action=action,
        object_type="domain",
        object_repr=domain.did,
        did=domain.did,
        before=before,
        after=after,
    )


def _touch(domain: Domain) -> None:
    domain.updated_at = timezone.now()
    domain.save(update_fields=["updated_at"])


def _changed(domain: Domain) -> None:
    domains_changed.send(sender=Domain, dids=[domain.did])


def _check_name_free(host: HostName, *, domain: Domain | None = None) -> None:
    owner = DomainName.objects.filter(name=host.value).select_related("domain").first()
    if owner is None:
        return
    if domain is not None and owner.domain_id == domain.pk:
        raise ValidationError(f"{host.value} is already a name of this domain")
    raise ValidationError(f"{host.value} already belongs to domain {owner.domain.did}")


def domain_hosts_clean(names: Iterable[str]) -> list[HostName]:
    """A domain's names, normalised, the canonical one first; none given twice."""
    hosts: list[HostName] = []
    seen: set[str] = set()
    for raw in names:
        host = normalize_host(raw)
        if host.value in seen:
            raise ValidationError(f"{host.value} is given twice")
        seen.add(host.value)
        hosts.append(host)
    return hosts


def domain_did_for(canonical: HostName | None, did: str | None) -> str:
    """The did of a new domain: the one given, else its canonical name (never an IP)."""
    if did:
        return normalize_did(did)
    if canonical is None:
        raise ValidationError("a domain needs a name")
    if canonical.is_ip:
        raise ValidationError(
            f"{canonical.value}: an IP address cannot be a domain's canonical name unless "
            "a domain id is given"
        )
    return canonical.value


def _integrity_error_message(exc: IntegrityError) -> str:
    # The database's own words (constraint names, values) are no message for a client.
    return "a concurrent change took one of these names or the domain id"


@transaction.atomic
def domain_create(
    *,
    actor: Actor,
    name: str,
    aliases: Iterable[str] = (),
    attributes: Mapping[str, str] | None = None,
    did: str | None = None,
    enabled: bool = True,
    state: str = DomainState.ACTIVE,
    origin: str = DomainOrigin.OPERATOR,
    tenant: Tenant | None = None,
) -> Domain:
    """Create a domain whose did is its canonical name unless ``did`` is given."""
    hosts = domain_hosts_clean([name, *aliases])
    clean_did = domain_did_for(hosts[0], did)
    if state not in DomainState.values:
        raise ValidationError(f"unknown state {state!r}")
    if origin not in DomainOrigin.values:
        raise ValidationError(f"unknown origin {origin!r}")
    for host in hosts:
        _check_name_free(host)
    if Domain.objects.filter(did=clean_did).exists():
        raise ValidationError(
            f"domain id {clean_did} is taken by another domain; give another one with --did"
        )
    clean_attributes = [validate_attribute(key, value) for key, value in (attributes or {}).items()]

    try:
        with transaction.atomic():
            domain = Domain.objects.create(
                did=clean_did, enabled=enabled, state=state, origin=origin, tenant=tenant
            )
            DomainName.objects.bulk_create(
                DomainName(domain=domain, name=h.value, kind=h.kind, is_canonical=i == 0)
                for i, h in enumerate(hosts)
            )
            DomainAttribute.objects.bulk_create(
                DomainAttribute(
                    domain=domain,
                    name=key,
                    type=kind,
                    value=value,
                    source=AttributeSource.OPERATOR,
                    is_default=is_default_value(key, value, did=clean_did),
                )
                for key, kind, value in clean_attributes
            )
    except IntegrityError as exc:
        raise ValidationError(_integrity_error_message(exc)) from None
    _record(actor, "domain.create", domain, None, domain_snapshot(domain))
    _changed(domain)
    return domain


@transaction.atomic
def domain_name_add(*, actor: Actor, domain: Domain, name: str) -> DomainName:
    """Add an alias or IP literal to a domain."""
    host = normalize_host(name)
    _check_name_free(host, domain=domain)
    before = domain_snapshot(domain)
    try:
        with transaction.atomic():
            added = DomainName.objects.create(domain=domain, name=host.value, kind=host.kind)
    except IntegrityError as exc:
        raise ValidationError(_integrity_error_message(exc)) from None
    _touch(domain)
    _record(actor, "domain.alias_add", domain, before, domain_snapshot(domain))
    _changed(domain)
    return added


def _name_of(domain: Domain, name: str) -> DomainName:
    host = normalize_host(name)
    found = domain.names.filter(name=host.value).first()
    if found is None:
        raise ValidationError(f"{host.value} is not a name of domain {domain.did}")
    return found


def _promotion_candidate(domain: Domain, excluding: DomainName) -> DomainName | None:
    # Prefer a host name over an IP literal, then the oldest.
    others = domain.names.exclude(pk=excluding.pk).order_by("created_at", "id")
    return next((n for n in others if not n.kind.startswith("ip")), None) or others.first()


@transaction.atomic
def domain_name_remove(*, actor: Actor, domain: Domain, name: str) -> DomainName | None:
    """Remove a name. Removing the canonical name promotes another one, which is returned;
    the last name cannot be removed (delete the domain instead)."""
    target = _name_of(domain, name)
    promoted = None
    if target.is_canonical:
        promoted = _promotion_candidate(domain, target)
        if promoted is None:
            raise ValidationError(
                f"{target.name} is the only name of domain {domain.did}; delete the domain instead"
            )
    before = domain_snapshot(domain)
    target.delete()
    if promoted is not None:
        promoted.is_canonical = True
        promoted.save(update_fields=["is_canonical"])
    _touch(domain)
    _record(actor, "domain.alias_remove", domain, before, domain_snapshot(domain))
    _changed(domain)
    return promoted


@transaction.atomic
def domain_make_canonical(*, actor: Actor, domain: Domain, name: str) -> DomainName:
    """Make one of the domain's names the canonical one. The did does not change."""
    target = _name_of(domain, name)
    if target.is_canonical:
        return target
    if target.kind != "hostname":
        raise ValidationError(f"{target.name}: an IP address cannot be the canonical name")
    before = domain_snapshot(domain)
    domain.names.filter(is_canonical=True).update(is_canonical=False)
    target.is_canonical = True
    target.save(update_fields=["is_canonical"])
    _touch(domain)
    _record(actor, "domain.canonical", domain, before, domain_snapshot(domain))
    _changed(domain)
    return target


def _apply_realm_change(
    *, domain: Domain, old_realm: str, new_realm: str, accept_password_reset: bool
) -> None:
    """Rehash what can be rehashed; refuse to strand the rest without consent."""
    if old_realm == new_realm:
        return
    from subscribers.services import subscribers_rehash_for_realm

    # Rolled back with the whole change when the caller has not consented.
    stranded = subscribers_rehash_for_realm(domain=domain, realm=new_realm)
    if stranded and not accept_password_reset:
        raise ValidationError(
            f"changing the realm of {domain.did} from {old_realm} to {new_realm} invalidates "
            f"the stored passwords of {stranded} subscriber(s); they must set new passwords. "
            "Confirm that to go ahead.",
            code=REALM_CONSENT_CODE,
        )


def _attribute_changed(
    actor: Actor,
    action: str,
    domain: Domain,
    key: str,
    before: dict,
    old_realm: str,
    accept_password_reset: bool,
) -> None:
    """What follows any change of an attribute row: the realm's consequences, the audit
    entry and the reload."""
    if key == "realm":
        _apply_realm_change(
            domain=domain,
            old_realm=old_realm,
            new_realm=domain_realm(domain),
            accept_password_reset=accept_password_reset,
        )
    _touch(domain)
    _record(actor, action, domain, before, domain_snapshot(domain))
    _changed(domain)


def _check_realm_is_the_tenants(domain: Domain, realm: str) -> None:
    """A tenant may name as realm only a name of its own domains: another's would let its
    users' credentials be replayed against that realm."""
    if realm == domain.did:
        return
    if not DomainName.objects.filter(name=realm, domain__tenant_id=domain.tenant_id).exists():
        raise ValidationError({"value": f"realm {realm} is not a name of one of your domains"})


@transaction.atomic
def domain_attribute_set(
    *,
    actor: Actor,
    domain: Domain,
    name: str,
    value: str,
    as_int: bool | None = None,
    source: str = AttributeSource.OPERATOR,
    accept_password_reset: bool = False,
) -> DomainAttribute:
    key, kind, clean_value = validate_attribute(name, value, as_int=as_int)
    if source not in AttributeSource.values:
        raise ValidationError(f"unknown attribute source {source!r}")
    if key == "realm" and actor is not None and not actor_is_operator(actor):
        _check_realm_is_the_tenants(domain, clean_value)
    old_realm = domain_realm(domain)
    before = domain_snapshot(domain)
    attribute, _created = DomainAttribute.objects.update_or_create(
        domain=domain,
        name=key,
        source=source,
        defaults={
            "type": kind,
            "value": clean_value,
            "is_default": is_default_value(key, clean_value, did=domain.did),
            "updated_at": timezone.now(),
        },
    )
    _attribute_changed(
        actor, "domain.attr_set", domain, key, before, old_realm, accept_password_reset
    )
    return attribute


@transaction.atomic
def domain_attribute_unset(
    *,
    actor: Actor,
    domain: Domain,
    name: str,
    source: str = AttributeSource.OPERATOR,
    accept_password_reset: bool = False,
) -> None:
    key = (name or "").strip().lower()
    attribute = domain.attributes.filter(name=key, source=source).first()
    if attribute is None:
        raise ValidationError(f"domain {domain.did} has no {source} attribute {key!r}")
    old_realm = domain_realm(domain)
    before = domain_snapshot(domain)
    attribute.delete()
    _attribute_changed(
        actor, "domain.attr_unset", domain, key, before, old_realm, accept_password_reset
    )


def _set_fields(actor: Actor, domain: Domain, action: str, **changes: Any) -> Domain:
    if all(getattr(domain, field) == value for field, value in changes.items()):
        return domain
    before = domain_snapshot(domain)
    for field, value in changes.items():
        setattr(domain, field, value)
    domain.updated_at = timezone.now()
    fields = [*changes, "updated_at"]
    if "state" in changes:
        domain.state_changed_at = domain.updated_at
        fields.append("state_changed_at")
    domain.save(update_fields=fields)
    _record(actor, action, domain, before, domain_snapshot(domain))
    _changed(domain)
    return domain


@transaction.atomic
def domain_enable(*, actor: Actor, domain: Domain) -> Domain:
    return _set_fields(actor, domain, "domain.enable", enabled=True)


@transaction.atomic
def domain_disable(*, actor: Actor, domain: Domain) -> Domain:
    """Stop serving the domain; nothing is deleted, and enabling it brings all back."""
    return _set_fields(actor, domain, "domain.disable", enabled=False)


@transaction.atomic
def domain_set_state(*, actor: Actor, domain: Domain, state: str) -> Domain:
    """Move a domain through the DNS lifecycle (pending, active, suspect, ...)."""
    if state not in DomainState.values:
        raise ValidationError(f"unknown state {state!r}")
    return _set_fields(actor, domain, f"domain.state_{state}", state=state)


def domain_deletion_summary(domain: Domain) -> DeletionSummary:
    return DeletionSummary(
        did=domain.did,
        names=list(domain.names.values_list("name", flat=True)),
        subscribers=domain.subscribers.count(),
        user_aliases=domain.user_aliases.count(),
        attributes=domain.attributes.count(),
    )


@transaction.atomic
def domain_delete(*, actor: Actor, domain: Domain, force: bool = False) -> DeletionSummary:
    """Delete a domain with its names and attributes; with subscribers only when forced.

    Returns what went, so the caller can tell the person who asked.
    """
    domain = Domain.objects.select_for_update().get(pk=domain.pk)
    summary = domain_deletion_summary(domain)
    if (summary.subscribers or summary.user_aliases) and not force:
        raise ValidationError(
            f"domain {domain.did} still has {summary.subscribers} subscriber(s) and "
            f"{summary.user_aliases} user alias(es), deleted with it; force the deletion to "
            "go ahead"
        )
    before = domain_snapshot(domain)
    before["subscribers"] = summary.subscribers
    before["user_aliases"] = summary.user_aliases
    _record(actor, "domain.delete", domain, before, None)
    domain.delete()
    domains_changed.send(sender=Domain, dids=[summary.did])
    return summary


# --- proxies ------------------------------------------------------------------------------


def _check_proxy_address(transport: str, address: str) -> str:
    address = (address or "").strip()
    if not address:
        raise ValidationError("the proxy's address is empty")
    if transport == ProxyTransport.FIFO:
        if not address.startswith("/"):
            raise ValidationError(f"{address!r}: a FIFO path must be absolute")
    elif transport == ProxyTransport.UDP:
        host, sep, port = address.rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValidationError(f"{address!r}: expected HOST:PORT")
    elif transport == ProxyTransport.HTTP:
        if not address.startswith(("http://", "https://")):
            raise ValidationError(f"{address!r}: expected an http:// or https:// URL")
    else:
        raise ValidationError(f"unknown transport {transport!r}")
    return address


@transaction.atomic
def proxy_create(
    *, actor: Actor, name: str, transport: str, address: str, sip_address: str = ""
) -> Proxy:
    """``sip_address`` (HOST:PORT, optional): where the proxy answers SIP over UDP, for the
    OPTIONS probes that confirm a reload."""
    clean_name = (name or "").strip()
    if not clean_name or len(clean_name) > 64:
        raise ValidationError("a proxy needs a name of 1 to 64 characters")
    if Proxy.objects.filter(name=clean_name).exists():
        raise ValidationError(f"a proxy named {clean_name} exists already")
    clean_address = _check_proxy_address(transport, address)
    clean_sip = (sip_address or "").strip()
    if clean_sip:
        clean_sip = _check_proxy_address(ProxyTransport.UDP, clean_sip)
    proxy = Proxy.objects.create(
        name=clean_name, transport=transport, address=clean_address, sip_address=clean_sip
    )
    audit_record(
        actor=actor,
        action="proxy.create",
        object_type="proxy",
        object_repr=clean_name,
        after={
            "name": clean_name,
            "transport": transport,
            "address": clean_address,
            "sip_address": clean_sip,
        },
    )
    return proxy


@transaction.atomic
def proxy_delete(*, actor: Actor, proxy: Proxy) -> None:
    audit_record(
        actor=actor,
        action="proxy.delete",
        object_type="proxy",
        object_repr=proxy.name,
        before={"name": proxy.name, "transport": proxy.transport, "address": proxy.address},
    )
    proxy.delete()


# --- tenants ------------------------------------------------------------------------------


@transaction.atomic
def tenant_create(*, actor: Actor, name: str, owner_username: str, email: str = "") -> Tenant:
    """A tenant with a new owner account (no password yet: it gets one, or an API token,
    from an operator)."""
    from django.contrib.auth import get_user_model

    users = get_user_model()
    clean_name = (name or "").strip()
    if not clean_name or len(clean_name) > 100:
        raise ValidationError({"name": "a tenant needs a name of 1 to 100 characters"})
    if Tenant.objects.filter(name__iexact=clean_name).exists():
        raise ValidationError({"name": f"a tenant named {clean_name} exists already"})
    username = (owner_username or "").strip()
    try:
        users.username_validator(username)
    except ValidationError as exc:
        raise ValidationError({"owner": exc.messages}) from None
    if not username or users.objects.filter(username=username).exists():
        raise ValidationError({"owner": f"the account {username!r} is taken or empty"})
    owner = users.objects.create_user(username=username, email=email or "")
    tenant = Tenant.objects.create(name=clean_name, owner=owner)
    audit_record(
        actor=actor,
        action="tenant.create",
        object_type="tenant",
        object_repr=clean_name,
        after={"name": clean_name, "owner": username},
    )
    return tenant
