"""A domain as a whole: created, switched on and off, moved through its DNS states, given
to a tenant, deleted."""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from operator import attrgetter
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from audit.services import Actor
from domains.attributes import is_default_value, validate_attribute
from domains.locks import domain_lock
from domains.models import (
    AttributeSource,
    Domain,
    DomainAttribute,
    DomainName,
    DomainOrigin,
    DomainState,
    Tenant,
)
from domains.names import HostName, normalize_did, normalize_host
from domains.policies import domain_create_check, domain_fields_check
from domains.selectors import TenantNotFound, tenant_get_by_name
from domains.services.changes import domain_changed, domain_record, domain_snapshot
from domains.services.names import name_free_check
from domains.signals import domains_changed
from serweb.db import lost_race
from serweb.errors import errors_under


@dataclass(frozen=True)
class DeletionSummary:
    did: str
    names: list[str]
    subscribers: int
    user_aliases: int
    attributes: int


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


def _check_domain_free(hosts: list[HostName], did: str, *, did_given: bool) -> None:
    for i, host in enumerate(hosts):
        name_free_check(host, field="name" if i == 0 else "aliases")
    if Domain.objects.filter(did=did).exists():
        # Without a did given, the canonical name is the did: the name is what to change.
        raise ValidationError(
            {"did" if did_given else "name": f"domain id {did} is taken by another domain"}
        )


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
    domain_create_check(actor=actor, origin=origin)
    with errors_under("name"):
        normalize_host(name)
    with errors_under("aliases"):
        hosts = domain_hosts_clean([name, *aliases])
    did_given = bool(did)
    with errors_under("did" if did_given else "name"):
        clean_did = domain_did_for(hosts[0], did)
    if state not in DomainState.values:
        raise ValidationError({"state": f"unknown state {state!r}"})
    if origin not in DomainOrigin.values:
        raise ValidationError({"origin": f"unknown origin {origin!r}"})
    _check_domain_free(hosts, clean_did, did_given=did_given)
    with errors_under("attributes"):
        clean_attributes = [validate_attribute(k, v) for k, v in (attributes or {}).items()]

    with lost_race(lambda: _check_domain_free(hosts, clean_did, did_given=did_given), field="name"):
        domain = Domain.objects.create(
            did=clean_did, enabled=enabled, state=state, origin=origin, tenant=tenant
        )
        # In sorted order, as a bulk import writes names: two creations sharing names wait
        # for each other at the first one, never each for the other (a deadlock).
        DomainName.objects.bulk_create(
            sorted(
                (
                    DomainName(domain=domain, name=h.value, kind=h.kind, is_canonical=i == 0)
                    for i, h in enumerate(hosts)
                ),
                key=attrgetter("name"),
            )
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
    domain_record(actor, "domain.create", domain, None, domain_snapshot(domain))
    domain_changed(domain)
    return domain


def _set_fields(actor: Actor, domain: Domain, action: str, **changes: Any) -> Domain:
    domain_lock(domain)
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
    domain_record(actor, action, domain, before, domain_snapshot(domain))
    domain_changed(domain)
    return domain


@transaction.atomic
def domain_enable(*, actor: Actor, domain: Domain) -> Domain:
    domain_fields_check(actor=actor, fields=["enabled"])
    return _set_fields(actor, domain, "domain.enable", enabled=True)


@transaction.atomic
def domain_disable(*, actor: Actor, domain: Domain) -> Domain:
    """Stop serving the domain; nothing is deleted, and enabling it brings all back."""
    domain_fields_check(actor=actor, fields=["enabled"])
    return _set_fields(actor, domain, "domain.disable", enabled=False)


@transaction.atomic
def domain_set_state(*, actor: Actor, domain: Domain, state: str) -> Domain:
    """Move a domain through the DNS lifecycle (pending, active, suspect, ...)."""
    if state not in DomainState.values:
        raise ValidationError({"state": f"unknown state {state!r}"})
    return _set_fields(actor, domain, f"domain.state_{state}", state=state)


def domain_deletion_summary(domain: Domain) -> DeletionSummary:
    return DeletionSummary(
        did=domain.did,
        names=list(domain.names.values_list("name", flat=True)),
        subscribers=domain.subscribers.count(),
        user_aliases=domain.user_aliases.count(),
        attributes=domain.attributes.count(),
    )


def _tenant_named(name: str | None) -> Tenant | None:
    if name is None:
        return None
    try:
        return tenant_get_by_name(name)
    except TenantNotFound as exc:
        raise ValidationError({"tenant": str(exc)}) from None


@transaction.atomic
def domain_update(*, actor: Actor, domain: Domain, changes: Mapping[str, Any]) -> Domain:
    """Apply a request's changes to a domain (``enabled``, ``state``, and ``tenant``: a
    tenant's name or None) in one transaction, once the field policy allows every one.
    Each of them is an argument of its own: a refusal is keyed by the change's name."""
    domain_fields_check(actor=actor, fields=changes)
    if "tenant" in changes:
        tenant = _tenant_named(changes["tenant"])
        domain = domain_set_tenant(actor=actor, domain=domain, tenant=tenant)
    if "state" in changes:
        domain = domain_set_state(actor=actor, domain=domain, state=changes["state"])
    if "enabled" in changes:
        change = domain_enable if changes["enabled"] else domain_disable
        domain = change(actor=actor, domain=domain)
    return domain


@transaction.atomic
def domain_set_tenant(*, actor: Actor, domain: Domain, tenant: Tenant | None) -> Domain:
    """Give the domain to another tenant, or to none. Its history so far stays the old
    owner's, ending with an entry that the domain left it; the new owner's starts with
    one that the domain came to it. Neither learns the other's name."""
    domain_fields_check(actor=actor, fields=["tenant"])
    domain_lock(domain)
    old = domain.tenant
    if domain.tenant_id == (tenant.pk if tenant is not None else None):
        return domain
    domain.tenant = tenant
    domain.updated_at = timezone.now()
    domain.save(update_fields=["tenant", "updated_at"])
    for owner, action, before, after in [
        (old, "domain.tenant_remove", old, None),
        (tenant, "domain.tenant_add", None, tenant),
    ]:
        if owner is not None:
            names = [{"tenant": side.name if side else None} for side in (before, after)]
            domain_record(actor, action, domain, *names, tenant=owner)
    return domain


@transaction.atomic
def domain_delete(*, actor: Actor, domain: Domain, force: bool = False) -> DeletionSummary:
    """Delete a domain with its names and attributes; with subscribers only when forced.

    Returns what went, so the caller can tell the person who asked.
    """
    domain_lock(domain, deleting=True)
    summary = domain_deletion_summary(domain)
    if (summary.subscribers or summary.user_aliases) and not force:
        raise ValidationError(
            {
                "force": f"domain {domain.did} still has {summary.subscribers} subscriber(s) "
                f"and {summary.user_aliases} user alias(es), deleted with it; force the "
                "deletion to go ahead"
            }
        )
    before = domain_snapshot(domain)
    before["subscribers"] = summary.subscribers
    before["user_aliases"] = summary.user_aliases
    domain_record(actor, "domain.delete", domain, before, None)
    domain.delete()
    domains_changed.send(sender=Domain, dids=[summary.did])
    return summary
