"""Names as people read them: an IDN in Unicode, its A-label (what DNS and the proxy use) in
a title on hover."""

from django import template
from django.utils.html import format_html

from domains.names import name_for_people

register = template.Library()


@register.filter
def host(name) -> str:
    """A name, did or USER@DOMAIN in Unicode, the A-label in a title when they differ."""
    if name is None or name == "":
        return ""
    stored = str(name)
    shown = name_for_people(stored)
    if shown == stored:
        return format_html("{}", stored)
    return format_html('<span class="sipname" title="{}">{}</span>', stored, shown)


@register.filter
def address(user: str, domain: str) -> str:
    """user@domain, the domain as ``host`` shows it."""
    return format_html("{}@{}", user, host(domain))


@register.filter
def unicode_name(name: str) -> str:
    """Plain text, for labels and titles."""
    return name_for_people(name)
