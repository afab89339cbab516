from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from api import resources
from api import views as api_views
from domains import api as domains
from proxies import api as proxies
from serweb.security import inline_styles_allowed
from subscribers import api as subscribers

DOMAIN = "domains/<str:did>"
SUBSCRIBER = f"{DOMAIN}/subscribers/<str:username>"

urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # The page loads its start-up script from serweb (no inline script: serweb/security.py).
    path(
        "docs/",
        inline_styles_allowed(SpectacularSwaggerSplitView.as_view(url_name="api-schema")),
        name="api-docs",
    ),
    path("tokens/", api_views.TokenListCreate.as_view()),
    path("tokens/<int:pk>/", api_views.TokenDetail.as_view()),
    path("audit/", api_views.AuditList.as_view()),
    path("jobs/<int:pk>/", resources.JobDetail.as_view()),
    path("claims/", resources.ClaimListCreate.as_view()),
    path("claims/<int:pk>/", resources.ClaimDetail.as_view()),
    path("claims/<int:pk>/verify/", resources.ClaimVerify.as_view()),
    path("reload/", proxies.Reload.as_view()),
    path("lookup/", resources.Lookup.as_view()),
    path("proxy-status/", proxies.ProxyStatusList.as_view()),
    path("tenants/", domains.TenantListCreate.as_view()),
    path("tenants/<int:pk>/", domains.TenantDetail.as_view()),
    path("tenants/<int:pk>/invite/", domains.TenantInvite.as_view()),
    path("proxies/", proxies.ProxyListCreate.as_view()),
    path("proxies/<str:name>/", proxies.ProxyDetail.as_view()),
    path("domains/", domains.DomainListCreate.as_view()),
    path("domains-bulk/", domains.DomainBulkCreate.as_view()),
    path(f"{DOMAIN}/", domains.DomainDetail.as_view()),
    path(f"{DOMAIN}/verify/", resources.DomainVerify.as_view()),
    path(f"{DOMAIN}/dns/", resources.DomainDns.as_view()),
    path(f"{DOMAIN}/names/", domains.DomainNameListCreate.as_view()),
    path(f"{DOMAIN}/names/<str:name>/", domains.DomainNameDetail.as_view()),
    path(f"{DOMAIN}/names/<str:name>/canonical/", domains.DomainNameCanonical.as_view()),
    path(f"{DOMAIN}/names/<str:name>/restore/", domains.DomainNameRestore.as_view()),
    path(f"{DOMAIN}/attributes/", domains.DomainAttributeList.as_view()),
    path(f"{DOMAIN}/attributes/<str:name>/", domains.DomainAttributeDetail.as_view()),
    path(f"{DOMAIN}/subscribers/", subscribers.SubscriberListCreate.as_view()),
    path(f"{SUBSCRIBER}/", subscribers.SubscriberDetail.as_view()),
    path(f"{SUBSCRIBER}/valid-from/", subscribers.ValidFromListCreate.as_view()),
    path(f"{SUBSCRIBER}/valid-from/<str:from_user>/", subscribers.ValidFromDetail.as_view()),
    path(f"{DOMAIN}/aliases/", subscribers.UserAliasListCreate.as_view()),
    path(f"{DOMAIN}/aliases/<str:username>/", subscribers.UserAliasDetail.as_view()),
]
