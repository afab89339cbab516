"""The admin is a read-only overview: every write goes through the services (validated,
audited, reloaded), which the admin's generic forms would bypass. Accounts (users and
groups) are Django's own and stay editable there.

Every change list takes from the query string only the lookups its own list filters make:
Django's default accepts a lookup on any field of the model, so ``?ha1__startswith=a``
would turn a list into an oracle that recovers a hash one character at a time.

The admin is for superusers, and has no sign-in of its own: it sends people to the
portal's, which asks for the second factor and counts failures; anybody else signed in
gets 404 there, as on any page that is not theirs."""

from allauth.account.models import EmailAddress
from allauth.mfa.models import Authenticator
from django.contrib import admin
from django.contrib.admin import SimpleListFilter
from django.contrib.admin.utils import get_fields_from_path
from django.contrib.auth import REDIRECT_FIELD_NAME, get_user_model
from django.contrib.auth.admin import GroupAdmin, UserAdmin
from django.contrib.auth.models import Group
from django.contrib.auth.views import redirect_to_login
from django.http import Http404
from django.urls import reverse

# The lookups Django's list filters and date hierarchy put in the query string.
FILTER_LOOKUPS = frozenset({"exact", "isnull", "gte", "lt", "isempty", "year", "month", "day"})


class FilterLookupsOnly:
    """A ModelAdmin that answers 400 (DisallowedModelAdminLookup) to any query-string
    lookup its list_filter or date_hierarchy does not make."""

    def lookup_allowed(self, lookup, value, request=None) -> bool:
        list_filter = self.get_list_filter(request) if request is not None else self.list_filter
        paths = {self.date_hierarchy} if self.date_hierarchy else set()
        for item in list_filter:
            if isinstance(item, type) and issubclass(item, SimpleListFilter):
                if lookup == item.parameter_name:
                    return True
            else:
                paths.add(item[0] if isinstance(item, list | tuple) else item)
        field_path, _, suffix = lookup.rpartition("__")
        if suffix not in FILTER_LOOKUPS:
            return False
        if field_path in paths:
            return True
        # A relation's filter names the related row by its key: ?tenant__id__exact=3.
        relation, _, target = field_path.rpartition("__")
        return relation in paths and target == self._target_field_name(relation)

    def _target_field_name(self, path: str) -> str | None:
        field = get_fields_from_path(self.model, path)[-1]
        target = getattr(field, "target_field", None)
        return target.name if target is not None else None


class ReadOnlyAdmin(FilterLookupsOnly, admin.ModelAdmin):
    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


class AccountAdmin(FilterLookupsOnly, UserAdmin):
    """Django's user admin, without lookups on the password hash or anything unlisted."""


class AccountGroupAdmin(FilterLookupsOnly, GroupAdmin):
    pass


class EmailAddressAdmin(ReadOnlyAdmin):
    list_display = ("email", "user", "primary", "verified")
    list_filter = ("primary", "verified")


class AuthenticatorAdmin(FilterLookupsOnly, admin.ModelAdmin):
    """Second factors: a superuser deletes one its owner lost (who then signs in with the
    password alone and may set up another). Its data, the TOTP secret and recovery codes,
    is never shown."""

    list_display = ("user", "type", "created_at", "last_used_at")
    list_filter = ("type",)
    fields = ("user", "type", "created_at", "last_used_at")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


def admin_has_permission(request) -> bool:
    return request.user.is_active and request.user.is_superuser


_admin_login = admin.site.login


def admin_login(request, extra_context=None):
    if not request.user.is_authenticated:
        return redirect_to_login(request.GET.get(REDIRECT_FIELD_NAME) or reverse("admin:index"))
    if not admin_has_permission(request):
        raise Http404
    return _admin_login(request, extra_context)


admin.site.unregister(get_user_model())
admin.site.register(get_user_model(), AccountAdmin)
admin.site.unregister(Group)
admin.site.register(Group, AccountGroupAdmin)
# allauth's own admins would list the second factors' secrets and take any lookup.
admin.site.unregister(EmailAddress)
admin.site.register(EmailAddress, EmailAddressAdmin)
admin.site.unregister(Authenticator)
admin.site.register(Authenticator, AuthenticatorAdmin)
admin.site.has_permission = admin_has_permission
admin.site.login = admin_login
