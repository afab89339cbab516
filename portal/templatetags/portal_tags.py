"""What the operators' domain pages show of a domain beyond its names (names.py has
those): verdicts in words, the link to its subscribers."""

from urllib.parse import urlencode

from django import template
from django.urls import NoReverseMatch, reverse

from domains.models import CheckVerdict

register = template.Library()


@register.simple_tag
def subscribers_of(did: str) -> str:
    """The subscriber list filtered to one domain."""
    try:
        base = reverse("portal:subscribers")
    except NoReverseMatch:  # where the subscriber list lives, its URL name not routed
        base = "/subscribers/"
    return f"{base}?{urlencode({'domain': did})}"


@register.filter
def verdict_label(value: str | None) -> str:
    """A DNS verdict (domains.models.CheckVerdict) in words."""
    if not value:
        return "never checked"
    try:
        return CheckVerdict(value).label
    except ValueError:
        return value
