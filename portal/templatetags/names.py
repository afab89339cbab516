from django import template
from django.utils.html import format_html

from domains.names import HostName, NameKind

register = template.Library()


@register.filter
def unicode_name(name: str) -> str:
    """A stored name as people read it (Unicode), its A-label in a title on hover."""
    shown = HostName(name, NameKind.HOSTNAME).display
    if shown == name:
        return format_html("{}", name)
    return format_html('<span title="{}">{}</span>', name, shown)
