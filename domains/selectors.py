"""Reads: finding domains by any of their names, realms, what a tenant may see."""

from django.core.exceptions import ObjectDoesNotExist, ValidationError
from django.db.models import QuerySet

from domains.models import AttributeSource, Domain, DomainAttribute, DomainName, Tenant
from domains.names import normalize_host


class DomainNotFound(ObjectDoesNotExist):
    pass


def domain_get_by_name(name: str) -> Domain:
    """The domain any of whose names (canonical, alias, IP literal) is ``name``, or its did."""
    host_text = (name or "").strip().lower().rstrip(".")
    try:
        host = normalize_host(name).value
    except ValidationError:
        host = None
    if host is not None:
        found = DomainName.objects.select_related("domain").filter(name=host).first()
        if found is not None:
            return found.domain
    domain = Domain.objects.filter(did=host or host_text).first()
    if domain is None:
        raise DomainNotFound(f"no domain named {name!r}")
    return domain


def actor_is_operator(actor) -> bool:
    return bool(actor is not None and actor.is_authenticated and actor.is_staff)


def actor_tenant(actor) -> Tenant | None:
    if actor is None or not actor.is_authenticated:
        return None
    return Tenant.objects.filter(owner=actor).first()


def domains_visible_to(actor) -> QuerySet[Domain]:
    """Operators see every domain, a tenant its own, anybody else none."""
    if actor_is_operator(actor):
        return Domain.objects.all()
    tenant = actor_tenant(actor)
    if tenant is None:
        return Domain.objects.none()
    return Domain.objects.filter(tenant=tenant)


def domain_list(*, state: str | None = None) -> QuerySet[Domain]:
    domains = Domain.objects.prefetch_related("names").order_by("did")
    if state:
        domains = domains.filter(state=state)
    return domains


def domain_effective_attributes(domain: Domain) -> dict[str, DomainAttribute]:
    """The winning row per attribute name: the operator's over the one from DNS."""
    winners: dict[str, DomainAttribute] = {}
    for attribute in domain.attributes.all():
        current = winners.get(attribute.name)
        if current is None or attribute.source == AttributeSource.OPERATOR:
            winners[attribute.name] = attribute
    return winners


def domain_realm(domain: Domain) -> str:
    """The digest realm: the effective ``realm`` attribute, else the did."""
    realm = domain_effective_attributes(domain).get("realm")
    return realm.value if realm is not None else domain.did
