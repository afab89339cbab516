from rest_framework.permissions import BasePermission

from domains.selectors import actor_is_operator, actor_tenant


class IsOperator(BasePermission):
    message = "only operators may do this"

    def has_permission(self, request, view) -> bool:
        return actor_is_operator(request.user)


class IsOperatorOrTenant(BasePermission):
    """Operators, and users who own a tenant; objects are then scoped by the selectors."""

    message = "this account is neither an operator nor a tenant"

    def has_permission(self, request, view) -> bool:
        return actor_is_operator(request.user) or actor_tenant(request.user) is not None
