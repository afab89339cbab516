"""One adapter for a service's ValidationError, whichever door the call came through.

Services raise ValidationErrors keyed by the names of their own keyword arguments (a
message about no argument in particular goes under NON_FIELD_ERRORS). The API answers them
as ``{"fields": {name: [message]}}``, a page puts each message next to the form field of
that name, and a command prints ``error: name: message``."""

from collections.abc import Mapping

from django import forms
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError


def error_fields(exc: ValidationError) -> dict[str, list[str]]:
    """The messages by field; those a service raised without a field under NON_FIELD_ERRORS."""
    if hasattr(exc, "error_dict"):
        return {field: ValidationError(errors).messages for field, errors in exc.error_dict.items()}
    return {NON_FIELD_ERRORS: exc.messages}


def add_to_form(
    form: forms.BaseForm, exc: ValidationError, *, fields: Mapping[str, str] | None = None
) -> None:
    """Each message next to its field: a service argument named like one of the form's
    fields (or renamed to one by ``fields``) lands on it, any other message on the form."""
    renamed = fields or {}
    for field, messages in error_fields(exc).items():
        target = renamed.get(field, field)
        for message in messages:
            form.add_error(target if target in form.fields else None, message)


def error_line(exc: ValidationError) -> str:
    """All the messages on one line, as a command prints them: ``field: message; ...``."""
    parts = [
        message if field == NON_FIELD_ERRORS else f"{field}: {message}"
        for field, messages in error_fields(exc).items()
        for message in messages
    ]
    return " ".join("; ".join(parts).split("\n"))
