"""Names as people read them: the Unicode form of an internationalised name, with its
A-label (what DNS and the proxy use) in a title shown on hover."""

from urllib.parse import urlencode

from django import template
from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html

from domains.models import CheckVerdict, DomainState
from domains.names import HostName, NameKind

register = template.Library()


@register.simple_tag
def hostname(value: str | None, kind: str = NameKind.HOSTNAME):
    if not value:
        return ""
    shown = HostName(value, kind or NameKind.HOSTNAME).display
    if shown == value:
        return format_html('<span class="name-text">{}</span>', value)
    return format_html('<span class="name-text" title="{}">{}</span>', value, shown)


@register.simple_tag
def subscribers_of(did: str) -> str:
    """The subscriber list filtered to one domain."""
    try:
        base = reverse("portal:subscribers")
    except NoReverseMatch:  # the subscriber pages' address, before they are routed
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


@register.filter
def state_label(value: str | None) -> str:
    try:
        return DomainState(value).label
    except ValueError:
        return value or ""


@register.filter
def display(value: str | None, kind: str | None = None) -> str:
    """A name's Unicode form as plain text (for labels and titles)."""
    return HostName(value, kind or NameKind.HOSTNAME).display if value else ""
