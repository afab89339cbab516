from django.contrib import admin

from audit.models import AuditEntry
from serweb.admin import ReadOnlyAdmin


@admin.register(AuditEntry)
class AuditEntryAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "actor_name", "channel", "action", "object_repr"]
    list_filter = ["channel", "object_type"]
    search_fields = ["object_repr", "did", "actor_name", "action"]
