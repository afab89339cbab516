from functools import wraps

from django.conf import settings
from django.http import HttpResponse, JsonResponse
from django.views import csrf, defaults
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from rest_framework import exceptions

from api.exceptions import api_exception, is_api_request, json_error
from serweb.clients import address_allowed, client_ip
from serweb.health import health_check
from serweb.metrics import metrics_page

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


def monitoring_client(view):
    """Health and metrics are for the monitoring's addresses (SERWEB_MONITORING_CLIENTS):
    they name the proxies and their errors."""

    @wraps(view)
    def guarded(request, *args, **kwargs):
        if not address_allowed(client_ip(request), settings.SERWEB_MONITORING_CLIENTS):
            return JsonResponse(
                {"detail": "this client may not ask", "code": "forbidden"}, status=403
            )
        return view(request, *args, **kwargs)

    return guarded


@require_GET
@never_cache
@monitoring_client
def health(request):
    """200 while this serweb can work (database, broker, cache), 503 when it cannot; each
    proxy's answer is listed, and a proxy down makes the status "degraded", not 503."""
    report = health_check()
    return JsonResponse(report.as_json(), status=200 if report.serving else 503)


@require_GET
@never_cache
@monitoring_client
def metrics(request):
    body, content_type = metrics_page()
    return HttpResponse(body, content_type=content_type)
