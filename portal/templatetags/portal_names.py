"""Names as people read them: an IDN in Unicode, its A-label (what DNS and the proxy use)
in a title on hover."""

from django import template
from django.utils.html import format_html

from domains.names import HostName, NameKind

register = template.Library()


def name_display(name: str) -> str:
    """The Unicode form of a stored name or did; anything else as it is."""
    return HostName(value=name, kind=NameKind.HOSTNAME).display


@register.filter
def hostname(name: str) -> str:
    shown = name_display(name)
    if shown == name:
        return format_html("<span>{}</span>", name)
    return format_html('<span title="{}">{}</span>', name, shown)


@register.filter
def unicode_name(name: str) -> str:
    """Plain text, for labels and titles."""
    return name_display(name)
