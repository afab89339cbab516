"""``{{ value|audit_value }}``: one value of an audit entry's diff as people read it (names
in Unicode, yes and no, "none"). Secrets never get here: audit.diff leaves them out."""

import json

from django import template
from django.utils.html import format_html_join
from django.utils.safestring import mark_safe

from portal.templatetags.names import host

register = template.Library()


@register.filter
def audit_value(value) -> str:
    if value is None or value == "" or value == []:
        return mark_safe('<span class="muted">none</span>')
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return format_html_join(", ", "{}", ((audit_value(item),) for item in value))
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True, ensure_ascii=False)
    return host(value)
