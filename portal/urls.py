from django.urls import path

from portal.views.home import home
from portal.views.operator import imports, proxies, tenants
from portal.views.operator.dashboard import dashboard
from portal.views.tenant.account import resend_confirmation
from portal.views.tenant.domains import domain_list

app_name = "portal"

urlpatterns = [
    path("", home, name="home"),
    # Operators' pages.
    path("dashboard/", dashboard, name="dashboard"),
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
    # A tenant's own pages.
    path("my/domains/", domain_list, name="tenant-domains"),
    path("my/confirm/again/", resend_confirmation, name="tenant-resend-confirmation"),
]
