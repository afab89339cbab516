"""Reads of the API's own objects: who sees which tokens and jobs."""

from django.db.models import QuerySet

from api.models import ApiToken, Job
from domains.selectors import actor_is_operator


def tokens_visible_to(actor) -> QuerySet[ApiToken]:
    """Operators see every token, anybody else their own."""
    tokens = ApiToken.objects.select_related("user")
    return tokens if actor_is_operator(actor) else tokens.filter(user=actor)


def jobs_visible_to(actor) -> QuerySet[Job]:
    """Operators see every job, anybody else those they started."""
    return Job.objects.all() if actor_is_operator(actor) else Job.objects.filter(user=actor)
