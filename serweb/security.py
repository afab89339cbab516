from functools import wraps

from django.conf import settings


class ContentSecurityPolicyMiddleware:
    """Every page says where its scripts, styles and frames may come from
    (CONTENT_SECURITY_POLICY): serweb alone, no inline code."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        response.setdefault("Content-Security-Policy", settings.CONTENT_SECURITY_POLICY)
        return response


def inline_styles_allowed(view):
    """For a page serweb serves but did not write (the API's Swagger UI sets styles from its
    script): inline styles allowed, scripts still from serweb alone."""
    policy = settings.CONTENT_SECURITY_POLICY.replace(
        "style-src 'self'", "style-src 'self' 'unsafe-inline'"
    )

    @wraps(view)
    def with_policy(request, *args, **kwargs):
        response = view(request, *args, **kwargs)
        response["Content-Security-Policy"] = policy
        return response

    return with_policy
