from django.urls import path

from portal.views.home import home
from portal.views.operator import imports
from portal.views.operator.dashboard import dashboard
from portal.views.tenant.account import resend_confirmation
from portal.views.tenant.domains import domain_list

app_name = "portal"

urlpatterns = [
    path("", home, name="home"),
    # Operators' pages.
    path("dashboard/", dashboard, name="dashboard"),
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
