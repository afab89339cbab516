from django.contrib import admin

from proxies.models import Proxy
from serweb.admin import ReadOnlyAdmin


@admin.register(Proxy)
class ProxyAdmin(ReadOnlyAdmin):
    list_display = ["name", "transport", "address", "enabled", "applied_generation"]
