"""Every write to domains, their names and attributes, and tenants.

Each function is atomic, validates before it writes, records an audit entry and sends
``domains_changed`` when the proxy's view of the data changes. Bad input raises
django.core.exceptions.ValidationError with a message meant for the person who typed it.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from operator import attrgetter
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
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
    Tenant,
)
from domains.names import HostName, normalize_did, normalize_host
from domains.policies import domain_fields_check
from domains.selectors import (
    DomainNotFound,
    TenantNotFound,
    actor_is_operator,
    domain_realm,
    tenant_get_by_name,
)
from domains.signals import domains_changed
from serweb.db import lost_race

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
    actor: Actor,
    action: str,
    domain: Domain,
    before: dict | None,
    after: dict | None,
    tenant: Tenant | None = None,
) -> None:
    audit_record(
        actor=actor,
        action=action,
        object_type="domain",
        object_repr=domain.did,
        domain=domain,
        tenant=tenant,
        before=before,
        after=after,
    )


def _touch(domain: Domain) -> None:
    domain.updated_at = timezone.now()
    domain.save(update_fields=["updated_at"])


def _changed(domain: Domain) -> None:
    domains_changed.send(sender=Domain, dids=[domain.did])


def domain_served_names_changed(domain: Domain) -> None:
    """What follows a change of which of its names the proxy serves, made by the DNS
    lifecycle of one name (domains.dns.names): the domain is touched and proxies reload."""
    _touch(domain)
    _changed(domain)


def domain_lock(domain: Domain, *, deleting: bool = False) -> None:
    """Lock the domain's row until the transaction ends, and read it again.

    Every rule about a domain (its names and canonical name, its attributes and realm, the
    user names of its subscribers and aliases) is checked under this lock, so that two
    requests cannot both pass a check only one of them may pass. Raises DomainNotFound
    when a concurrent request deleted the domain. (SQLite has no row locks; it runs one
    writing transaction at a time.)
    """
    locked = Domain.objects.select_for_update(no_key=not deleting)
    try:
        domain.refresh_from_db(from_queryset=locked)
    except Domain.DoesNotExist:
        raise DomainNotFound(f"domain {domain.did} does not exist any more") from None


def domains_lock(ids: Iterable[int]) -> dict[int, Domain]:
    """Lock several domains' rows until the transaction ends, as domain_lock does, and
    read them: those still there, by id.

    In id order, the one order of every writer that locks more than one domain, so that
    two of them wait for each other instead of deadlocking. Whoever also writes a row that
    belongs to a domain (its check, names, subscribers) locks the domain first: so does
    domain_delete, whose cascade reaches those rows.
    """
    locked = Domain.objects.select_for_update(no_key=True).filter(pk__in=set(ids)).order_by("pk")
    return {domain.pk: domain for domain in locked}


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


def _check_domain_free(hosts: list[HostName], did: str) -> None:
    for host in hosts:
        _check_name_free(host)
    if Domain.objects.filter(did=did).exists():
        raise ValidationError(
            f"domain id {did} is taken by another domain; give another one with --did"
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
    hosts = domain_hosts_clean([name, *aliases])
    clean_did = domain_did_for(hosts[0], did)
    if state not in DomainState.values:
        raise ValidationError(f"unknown state {state!r}")
    if origin not in DomainOrigin.values:
        raise ValidationError(f"unknown origin {origin!r}")
    _check_domain_free(hosts, clean_did)
    clean_attributes = [validate_attribute(key, value) for key, value in (attributes or {}).items()]

    with lost_race(lambda: _check_domain_free(hosts, clean_did)):
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
    _record(actor, "domain.create", domain, None, domain_snapshot(domain))
    _changed(domain)
    return domain


@transaction.atomic
def domain_name_add(*, actor: Actor, domain: Domain, name: str) -> DomainName:
    """Add an alias or IP literal to a domain."""
    host = normalize_host(name)
    domain_lock(domain)
    _check_name_free(host, domain=domain)
    before = domain_snapshot(domain)
    # Another domain may take the same name at the same time: only the domain row of the
    # winner is locked.
    with lost_race(lambda: _check_name_free(host, domain=domain)):
        added = DomainName.objects.create(domain=domain, name=host.value, kind=host.kind)
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
    domain_lock(domain)
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
    domain_lock(domain)
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


def _realm_holder(realm: str) -> int | None:
    """The id of the domain one of whose names is ``realm``."""
    return DomainName.objects.filter(name=realm).values_list("domain_id", flat=True).first()


def _check_realm_is_the_tenants(domain: Domain, realm: str, *, holder: int | None) -> None:
    """A tenant may name as realm only a name of its own domains: another's would let its
    users' credentials be replayed against that realm.

    ``holder``, the domain that held the name before the locks, is locked with this one:
    neither can its name go nor can it move to another tenant or be deleted before this
    change commits, and what happened to it before is seen here.
    """
    if realm == domain.did:
        return
    held = DomainName.objects.filter(
        name=realm, domain_id=holder, domain__tenant_id=domain.tenant_id
    )
    if holder is None or not held.exists():
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
    by_tenant = actor is not None and not actor_is_operator(actor)
    key, kind, clean_value = validate_attribute(name, value, as_int=as_int, known_only=by_tenant)
    if source not in AttributeSource.values:
        raise ValidationError(f"unknown attribute source {source!r}")
    # The realm and the rehash of stored passwords are decided under the domain's lock, so
    # a subscriber created meanwhile cannot miss either; a tenant's realm naming another
    # of its domains, under that domain's lock too (both in id order).
    tenants_realm = key == "realm" and by_tenant
    holder = _realm_holder(clean_value) if tenants_realm and clean_value != domain.did else None
    if holder is not None and holder != domain.pk:
        domains_lock([domain.pk, holder])
    domain_lock(domain)
    if tenants_realm:
        _check_realm_is_the_tenants(domain, clean_value, holder=holder)
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
    domain_lock(domain)
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
    _record(actor, action, domain, before, domain_snapshot(domain))
    _changed(domain)
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
    tenant's name or None) in one transaction, once the field policy allows every one."""
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
            _record(actor, action, domain, *names, tenant=owner)
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


