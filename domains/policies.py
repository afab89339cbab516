"""Who may do what: one answer for the API, the CLI and the pages.

Whether a domain is served (``enabled``), where it stands in the DNS lifecycle (``state``)
and who owns it (``tenant``) are the operators' to decide. DNS verification and
housekeeping move the state by their own rules, whoever asks for a check, never to a value
a request names. A tenant shapes its domains through their names, attributes and users;
it gets a domain, or another name for one, only by proving in DNS that it owns it.

The services check these themselves; an entry point may ask first, to refuse before it
reads the rest of a request. A refused action raises PermissionDenied (the API's 403), a
refused field a ValidationError on that field.
"""

from collections.abc import Iterable

from django.core.exceptions import PermissionDenied, ValidationError

from domains.models import DomainOrigin, Tenant
from domains.selectors import actor_is_operator, actor_tenant

# The fields of a domain a request may change, each with why only operators may.
DOMAIN_FIELDS_OPERATORS_CHANGE: dict[str, str] = {
    "enabled": "only operators decide whether a domain is served",
    "state": "only operators and DNS verification move a domain through its lifecycle",
    "tenant": "only operators give a domain to a tenant or take it away",
}
DOMAIN_FIELDS_TENANTS_CHANGE: frozenset[str] = frozenset()


def actor_acts_as_operator(actor) -> bool:
    """An operator, or no actor: the CLI and the tasks, both the operators' own."""
    return actor is None or actor_is_operator(actor)


def domain_fields_allowed(actor) -> frozenset[str]:
    if actor_acts_as_operator(actor):
        return frozenset(DOMAIN_FIELDS_OPERATORS_CHANGE)
    return DOMAIN_FIELDS_TENANTS_CHANGE


def domain_fields_check(*, actor, fields: Iterable[str]) -> None:
    """Refuse, each by name and before anything is written, the fields of a domain this
    actor may not change."""
    allowed = domain_fields_allowed(actor)
    refused = {
        field: DOMAIN_FIELDS_OPERATORS_CHANGE.get(field, f"a domain's {field} cannot be changed")
        for field in sorted(set(fields))
        if field not in allowed
    }
    if refused:
        raise ValidationError(refused)


def domain_create_check(*, actor, origin: str = DomainOrigin.OPERATOR) -> None:
    """A tenant's domain comes from its claim (origin ``tenant``), granted once DNS shows
    its token; it creates none directly."""
    if not actor_acts_as_operator(actor) and origin != DomainOrigin.TENANT:
        raise PermissionDenied(
            "tenants get domains through claims, proving in DNS that they own them"
        )


def domain_name_add_check(*, actor) -> None:
    """An operator vouches for a name it adds; a tenant proves each one in DNS (a claim)."""
    if not actor_acts_as_operator(actor):
        raise PermissionDenied("only operators add names without DNS verification")


def claim_tenant(actor) -> Tenant:
    """The tenant a claim by ``actor`` is for: only tenants claim, operators create."""
    tenant = actor_tenant(actor)
    if tenant is None:
        raise PermissionDenied("only tenants claim domains; operators create them")
    return tenant


def attributes_known_only(actor) -> bool:
    """Whether ``actor`` may set only the attributes serweb knows (tenants), or any but the
    reserved ones (operators)."""
    return not actor_acts_as_operator(actor)


def proxies_shown_to(actor) -> bool:
    """The proxies are the operators' infrastructure: their names are not a tenant's
    business (a tenant sees whether its change is live, not where)."""
    return actor_is_operator(actor)


# Exempting a host name from DNS housekeeping, or restoring one it removed, serves a name
# whatever DNS says about it: the operators' decision, as whether a domain is served.
NAME_HOUSEKEEPING_OPERATORS_ONLY = (
    "only operators exempt a name from DNS housekeeping or restore one it removed"
)


def name_housekeeping_check(*, actor, field: str) -> None:
    """Refuse, under ``field``, an exemption or a restore this actor may not make."""
    if actor is not None and not actor_is_operator(actor):
        raise ValidationError({field: NAME_HOUSEKEEPING_OPERATORS_ONLY})
