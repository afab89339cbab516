"""One error format for the whole API:

    {"detail": "what went wrong", "code": "invalid", "fields": {"name": ["message", ...]}}

``fields`` is present on 400 answers and names the input field each message is about
("non_field_errors" for a message about the request as a whole).

Every exception a request under /api/ can raise ends in this shape: DRF's views through
``exception_handler``, and what happens before or outside them (a body over the limit,
Django's own 400/403/404/405 pages) through api.middleware and serweb/views.py. Bad input
the framework or the database refuses is the client's error, never a 500, and its answer
carries no database text.
"""

import logging
from collections.abc import Mapping

from django.conf import settings
from django.core.exceptions import NON_FIELD_ERRORS, RequestDataTooBig, SuspiciousOperation
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import DataError, IntegrityError
from django.http import Http404, JsonResponse
from rest_framework import exceptions, status
from rest_framework.views import exception_handler as drf_exception_handler

from serweb.errors import error_fields

logger = logging.getLogger(__name__)

API_PREFIX = "/api/"
# Where a message about the request as a whole goes.
NON_FIELD_ERRORS_KEY = "non_field_errors"


def is_api_request(request) -> bool:
    return request.path.startswith(API_PREFIX)


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "too_large"

    def __init__(self):
        super().__init__(
            f"the request body is larger than {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes"
        )


class CheckTooSoon(Exception):
    """A "check now" asked for again within the cooldown of the claim or domain."""

    def __init__(self, retry_after: int) -> None:
        self.retry_after = retry_after
        super().__init__(f"checked a moment ago: check again in {retry_after} s")


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "a concurrent change conflicts with this request; try it again"
    default_code = "conflict"


def _flatten(detail) -> list[str]:
    if isinstance(detail, dict):
        return [m for value in detail.values() for m in _flatten(value)]
    if isinstance(detail, list):
        return [m for value in detail for m in _flatten(value)]
    return [str(detail)]


def _fields(detail) -> dict[str, list[str]]:
    if isinstance(detail, dict):
        return {str(field): _flatten(value) for field, value in detail.items()}
    return {NON_FIELD_ERRORS_KEY: _flatten(detail)}


def django_validation_error(
    exc: DjangoValidationError, *, fields: Mapping[str, str] | None = None
) -> exceptions.ValidationError:
    """A service's ValidationError as the API's: keyed by the service's arguments, each
    renamed by ``fields`` to the input field it comes from where the names differ."""
    return exceptions.ValidationError(
        {
            NON_FIELD_ERRORS_KEY if field == NON_FIELD_ERRORS else field: messages
            for field, messages in error_fields(exc, fields=fields).items()
        }
    )


def _invalid(message: str) -> exceptions.ValidationError:
    return exceptions.ValidationError({NON_FIELD_ERRORS_KEY: [message]})


def api_exception(exc: Exception) -> exceptions.APIException | None:
    """The API error for an exception DRF does not know, or None for a server error."""
    if isinstance(exc, exceptions.APIException):
        return exc
    if isinstance(exc, CheckTooSoon):
        return exceptions.Throttled(wait=exc.retry_after, detail=str(exc))
    if isinstance(exc, DjangoValidationError):
        return django_validation_error(exc)
    if isinstance(exc, Http404):
        return exceptions.NotFound()
    if isinstance(exc, DjangoPermissionDenied):  # a policy's refusal says why
        return exceptions.PermissionDenied(str(exc) or None)
    if isinstance(exc, RequestDataTooBig):
        return PayloadTooLarge()
    if isinstance(exc, SuspiciousOperation):  # e.g. too many fields, a bad Host header
        return _invalid("the request is malformed")
    if isinstance(exc, RecursionError):
        return _invalid("the request is nested too deeply")
    if isinstance(exc, UnicodeError):
        return _invalid("the request is not valid UTF-8")
    # The database refused what validation let through: a check is missing, and the
    # message (the database's own words) stays in the log.
    if isinstance(exc, IntegrityError):
        logger.warning("the database refused a write as conflicting: %s", exc)
        return Conflict()
    if isinstance(exc, DataError):
        logger.warning("the database refused a value: %s", exc)
        return _invalid("a value is too long, out of range or contains a NUL character")
    return None


def error_body(exc: exceptions.APIException) -> dict:
    if exc.status_code == status.HTTP_400_BAD_REQUEST:
        fields = _fields(exc.detail)
        messages = [m for ms in fields.values() for m in ms]
        return {
            "detail": messages[0] if len(messages) == 1 else "invalid input",
            "code": "invalid",
            "fields": fields,
        }
    detail = exc.detail
    return {
        "detail": " ".join(_flatten(detail)),
        "code": getattr(detail, "code", None) or exc.default_code,
    }


def json_error(exc: exceptions.APIException) -> JsonResponse:
    """The answer for an error raised outside a DRF view."""
    return JsonResponse(error_body(exc), status=exc.status_code)


def exception_handler(exc, context):
    api_exc = api_exception(exc)
    if api_exc is None:
        return None
    response = drf_exception_handler(api_exc, context)
    if response is not None:
        response.data = error_body(api_exc)
    return response
