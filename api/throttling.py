from rest_framework.throttling import SimpleRateThrottle

from api.models import ApiToken


class PerTokenRateThrottle(SimpleRateThrottle):
    """One budget per API token (per user for browser sessions, per address otherwise)."""

    scope = "token"

    def get_cache_key(self, request, view):
        if isinstance(request.auth, ApiToken):
            ident = f"token-{request.auth.prefix}"
        elif request.user and request.user.is_authenticated:
            ident = f"user-{request.user.pk}"
        else:
            ident = f"addr-{self.get_ident(request)}"
        return self.cache_format % {"scope": self.scope, "ident": ident}