# --- tenants ------------------------------------------------------------------------------


def _check_tenant_free(name: str, owner_username: str) -> None:
    from django.contrib.auth import get_user_model

    if Tenant.objects.filter(name__iexact=name).exists():
        raise ValidationError({"name": f"a tenant named {name} exists already"})
    if not owner_username or get_user_model().objects.filter(username=owner_username).exists():
        raise ValidationError({"owner": f"the account {owner_username!r} is taken or empty"})


@transaction.atomic
def tenant_create(
    *,
    actor: Actor,
    name: str,
    owner_username: str,
    email: str = "",
    password: str | None = None,
    confirmed: bool = True,
) -> Tenant:
    """A tenant with a new owner account, which logs in with ``password`` (without one, it
    gets a password or an API token from an operator later). An unconfirmed one waits for
    its owner to prove its e-mail address (domains/signup.py)."""
    from django.contrib.auth import get_user_model

    users = get_user_model()
    clean_name = (name or "").strip()
    if not clean_name or len(clean_name) > 100:
        raise ValidationError({"name": "a tenant needs a name of 1 to 100 characters"})
    username = (owner_username or "").strip()
    try:
        users.username_validator(username)
    except ValidationError as exc:
        raise ValidationError({"owner": exc.messages}) from None
    _check_tenant_free(clean_name, username)
    # Tenant names are unique ignoring case (a functional unique index), owner names as
    # they are: a concurrent creation of either makes this one the serial refusal.
    with lost_race(lambda: _check_tenant_free(clean_name, username), field="name"):
        owner = users.objects.create_user(username=username, email=email or "")
        tenant = Tenant.objects.create(
            name=clean_name, owner=owner, confirmed_at=timezone.now() if confirmed else None
        )
    audit_record(
        actor=actor,
        action="tenant.create",
        object_type="tenant",
        object_repr=clean_name,
        after={"name": clean_name, "owner": username},
    )
    if password is not None:
        tenant_set_password(actor=actor, tenant=tenant, password=password)
    return tenant


@transaction.atomic
def tenant_set_password(*, actor: Actor, tenant: Tenant, password: str) -> Tenant:
    """Give the tenant's owner account a password to log in with (Django's validators)."""
    from django.contrib.auth.password_validation import validate_password

    owner = tenant.owner
    try:
        validate_password(password, user=owner)
    except ValidationError as exc:
        raise ValidationError({"password": exc.messages}) from None
    owner.set_password(password)
    owner.save(update_fields=["password"])
    audit_record(
        actor=actor,
        action="tenant.set_password",
        object_type="tenant",
        object_repr=tenant.name,
        after={"password": "changed"},  # never the password
    )
    return tenant


@transaction.atomic
def tenant_set_active(
    *, actor: Actor, tenant: Tenant, active: bool, domains: bool = False
) -> list[Domain]:
    """Let the tenant's owner log in and use its tokens, or stop it; with ``domains`` also
    switch every domain of the tenant on or off (the operator's switch). Returns the
    domains that changed."""
    owner = tenant.owner
    if owner.is_active != active:
        owner.is_active = active
        owner.save(update_fields=["is_active"])
        audit_record(
            actor=actor,
            action="tenant.enable" if active else "tenant.disable",
            object_type="tenant",
            object_repr=tenant.name,
            before={"active": not active},
            after={"active": active},
        )
    if not domains:
        return []
    switch = domain_enable if active else domain_disable
    locked = domains_lock(tenant.domains.filter(enabled=not active).values_list("pk", flat=True))
    # Read again under the locks: moved or switched meanwhile, a domain is left alone.
    return [
        switch(actor=actor, domain=domain)
        for domain in locked.values()
        if domain.tenant_id == tenant.pk and domain.enabled != active
    ]
