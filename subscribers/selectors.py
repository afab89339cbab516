"""Reads of subscribers: pages of a long list, one subscriber with what belongs to it."""

from dataclasses import dataclass

from django.db.models import F, QuerySet
from django.db.models.fields.tuple_lookups import Tuple, TupleGreaterThan, TupleLessThan

from domains.models import Domain
from domains.selectors import domain_realm, domains_visible_to
from subscribers.models import Subscriber, UserAlias, ValidFrom

PAGE_SIZE = 50
# The hashes and a kept password are secrets no page needs: never read for one.
SECRET_COLUMNS = ("ha1", "ha1b", "password")


@dataclass(frozen=True)
class SubscriberPage:
    subscribers: list[Subscriber]
    # Cursors of the pages after and before this one; None when there is none.
    after: str | None
    before: str | None


def subscriber_cursor(subscriber: Subscriber) -> str:
    return f"{subscriber.domain_id}:{subscriber.username}"


def _position(cursor: str | None) -> tuple[int, str] | None:
    domain_id, colon, username = (cursor or "").partition(":")
    if not colon or not domain_id.isascii() or not domain_id.isdigit() or len(domain_id) > 18:
        return None
    if "\x00" in username:  # no text column holds one; PostgreSQL refuses to compare it
        return None
    return int(domain_id), username


def subscriber_page(
    subscribers: QuerySet[Subscriber],
    *,
    after: str | None = None,
    before: str | None = None,
    size: int | None = None,
) -> SubscriberPage:
    """One page of ``subscribers`` in (domain, user name) order, after or before a cursor
    of a neighbouring page: two queries (the rows, their domains) at any depth, as the rows
    come from the unique index on those columns; nothing counts the whole list. A cursor
    that is not one gives the first page."""
    size = size or PAGE_SIZE
    key = Tuple(F("domain_id"), F("username"))
    # The domains by a second query on their ids: a join would have PostgreSQL walk the
    # domains from the first up to the page's, a deep page's cost growing with its depth.
    rows = subscribers.defer(*SECRET_COLUMNS).prefetch_related("domain")
    backwards = _position(before)
    forwards = None if backwards else _position(after)
    if backwards:
        found = list(
            rows.filter(TupleLessThan(key, backwards)).order_by("-domain_id", "-username")[
                : size + 1
            ]
        )
        more_before = len(found) > size
        listed = found[:size][::-1]
        more_after = True
    else:
        if forwards:
            rows = rows.filter(TupleGreaterThan(key, forwards))
        found = list(rows.order_by("domain_id", "username")[: size + 1])
        listed = found[:size]
        more_after = len(found) > size
        more_before = forwards is not None
    return SubscriberPage(
        subscribers=listed,
        after=subscriber_cursor(listed[-1]) if listed and more_after else None,
        before=subscriber_cursor(listed[0]) if listed and more_before else None,
    )


@dataclass(frozen=True)
class SubscriberDetail:
    subscriber: Subscriber
    canonical_name: str
    valid_froms: list[ValidFrom]
    aliases: list[UserAlias]
    # The hashes were made for another realm than the domain's: a new password is due.
    needs_new_password: bool

    @property
    def aor(self) -> str:
        return subscriber_aor(self.subscriber)


def subscriber_aor(subscriber: Subscriber) -> str:
    """The address of record the proxies register it under: user@did (the reference
    configuration saves every contact under the did, whichever name was registered)."""
    return f"{subscriber.username}@{subscriber.domain.did}"


def subscriber_get(pk: int, *, among: QuerySet[Subscriber] | None = None) -> Subscriber:
    """The subscriber ``pk``, of ``among`` only when given (what the reader may see)."""
    rows = Subscriber.objects.all() if among is None else among
    return rows.select_related("domain").defer(*SECRET_COLUMNS).get(pk=pk)


def subscriber_detail(subscriber: Subscriber) -> SubscriberDetail:
    domain: Domain = subscriber.domain
    return SubscriberDetail(
        subscriber=subscriber,
        canonical_name=domain.names.get(is_canonical=True).name,
        valid_froms=list(subscriber.valid_froms.order_by("from_user")),
        aliases=list(subscriber.aliases.select_related("domain").order_by("domain_id", "username")),
        needs_new_password=subscriber.ha1_realm != domain_realm(domain),
    )


def subscribers_visible_to(actor) -> QuerySet[Subscriber]:
    """Operators see every subscriber, a tenant those of its domains, anybody else none."""
    return Subscriber.objects.filter(domain__in=domains_visible_to(actor))
