from django.urls import path

from domains.dns.lookup import lookup_view

urlpatterns = [
    # The proxy's "is this host ours?" (kamailio.cfg calls it through http_client).
    path("proxy/lookup", lookup_view, name="proxy-lookup"),
]
