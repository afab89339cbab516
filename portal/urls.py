from django.urls import path

from portal.views.home import home
from portal.views.operator import domain, domains, imports, proxies, subscribers, tenants
from portal.views.operator.audit import audit_log
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
    path("proxies/", proxies.proxy_list, name="proxies"),
    path("proxies/add/", proxies.proxy_add, name="proxy-add"),
    path("proxies/<int:pk>/edit/", proxies.proxy_edit, name="proxy-edit"),
    path("proxies/<int:pk>/delete/", proxies.proxy_delete, name="proxy-delete"),
    path("proxies/<int:pk>/reload/", proxies.proxy_reload, name="proxy-reload"),
    path("proxies/reloads/<int:job_id>/", proxies.proxy_reload_job, name="proxy-reload-job"),
    path("tenants/", tenants.tenant_list, name="tenants"),
    path("tenants/add/", tenants.tenant_add, name="tenant-add"),
    path("tenants/transfer/", tenants.domain_transfer, name="tenant-transfer"),
    path("tenants/<int:pk>/", tenants.tenant_detail, name="tenant"),
    path("tenants/<int:pk>/edit/", tenants.tenant_edit, name="tenant-edit"),
    path("tenants/<int:pk>/password/", tenants.tenant_password, name="tenant-password"),
    path("tenants/<int:pk>/disable/", tenants.tenant_disable, name="tenant-disable"),
    path("tenants/<int:pk>/enable/", tenants.tenant_enable, name="tenant-enable"),
    path("import/", imports.import_page, name="import"),
    path("import/<str:token>/", imports.import_preview, name="import-preview"),
    path("import/<str:token>/run/", imports.import_run, name="import-run"),
    path("import/<str:token>/discard/", imports.import_discard, name="import-discard"),
    path("imports/<int:job_id>/", imports.import_job, name="import-job"),
    path("imports/<int:job_id>/bad-rows.csv", imports.import_bad_rows, name="import-bad-rows"),
    path("export/domains.csv", imports.export_domains, name="export-domains"),
    path("export/subscribers.csv", imports.export_subscribers, name="export-subscribers"),
    path("subscribers/", subscribers.subscriber_list, name="subscribers"),
    path("subscribers/add/", subscribers.subscriber_add, name="subscriber-add"),
    path("subscribers/<int:pk>/", subscribers.subscriber_detail, name="subscriber"),
    path(
        "subscribers/<int:pk>/password/",
        subscribers.subscriber_password,
        name="subscriber-password",
    ),
    path(
        "subscribers/<int:pk>/enabled/", subscribers.subscriber_enabled, name="subscriber-enabled"
    ),
    path(
        "subscribers/<int:pk>/valid-from/",
        subscribers.valid_from_add,
        name="subscriber-valid-from-add",
    ),
    path(
        "subscribers/<int:pk>/valid-from/remove/",
        subscribers.valid_from_remove,
        name="subscriber-valid-from-remove",
    ),
    path("subscribers/<int:pk>/aliases/", subscribers.alias_add, name="subscriber-alias-add"),
    path(
        "subscribers/<int:pk>/aliases/<int:alias_pk>/remove/",
        subscribers.alias_remove,
        name="subscriber-alias-remove",
    ),
    path("subscribers/<int:pk>/delete/", subscribers.subscriber_delete, name="subscriber-delete"),
    path(
        "subscribers/<int:pk>/registrations/",
        subscribers.subscriber_registrations,
        name="subscriber-registrations",
    ),
    path("audit/", audit_log, name="audit"),
    # A tenant's own pages.
    path("my/domains/", domain_list, name="tenant-domains"),
    path("my/confirm/again/", resend_confirmation, name="tenant-resend-confirmation"),
]
