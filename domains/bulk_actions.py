"""Services that act on many domains at once: the domain list's bulk actions. Each domain
is changed, audited and signalled as the one-domain service does it, all in one
transaction, under locks taken in id order (the order of every writer that locks several
domains)."""

from collections.abc import Iterable
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import transaction

from domains.models import Domain
from domains.policies import domain_fields_check
from domains.services import (
    Actor,
    DeletionSummary,
    domain_delete,
    domain_disable,
    domain_enable,
    domains_lock,
)

# The most domains one bulk action changes: each is locked, changed and audited on its own,
# in one transaction.
BULK_LIMIT = 1000


@dataclass(frozen=True)
class DeletionTotals:
    domains: int
    names: int
    subscribers: int
    user_aliases: int
    attributes: int


def domains_bulk_ids(domains: Iterable[int]) -> list[int]:
    """The ids a bulk action takes, in id order, or the reason it takes none of them."""
    ids = sorted(set(domains))
    if not ids:
        raise ValidationError({"domains": "no domain is selected"})
    if len(ids) > BULK_LIMIT:
        raise ValidationError(
            {"domains": f"{len(ids)} domains: at most {BULK_LIMIT} at once; narrow the selection"}
        )
    return ids


def domains_deletion_totals(domains: Iterable[int]) -> DeletionTotals:
    """What deleting these domains (ids) deletes with them, in five queries."""
    ids = sorted(set(domains))

    def rows_of(relation: str) -> int:
        model = Domain._meta.get_field(relation).related_model
        return model.objects.filter(domain_id__in=ids).count()

    return DeletionTotals(
        domains=Domain.objects.filter(pk__in=ids).count(),
        names=rows_of("names"),
        subscribers=rows_of("subscribers"),
        user_aliases=rows_of("user_aliases"),
        attributes=rows_of("attributes"),
    )


@transaction.atomic
def domains_set_enabled(*, actor: Actor, domains: Iterable[int], enabled: bool) -> list[Domain]:
    """Switch these domains (ids) on or off, each as domain_enable or domain_disable does,
    under their locks in id order; those gone or already so are left alone. Returns the
    domains that changed."""
    domain_fields_check(actor=actor, fields=["enabled"])
    switch = domain_enable if enabled else domain_disable
    locked = domains_lock(domains_bulk_ids(domains))
    return [
        switch(actor=actor, domain=domain)
        for domain in locked.values()
        if domain.enabled != enabled
    ]


@transaction.atomic
def domains_delete(
    *, actor: Actor, domains: Iterable[int], force: bool = False
) -> list[DeletionSummary]:
    """Delete these domains (ids) as domain_delete does, all or none: one that still has
    subscribers refuses all unless forced. Those already gone are left out."""
    ids = domains_bulk_ids(domains)
    # The key lock domain_delete takes, taken in id order first.
    locked = Domain.objects.select_for_update().filter(pk__in=ids).order_by("pk")
    return [domain_delete(actor=actor, domain=domain, force=force) for domain in locked]
