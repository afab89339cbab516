from django.urls import path

from portal.views.home import home
from portal.views.operator import subscribers
from portal.views.operator.dashboard import dashboard
from portal.views.tenant.domains import domain_list

app_name = "portal"

urlpatterns = [
    path("", home, name="home"),
    # Operators' pages.
    path("dashboard/", dashboard, name="dashboard"),
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
    # A tenant's own pages.
    path("my/domains/", domain_list, name="tenant-domains"),
]
