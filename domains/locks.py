"""Row locks on domains: every rule about a domain is checked under its domain's lock.

Apart from the services, so that whoever writes a row that belongs to a domain (its names
and attributes here, its subscribers and aliases in subscribers/) takes the same lock in
the same order without importing the domain services.
"""

from collections.abc import Iterable

from domains.models import Domain
from domains.selectors import DomainNotFound


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
