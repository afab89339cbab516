from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from api.services import token_authenticate
from serweb.auth_throttle import TOKEN_FAILURES


def _throttled(wait: int) -> exceptions.Throttled:
    # DRF adds "Expected available in N seconds." and the Retry-After header.
    return exceptions.Throttled(
        wait=wait, detail="Too many failed token authentications from your address."
    )


class TokenAuthentication(authentication.BaseAuthentication):
    """``Authorization: Bearer <key>`` (or ``Token <key>``) with a serweb API token."""

    keywords = ("bearer", "token")

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].decode("latin-1").lower() not in self.keywords:
            return None
        # An address that guessed wrong too often is not even checked any more.
        wait = TOKEN_FAILURES.retry_after(request)
        if wait:
            raise _throttled(wait)
        if len(header) != 2:
            raise self._failed(request, "malformed Authorization header")
        try:
            key = header[1].decode("ascii")
        except UnicodeDecodeError:
            raise self._failed(request, "malformed token") from None
        token = token_authenticate(key)
        if token is None or not token.user.is_active:
            raise self._failed(request, "invalid or revoked token")
        return token.user, token

    def _failed(self, request, detail: str) -> exceptions.APIException:
        wait = TOKEN_FAILURES.spend(request)
        return _throttled(wait) if wait else exceptions.AuthenticationFailed(detail)

    def authenticate_header(self, request) -> str:
        return 'Bearer realm="serweb"'


class TokenAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "api.authentication.TokenAuthentication"
    name = "tokenAuth"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer"}
