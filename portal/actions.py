"""A page's write: one service call, whose refusal lands next to the form's fields, and
the flash message after it that says what changed and which proxies do not serve it yet."""

from collections.abc import Callable, Mapping
from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import ObjectDoesNotExist, ValidationError
from django.http import Http404

from proxies.models import Proxy
from proxies.status import reload_waiting_note
from serweb.errors import add_to_form


def perform(
    request,
    form: forms.BaseForm,
    service: Callable[..., Any],
    *,
    fields: Mapping[str, str] | None = None,
    **kwargs: Any,
) -> tuple[bool, Any]:
    """(True, what the service returned), or (False, None) with its errors on ``form``
    (``fields`` renames the service's arguments to the form's fields). What a concurrent
    request deleted meanwhile is not found."""
    try:
        return True, service(actor=request.user, **kwargs)
    except ValidationError as exc:
        add_to_form(form, exc, fields=fields)
        return False, None
    except ObjectDoesNotExist:
        raise Http404 from None


def changed(request, what: str, *, proxies_concerned: bool = True) -> None:
    """``what`` changed; for what proxies cache, whether each one serves it yet."""
    if proxies_concerned:
        note = reload_waiting_note()
        if note is not None:
            what = f"{what}; {note}"
        elif Proxy.objects.filter(enabled=True).exists():
            what = f"{what}; every proxy serves it"
    messages.success(request, what[0].upper() + what[1:] + ".")
