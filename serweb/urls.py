from django.contrib import admin
from django.urls import include, path

from portal.views.home import not_here
from portal.views.signup import sign_up
from serweb.views import health, metrics

urlpatterns = [
    path("", include("portal.urls")),
    # E-mail addresses are the tenant's, set by operators (`tenant add --email`), not
    # allauth's list of addresses per login.
    path("accounts/email/", not_here),
    # Sign-in, sign-out, passwords and the second factor (django-allauth, the portal's look).
    path("accounts/signup/", sign_up, name="account_signup"),
    path("accounts/", include("allauth.urls")),
    path("admin/", admin.site.urls),
    path("api/v1/", include("api.urls")),
    path("", include("domains.urls")),
    # For load balancers and monitoring, from SERWEB_MONITORING_CLIENTS only.
    path("health", health, name="health"),
    path("metrics", metrics, name="metrics"),
]

# API clients get JSON errors even for paths no view matches (serweb/views.py).
handler400 = "serweb.views.bad_request"
handler403 = "serweb.views.permission_denied"
handler404 = "serweb.views.page_not_found"
handler500 = "serweb.views.server_error"
