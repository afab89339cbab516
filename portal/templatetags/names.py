"""Names as people read them: an IDN in Unicode, its A-label (what DNS and the proxy use) in
a title on hover."""

from django import template
from django.utils.html import format_html

from domains.names import name_for_people

register = template.Library()


@register.filter
def host(name: str) -> str:
    """The name in Unicode, the A-label in a title when they differ."""
    shown = name_for_people(name)
    if shown == name:
        return format_html("{}", name)
    return format_html('<span title="{}">{}</span>', name, shown)


@register.filter
def address(user: str, domain: str) -> str:
    """user@domain, the domain as ``host`` shows it."""
    return format_html("{}@{}", user, host(domain))


@register.filter
def unicode_name(name: str) -> str:
    """Plain text, for labels and titles."""
    return name_for_people(name)
