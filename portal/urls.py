from django.urls import path

from portal.views.home import home
from portal.views.operator.dashboard import dashboard
from portal.views.tenant.account import resend_confirmation
from portal.views.tenant.domains import domain_list

app_name = "portal"

urlpatterns = [
    path("", home, name="home"),
    # Operators' pages.
    path("dashboard/", dashboard, name="dashboard"),
    # A tenant's own pages.
    path("my/domains/", domain_list, name="tenant-domains"),
    path("my/confirm/again/", resend_confirmation, name="tenant-resend-confirmation"),
]
