from django.contrib import admin

from serweb.admin import ReadOnlyAdmin, ReadOnlyInline
from subscribers.models import Subscriber, UserAlias, ValidFrom


class ValidFromInline(ReadOnlyInline):
    model = ValidFrom
    fields = ["from_user", "created_at"]


@admin.register(Subscriber)
class SubscriberAdmin(ReadOnlyAdmin):
    # HA1 hashes and kept passwords are password equivalents: never shown.
    fields = ["username", "domain", "email", "enabled", "ha1_realm", "created_at", "updated_at"]
    list_display = ["username", "domain", "email", "enabled"]
    list_filter = ["enabled"]
    search_fields = ["username", "domain__did", "email"]
    list_select_related = ["domain"]
    inlines = [ValidFromInline]


@admin.register(UserAlias)
class UserAliasAdmin(ReadOnlyAdmin):
    list_display = ["username", "domain", "subscriber"]
    list_select_related = ["domain", "subscriber__domain"]
