from django.contrib import admin

from domains.models import Domain, DomainAttribute, DomainName, Tenant
from serweb.admin import ReadOnlyAdmin, ReadOnlyInline


class DomainNameInline(ReadOnlyInline):
    model = DomainName
    fields = ["name", "kind", "is_canonical", "created_at"]


class DomainAttributeInline(ReadOnlyInline):
    model = DomainAttribute
    fields = ["name", "type", "value", "source", "is_default", "updated_at"]


@admin.register(Domain)
class DomainAdmin(ReadOnlyAdmin):
    list_display = ["did", "state", "enabled", "origin", "tenant", "updated_at"]
    list_filter = ["state", "enabled", "origin"]
    search_fields = ["did", "names__name"]
    inlines = [DomainNameInline, DomainAttributeInline]


@admin.register(Tenant)
class TenantAdmin(ReadOnlyAdmin):
    list_display = ["name", "owner", "created_at"]
