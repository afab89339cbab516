from django.urls import path

from portal.access import operator_required, tenant_required
from portal.views import subscribers
from portal.views.home import home
from portal.views.operator import domain, domains, imports, proxies, tenants
from portal.views.operator.audit import audit_log
from portal.views.operator.dashboard import dashboard
from portal.views.tenant import claims, history, tokens
from portal.views.tenant import domains as my_domains
from portal.views.tenant.account import resend_confirmation

app_name = "portal"

DOMAIN = "domain/<str:did>/"

# The subscriber pages serve operators under subscribers/ and tenants, for their own
# domains, under my/subscribers/ (URL names with "my-" in front).
SUBSCRIBER_PAGES = [
    ("", subscribers.subscriber_list, "subscribers"),
    ("add/", subscribers.subscriber_add, "subscriber-add"),
    ("<int:pk>/", subscribers.subscriber_detail, "subscriber"),
    ("<int:pk>/password/", subscribers.subscriber_password, "subscriber-password"),
    ("<int:pk>/enabled/", subscribers.subscriber_enabled, "subscriber-enabled"),
    ("<int:pk>/valid-from/", subscribers.valid_from_add, "subscriber-valid-from-add"),
    (
        "<int:pk>/valid-from/remove/",
        subscribers.valid_from_remove,
        "subscriber-valid-from-remove",
    ),
    ("<int:pk>/aliases/", subscribers.alias_add, "subscriber-alias-add"),
    (
        "<int:pk>/aliases/<int:alias_pk>/remove/",
        subscribers.alias_remove,
        "subscriber-alias-remove",
    ),
    ("<int:pk>/delete/", subscribers.subscriber_delete, "subscriber-delete"),
    (
        "<int:pk>/registrations/",
        subscribers.subscriber_registrations,
        "subscriber-registrations",
    ),
]

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
    path(f"{DOMAIN}names/exempt/", domain.domain_name_exempt, name="domain-name-exempt"),
    path(f"{DOMAIN}names/restore/", domain.domain_name_restore, name="domain-name-restore"),
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
    path("tenants/<int:pk>/invite/", tenants.tenant_invite_again, name="tenant-invite"),
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
    path("audit/", audit_log, name="audit"),
    # A tenant's own pages.
    path("my/domains/", my_domains.domain_list, name="my-domains"),
    path("my/domains/<str:did>/", my_domains.domain_detail, name="my-domain"),
    path("my/domains/<str:did>/zone.txt", my_domains.domain_zone, name="my-domain-zone"),
    path("my/domains/<str:did>/check/", my_domains.domain_check, name="my-domain-check"),
    path("my/domains/<str:did>/status/", my_domains.domain_status, name="my-domain-status"),
    path("my/domains/<str:did>/proxies/", my_domains.domain_proxies, name="my-domain-proxies"),
    path(
        "my/domains/<str:did>/attributes/",
        my_domains.attribute_set,
        name="my-domain-attribute-set",
    ),
    path(
        "my/domains/<str:did>/attributes/<str:name>/remove/",
        my_domains.attribute_unset,
        name="my-domain-attribute-unset",
    ),
    path("my/domains/<str:did>/release/", my_domains.release, name="my-domain-release"),
    path("my/claims/add/", claims.claim_add, name="my-claim-add"),
    path("my/claims/<int:pk>/", claims.claim_detail, name="my-claim"),
    path("my/claims/<int:pk>/zone.txt", claims.claim_zone, name="my-claim-zone"),
    path("my/claims/<int:pk>/check/", claims.claim_check, name="my-claim-check"),
    path("my/claims/<int:pk>/status/", claims.claim_status, name="my-claim-status"),
    path("my/claims/<int:pk>/withdraw/", claims.claim_withdraw, name="my-claim-withdraw"),
    path("my/tokens/", tokens.token_list, name="my-tokens"),
    path("my/tokens/<int:pk>/revoke/", tokens.revoke, name="my-token-revoke"),
    path("my/history/", history.history, name="my-history"),
    path("my/confirm/again/", resend_confirmation, name="my-resend-confirmation"),
    *[
        path(f"subscribers/{route}", operator_required(view), name=name)
        for route, view, name in SUBSCRIBER_PAGES
    ],
    *[
        path(f"my/subscribers/{route}", tenant_required(view), name=f"my-{name}")
        for route, view, name in SUBSCRIBER_PAGES
    ],
]
