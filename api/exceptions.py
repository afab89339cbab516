"""One error format for the whole API:

    {"detail": "what went wrong", "code": "invalid", "fields": {"name": ["message", ...]}}

``fields`` is present on 400 answers and names the input field each message is about
("non_field_errors" for a message about the request as a whole).
"""

from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.serializers import as_serializer_error
from rest_framework.views import exception_handler as drf_exception_handler


def _flatten(detail) -> list[str]:
    if isinstance(detail, dict):
        return [m for value in detail.values() for m in _flatten(value)]
    if isinstance(detail, list):
        return [m for value in detail for m in _flatten(value)]
    return [str(detail)]


def _fields(detail) -> dict[str, list[str]]:
    if isinstance(detail, dict):
        return {str(field): _flatten(value) for field, value in detail.items()}
    return {"non_field_errors": _flatten(detail)}


def django_validation_error(exc: DjangoValidationError, *, field: str | None = None):
    """A service's ValidationError as a DRF one; plain messages go to ``field``."""
    if field is not None and not hasattr(exc, "error_dict"):
        return exceptions.ValidationError({field: exc.messages})
    return exceptions.ValidationError(as_serializer_error(exc))


def exception_handler(exc, context):
    if isinstance(exc, DjangoValidationError):
        exc = django_validation_error(exc)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if response.status_code == status.HTTP_400_BAD_REQUEST:
        fields = _fields(exc.detail)
        messages = [m for ms in fields.values() for m in ms]
        response.data = {
            "detail": messages[0] if len(messages) == 1 else "invalid input",
            "code": "invalid",
            "fields": fields,
        }
    else:
        detail = exc.detail if isinstance(exc, exceptions.APIException) else str(exc)
        response.data = {
            "detail": " ".join(_flatten(detail)),
            "code": getattr(detail, "code", None) or getattr(exc, "default_code", "error"),
        }
    return response
