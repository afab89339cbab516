from django.urls import path

from portal.views.home import home
from portal.views.operator import domain, domains
from portal.views.operator.dashboard import dashboard
from portal.views.tenant.account import resend_confirmation
from portal.views.tenant.domains import domain_list

app_name = "portal"

DOMAIN = "domain/<str:did>/"

urlpatterns = [
    path("", home, name="home"),
    # Operators' pages.
    path("dashboard/", dashboard, name="dashboard"),
    path("domains/", domains.domain_list, name="domains"),
    path("domains/new/", domains.domain_create, name="domain-create"),
    path(DOMAIN, domain.domain_detail, name="domain"),
    path(f"{DOMAIN}enable/", domain.domain_switch, {"enabled": True}, name="domain-enable"),
    path(f"{DOMAIN}disable/", domain.domain_switch, {"enabled": False}, name="domain-disable"),
    path(f"{DOMAIN}names/", domain.domain_name_add, name="domain-name-add"),
    path(f"{DOMAIN}names/canonical/", domain.domain_name_canonical, name="domain-name-canonical"),
    path(f"{DOMAIN}names/remove/", domain.domain_name_remove, name="domain-name-remove"),
    path(f"{DOMAIN}attributes/", domain.domain_attribute_set, name="domain-attribute-set"),
    path(
        f"{DOMAIN}attributes/unset/", domain.domain_attribute_unset, name="domain-attribute-unset"
    ),
    path(f"{DOMAIN}tenant/", domain.domain_tenant, name="domain-tenant"),
    path(f"{DOMAIN}verify/", domain.domain_verify, name="domain-verify"),
    path(f"{DOMAIN}jobs/<int:job>/", domain.domain_job, name="domain-job"),
    path(f"{DOMAIN}delete/", domain.domain_delete, name="domain-delete"),
    # A tenant's own pages.
    path("my/domains/", domain_list, name="tenant-domains"),
    path("my/confirm/again/", resend_confirmation, name="tenant-resend-confirmation"),
]
