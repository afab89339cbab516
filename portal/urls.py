from django.urls import path

from portal.views.home import home
from portal.views.operator.audit import audit_log
from portal.views.operator.dashboard import dashboard
from portal.views.tenant.domains import domain_list

app_name = "portal"

urlpatterns = [
    path("", home, name="home"),
    # Operators' pages.
    path("dashboard/", dashboard, name="dashboard"),
    path("audit/", audit_log, name="audit"),
    # A tenant's own pages.
    path("my/domains/", domain_list, name="tenant-domains"),
]
