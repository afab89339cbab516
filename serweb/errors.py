"""One adapter for a service's ValidationError, whichever door the call came through.

Services raise ValidationErrors keyed by the names of their own keyword arguments (a
message about no argument in particular goes under NON_FIELD_ERRORS); ``errors_under``
keys what a check they call raises. The API answers them as ``{"fields": {name:
[message]}}``, a page puts each message next to the form field of that name, and a command
prints ``error: name: message``. Where the caller's name for an argument differs (an API
field, a form field, a command's option), ``fields`` renames it: service argument → the
caller's name.
"""

from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from django import forms
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError


def error_fields(
    exc: ValidationError, *, fields: Mapping[str, str] | None = None
) -> dict[str, list[str]]:
    """The messages by field, renamed by ``fields``; those a service raised without a
    field under NON_FIELD_ERRORS."""
    if not hasattr(exc, "error_dict"):
        return {NON_FIELD_ERRORS: exc.messages}
    renamed = fields or {}
    by_field: dict[str, list[str]] = {}
    for field, errors in exc.error_dict.items():
        by_field.setdefault(renamed.get(field, field), []).extend(ValidationError(errors).messages)
    return by_field


def add_to_form(
    form: forms.BaseForm, exc: ValidationError, *, fields: Mapping[str, str] | None = None
) -> None:
    """Each message next to its field: a service argument named like one of the form's
    fields (or renamed to one by ``fields``) lands on it, any other message on the form."""
    for field, messages in error_fields(exc, fields=fields).items():
        for message in messages:
            form.add_error(field if field in form.fields else None, message)


def error_line(exc: ValidationError, *, fields: Mapping[str, str] | None = None) -> str:
    """All the messages on one line, as a command prints them: ``field: message; ...``."""
    parts = [
        message if field == NON_FIELD_ERRORS else f"{field}: {message}"
        for field, messages in error_fields(exc, fields=fields).items()
        for message in messages
    ]
    return " ".join("; ".join(parts).split("\n"))


@contextmanager
def errors_under(field: str) -> Iterator[None]:
    """For a service: what the block raises is about its argument ``field``, whichever
    field (or none) the check inside named (codes kept)."""
    try:
        yield
    except ValidationError as exc:
        if hasattr(exc, "error_dict"):
            errors = [error for listed in exc.error_dict.values() for error in listed]
        else:
            errors = exc.error_list
        raise ValidationError({field: errors}) from None
