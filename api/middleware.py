from django.conf import settings
from django.http import HttpResponsePermanentRedirect, JsonResponse
from django.urls import is_valid_path
from rest_framework import exceptions

from api.exceptions import PayloadTooLarge, error_body, is_api_request, json_error

# Headers an error answer must keep when it is rewritten as JSON.
KEPT_HEADERS = ("Allow", "Retry-After", "WWW-Authenticate")


# The code of an error answer that did not come with one.
STATUS_CODES = {
    400: "invalid",
    401: "not_authenticated",
    403: "permission_denied",
    404: "not_found",
    405: "method_not_allowed",
    413: "too_large",
}


class ApiErrorMiddleware:
    """Under /api/, a body over DATA_UPLOAD_MAX_MEMORY_SIZE is refused before anything reads
    it, and an error answer that is not the API's JSON (Django's CSRF, 400 or 405 page, an
    error rendered as YAML by the schema view) is rewritten as JSON. An address missing its
    final slash is sent on with 308, which keeps the method and the body (Django's own
    301 turns a POST into a GET, and refuses one outright with DEBUG on)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if not is_api_request(request):
            return self.get_response(request)
        if _body_too_large(request):
            return json_error(PayloadTooLarge())
        if slashed := _with_final_slash(request):
            return PermanentRedirect(slashed)
        response = self.get_response(request)
        if response.status_code < 400 or _is_json(response):
            return response
        return _as_json(response)


class PermanentRedirect(HttpResponsePermanentRedirect):
    status_code = 308


def _with_final_slash(request) -> str | None:
    """The address with its final slash, when only that one leads somewhere."""
    path = request.path_info
    urlconf = getattr(request, "urlconf", None)
    if path.endswith("/") or is_valid_path(path, urlconf) or not is_valid_path(path + "/", urlconf):
        return None
    query = request.META.get("QUERY_STRING", "")
    return request.path + "/" + (f"?{query}" if query else "")


def _body_too_large(request) -> bool:
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return False  # Django reads such a body as empty
    return limit is not None and length > limit


def _is_json(response) -> bool:
    return response.get("Content-Type", "").startswith("application/json")


def _as_json(response) -> JsonResponse:
    data = getattr(response, "data", None)
    if isinstance(data, dict) and "detail" in data and "code" in data:
        # A DRF answer in the API's shape that a renderer took for something else.
        body = {key: data[key] for key in ("detail", "code", "fields") if key in data}
    else:
        exc = exceptions.APIException(
            response.reason_phrase, STATUS_CODES.get(response.status_code, "error")
        )
        exc.status_code = response.status_code
        body = error_body(exc)
    rewritten = JsonResponse(body, status=response.status_code)
    for header in KEPT_HEADERS:
        if header in response:
            rewritten[header] = response[header]
    return rewritten
