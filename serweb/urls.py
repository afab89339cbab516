from django.contrib import admin
from django.urls import include, path

from serweb import views

urlpatterns = [
    path("", views.home, name="home"),
    path("admin/", admin.site.urls),
    path("api/v1/", include("api.urls")),
    path("", include("domains.urls")),
]

# API clients get JSON errors even for paths no view matches (serweb/views.py).
handler400 = "serweb.views.bad_request"
handler403 = "serweb.views.permission_denied"
handler404 = "serweb.views.page_not_found"
handler500 = "serweb.views.server_error"
