from django.db.models import QuerySet

from domains.selectors import domains_visible_to
from subscribers.models import Subscriber


def subscribers_visible_to(actor) -> QuerySet[Subscriber]:
    """Operators see every subscriber, a tenant those of its domains, anybody else none."""
    return Subscriber.objects.filter(domain__in=domains_visible_to(actor))
