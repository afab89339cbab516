"""A domain's names: aliases and IP literals added and removed, the canonical one chosen.
A name belongs to one domain in the whole system."""

from django.core.exceptions import ValidationError
from django.db import transaction

from audit.services import Actor
from domains.locks import domain_lock
from domains.models import Domain, DomainName
from domains.names import HostName, normalize_host
from domains.policies import domain_name_add_check
from domains.services.changes import domain_changed, domain_record, domain_snapshot, domain_touch
from serweb.db import lost_race
from serweb.errors import errors_under


def name_free_check(host: HostName, *, field: str, domain: Domain | None = None) -> None:
    """Refuse, as the service's argument ``field``, a name that belongs to a domain already
    (to ``domain`` itself, if given)."""
    owner = DomainName.objects.filter(name=host.value).select_related("domain").first()
    if owner is None:
        return
    if domain is not None and owner.domain_id == domain.pk:
        raise ValidationError({field: f"{host.value} is already a name of this domain"})
    raise ValidationError({field: f"{host.value} already belongs to domain {owner.domain.did}"})


@transaction.atomic
def domain_name_add(*, actor: Actor, domain: Domain, name: str) -> DomainName:
    """Add an alias or IP literal to a domain."""
    domain_name_add_check(actor=actor)
    with errors_under("name"):
        host = normalize_host(name)
    domain_lock(domain)
    name_free_check(host, field="name", domain=domain)
    before = domain_snapshot(domain)
    # Another domain may take the same name at the same time: only the domain row of the
    # winner is locked.
    with lost_race(lambda: name_free_check(host, field="name", domain=domain), field="name"):
        added = DomainName.objects.create(domain=domain, name=host.value, kind=host.kind)
    domain_touch(domain)
    domain_record(actor, "domain.alias_add", domain, before, domain_snapshot(domain))
    domain_changed(domain)
    return added


def _name_of(domain: Domain, name: str) -> DomainName:
    with errors_under("name"):
        host = normalize_host(name)
    found = domain.names.filter(name=host.value).first()
    if found is None:
        raise ValidationError({"name": f"{host.value} is not a name of domain {domain.did}"})
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
                {
                    "name": f"{target.name} is the only name of domain {domain.did}; "
                    "delete the domain instead"
                }
            )
    before = domain_snapshot(domain)
    target.delete()
    if promoted is not None:
        promoted.is_canonical = True
        promoted.save(update_fields=["is_canonical"])
    domain_touch(domain)
    domain_record(actor, "domain.alias_remove", domain, before, domain_snapshot(domain))
    domain_changed(domain)
    return promoted


@transaction.atomic
def domain_make_canonical(*, actor: Actor, domain: Domain, name: str) -> DomainName:
    """Make one of the domain's names the canonical one. The did does not change."""
    domain_lock(domain)
    target = _name_of(domain, name)
    if target.is_canonical:
        return target
    if target.kind != "hostname":
        raise ValidationError(
            {"name": f"{target.name}: an IP address cannot be the canonical name"}
        )
    before = domain_snapshot(domain)
    domain.names.filter(is_canonical=True).update(is_canonical=False)
    target.is_canonical = True
    target.save(update_fields=["is_canonical"])
    domain_touch(domain)
    domain_record(actor, "domain.canonical", domain, before, domain_snapshot(domain))
    domain_changed(domain)
    return target
