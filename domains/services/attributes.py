"""Setting and removing a domain's attributes, and what a realm change does to the stored
passwords of its subscribers. (What an attribute may be: domains/attributes.py.)"""

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from audit.services import Actor
from domains.attributes import is_default_value, validate_attribute
from domains.locks import domain_lock, domains_lock
from domains.models import AttributeSource, Domain, DomainAttribute, DomainName
from domains.policies import attributes_known_only
from domains.selectors import domain_realm
from domains.services.changes import domain_changed, domain_record, domain_snapshot, domain_touch
from subscribers.services import subscribers_rehash_for_realm


def _apply_realm_change(
    *, domain: Domain, old_realm: str, new_realm: str, accept_password_reset: bool
) -> None:
    """Rehash what can be rehashed; refuse to strand the rest without consent."""
    if old_realm == new_realm:
        return
    # Rolled back with the whole change when the caller has not consented.
    stranded = subscribers_rehash_for_realm(domain=domain, realm=new_realm)
    if stranded and not accept_password_reset:
        # On the consent it lacks: a page shows it next to that checkbox, the command
        # names its option.
        raise ValidationError(
            {
                "accept_password_reset": f"changing the realm of {domain.did} from {old_realm} "
                f"to {new_realm} invalidates the stored passwords of {stranded} "
                "subscriber(s); they must set new passwords. Confirm that to go ahead."
            }
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
    domain_touch(domain)
    domain_record(actor, action, domain, before, domain_snapshot(domain))
    domain_changed(domain)


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
    by_tenant = attributes_known_only(actor)
    key, kind, clean_value = validate_attribute(name, value, as_int=as_int, known_only=by_tenant)
    if source not in AttributeSource.values:
        raise ValidationError({"source": f"unknown attribute source {source!r}"})
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
        raise ValidationError({"name": f"domain {domain.did} has no {source} attribute {key!r}"})
    old_realm = domain_realm(domain)
    before = domain_snapshot(domain)
    attribute.delete()
    _attribute_changed(
        actor, "domain.attr_unset", domain, key, before, old_realm, accept_password_reset
    )
