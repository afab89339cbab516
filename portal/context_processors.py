from django.utils.functional import SimpleLazyObject

from domains.selectors import actor_is_operator, actor_tenant
from domains.signup import signup_open
from domains.tenancy import Alerts, tenant_dns_alerts

NO_ALERTS = Alerts([], 0)


def navigation(request) -> dict:
    """Which parts of the navigation the signed-in person has, and on a tenant's pages the
    warnings of its suspect domains (each a query only when a page asks)."""
    user = getattr(request, "user", None)

    def alerts() -> Alerts:
        # Set by tenant_required: only a tenant's own pages carry the banner.
        tenant = getattr(request, "tenant", None)
        return tenant_dns_alerts(tenant) if tenant is not None else NO_ALERTS

    return {
        "is_operator": actor_is_operator(user),
        # A tenant's own pages know it already (tenant_required); others ask.
        "is_tenant": SimpleLazyObject(
            lambda: getattr(request, "tenant", None) is not None or actor_tenant(user) is not None
        ),
        "dns_alerts": SimpleLazyObject(alerts),
        # Called by the template only where a page shows the sign-up link.
        "signup_open": signup_open,
    }
