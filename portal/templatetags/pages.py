"""The address of a page of the signed-in person's part of the portal (portal/access.py
Scope): ``{% page_url "subscriber" pk %}`` is an operator's subscriber page for an
operator, the tenant's own for a tenant."""

from django import template

register = template.Library()


@register.simple_tag(takes_context=True)
def page_url(context, name: str, *args) -> str:
    return context["request"].scope.url(name, *args)
