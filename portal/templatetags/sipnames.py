"""``{{ name|sipname }}``: a domain name, did or USER@DOMAIN as people read it, in Unicode,
with the A-label (what the proxy and DNS see) on hover. Load with ``{% load sipnames %}``."""

from django import template
from django.utils.html import format_html

from domains.names import display_name

register = template.Library()


@register.filter
def sipname(value) -> str:
    if value is None or value == "":
        return ""
    stored = str(value)
    shown = display_name(stored)
    if shown == stored:
        return stored  # escaped by the template like any value
    return format_html('<span class="sipname" title="{}">{}</span>', stored, shown)
