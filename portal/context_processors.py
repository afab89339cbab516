from django.utils.functional import SimpleLazyObject

from domains.selectors import actor_is_operator, actor_tenant
from domains.signup import signup_open


def navigation(request) -> dict:
    """Which parts of the navigation the signed-in person has (a query only when asked)."""
    user = getattr(request, "user", None)
    return {
        "is_operator": actor_is_operator(user),
        "is_tenant": SimpleLazyObject(lambda: actor_tenant(user) is not None),
        # Called by the template only where a page shows the sign-up link.
        "signup_open": signup_open,
    }
