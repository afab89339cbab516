from django.http import JsonResponse
from django.views import csrf, defaults
from rest_framework import exceptions

from api.exceptions import api_exception, is_api_request, json_error

# API clients get the API's JSON errors, whatever Django answers for them.


def bad_request(request, exception):
    if is_api_request(request):
        return json_error(api_exception(exception) or exceptions.ParseError())
    return defaults.bad_request(request, exception)


def permission_denied(request, exception):
    if is_api_request(request):
        return json_error(exceptions.PermissionDenied())
    return defaults.permission_denied(request, exception)


def csrf_failure(request, reason=""):
    if is_api_request(request):
        return json_error(exceptions.PermissionDenied(f"CSRF verification failed: {reason}"))
    return csrf.csrf_failure(request, reason)


def page_not_found(request, exception):
    if is_api_request(request):
        return json_error(exceptions.NotFound())
    return defaults.page_not_found(request, exception)


def server_error(request):
    if is_api_request(request):
        return JsonResponse({"detail": "Server error.", "code": "error"}, status=500)
    return defaults.server_error(request)
