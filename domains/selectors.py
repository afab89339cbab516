"""Reads: finding domains by any of their names, realms, what a tenant may see."""

from collections.abc import Iterable

from django.core.exceptions import ObjectDoesNotExist, ValidationError
from django.db.models import (
    Count,
    F,
    FilteredRelation,
    IntegerField,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
)
from django.db.models.functions import Coalesce

from domains.models import (
    AttributeSource,
    Domain,
    DomainAttribute,
    DomainClaim,
    DomainName,
    DomainState,
    Tenant,
)
from domains.names import normalize_host


class DomainNotFound(ObjectDoesNotExist):
    pass


def _host_or_none(raw: str) -> str | None:
    try:
        return normalize_host(raw).value
    except ValidationError:
        return None


def domain_refs_by_names(raws: Iterable[str]) -> dict[str, tuple[int, str] | None]:
    """Each text to (id, did) of the domain it names: one of the domain's names first
    (canonical, alias, IP literal, in any spelling), else its did; None if neither.
    Two queries for any number of texts."""
    texts = set(raws)
    hosts = {raw: _host_or_none(raw) for raw in texts}
    by_name = {
        name: (pk, did)
        for name, pk, did in DomainName.objects.filter(
            name__in={host for host in hosts.values() if host}
        ).values_list("name", "domain_id", "domain__did")
    }
    found: dict[str, tuple[int, str] | None] = {raw: by_name.get(hosts[raw]) for raw in texts}
    did_of = {
        raw: hosts[raw] or (raw or "").strip().lower().rstrip(".")
        for raw, ref in found.items()
        if ref is None
    }
    if did_of:
        by_did = dict(Domain.objects.filter(did__in=set(did_of.values())).values_list("did", "pk"))
        found.update(
            (raw, (by_did[did], did) if did in by_did else None) for raw, did in did_of.items()
        )
    return found


def domain_get_by_name(name: str) -> Domain:
    """The domain any of whose names (canonical, alias, IP literal) is ``name``, or its did."""
    ref = domain_refs_by_names([name])[name]
    if ref is None:
        raise DomainNotFound(f"no domain named {name!r}")
    return Domain.objects.get(pk=ref[0])


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


def claims_visible_to(actor) -> QuerySet[DomainClaim]:
    """Operators see every claim, a tenant its own, anybody else none."""
    claims = DomainClaim.objects.select_related("tenant", "domain").order_by("id")
    if actor_is_operator(actor):
        return claims
    tenant = actor_tenant(actor)
    if tenant is None:
        return claims.none()
    return claims.filter(tenant=tenant)


def names_with_checks() -> Prefetch:
    """Prefetch a domain's names with their DNS check rows, in one query for any number of
    domains (``DomainName.dns_state`` then asks nothing more)."""
    return Prefetch("names", queryset=DomainName.objects.select_related("dns_check"))


def domain_list(*, state: str | None = None) -> QuerySet[Domain]:
    domains = Domain.objects.prefetch_related("names").order_by("did")
    if state:
        domains = domains.filter(state=state)
    return domains


def domain_rows(domains: QuerySet[Domain]) -> QuerySet[Domain]:
    """Domains as a list shows them, all in the query of the list itself: the canonical
    name and its kind as ``listed_name`` and ``listed_kind``, how many other names
    (``other_names``), the tenant and the latest DNS check (without its evidence)."""
    others = (
        DomainName.objects.filter(domain=OuterRef("pk"), is_canonical=False)
        .order_by()
        .values("domain")
        .annotate(count=Count("pk"))
        .values("count")
    )
    return (
        domains.annotate(
            canonical=FilteredRelation("names", condition=Q(names__is_canonical=True)),
            listed_name=F("canonical__name"),
            listed_kind=F("canonical__kind"),
            other_names=Coalesce(Subquery(others), 0),
        )
        .select_related("tenant", "dns_check")
        .defer("dns_check__evidence")
    )


def domain_effective_attributes(domain: Domain) -> dict[str, DomainAttribute]:
    """The winning row per attribute name: the operator's over the one from DNS."""
    winners: dict[str, DomainAttribute] = {}
    for attribute in domain.attributes.all():
        current = winners.get(attribute.name)
        if current is None or attribute.source == AttributeSource.OPERATOR:
            winners[attribute.name] = attribute
    return winners


def domain_realms(domain_ids: Iterable[int]) -> dict[int, str]:
    """The realm of each of these domains that has a realm attribute (the others' realm is
    their did), chosen among its rows as domain_realm does."""
    with_realm = Domain.objects.filter(
        pk__in=DomainAttribute.objects.filter(domain_id__in=domain_ids, name="realm").values(
            "domain_id"
        )
    ).prefetch_related(
        Prefetch("attributes", queryset=DomainAttribute.objects.filter(name="realm"))
    )
    return {domain.pk: domain_realm(domain) for domain in with_realm}


def domain_realm(domain: Domain) -> str:
    """The digest realm: the effective ``realm`` attribute, else the did."""
    realm = domain_effective_attributes(domain).get("realm")
    return realm.value if realm is not None else domain.did


class TenantNotFound(ObjectDoesNotExist):
    pass


def tenant_get_by_name(name: str) -> Tenant:
    """The tenant called ``name`` (in any case), or the one whose owner logs in as ``name``."""
    text = (name or "").strip()
    tenant = (
        Tenant.objects.select_related("owner").filter(name__iexact=text).first()
        or Tenant.objects.select_related("owner").filter(owner__username=text).first()
    )
    if tenant is None:
        raise TenantNotFound(f"no tenant named {text!r}")
    return tenant


def _count_per_tenant(rows: QuerySet) -> Coalesce:
    counted = rows.filter(tenant=OuterRef("pk")).order_by().values("tenant")
    return Coalesce(
        Subquery(counted.annotate(n=Count("pk")).values("n"), output_field=IntegerField()), 0
    )


def claims_waiting() -> QuerySet[DomainClaim]:
    """Claims whose TXT record has not been seen yet."""
    return DomainClaim.objects.filter(verified_at__isnull=True)


def tenants_with_usage(*, search: str = "") -> QuerySet[Tenant]:
    """Tenants by name with their owner, the number of their domains (``domain_count``)
    and of their claims still waiting (``claim_count``), counted per tenant in the same
    query; ``search``: part of the tenant's name or of its owner's login."""
    tenants = Tenant.objects.select_related("owner").order_by("name", "pk")
    text = (search or "").strip()
    if text:
        tenants = tenants.filter(Q(name__icontains=text) | Q(owner__username__icontains=text))
    return tenants.annotate(
        domain_count=_count_per_tenant(Domain.objects.all()),
        claim_count=_count_per_tenant(claims_waiting()),
    )


def tenant_domain_states(tenant: Tenant) -> dict[str, tuple[int, int]]:
    """The tenant's domains per state, every state listed: (how many, of those switched
    off by an operator), in one query."""
    rows = (
        Domain.objects.filter(tenant=tenant)
        .values("state")
        .annotate(count=Count("pk"), off=Count("pk", filter=Q(enabled=False)))
        .order_by()
    )
    found = {row["state"]: (row["count"], row["off"]) for row in rows}
    return {state: found.get(state, (0, 0)) for state in DomainState.values}
