"""Names as people read them: an IDN in Unicode, its A-label in a title on hover."""

from django import template
from django.utils.html import format_html

from domains.names import HostName, NameKind

register = template.Library()


@register.filter
def host(name: str) -> str:
    shown = HostName(name, NameKind.HOSTNAME).display
    if shown == name:
        return name
    return format_html('<span title="{}">{}</span>', name, shown)


@register.filter
def address(user: str, domain: str) -> str:
    """user@domain, the domain as ``host`` shows it."""
    return format_html("{}@{}", user, host(domain))
