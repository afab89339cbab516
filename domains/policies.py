"""Who may change what: one answer for the API, the CLI and the pages.

Whether a domain is served (``enabled``), where it stands in the DNS lifecycle (``state``)
and who owns it (``tenant``) are the operators' to decide. DNS verification and
housekeeping move the state by their own rules, whoever asks for a check, never to a value
a request names. A tenant shapes its domains through their names, attributes and users.
"""

from collections.abc import Iterable

from django.core.exceptions import ValidationError

from domains.selectors import actor_is_operator

# The fields of a domain a request may change, each with why only operators may.
DOMAIN_FIELDS_OPERATORS_CHANGE: dict[str, str] = {
    "enabled": "only operators decide whether a domain is served",
    "state": "only operators and DNS verification move a domain through its lifecycle",
    "tenant": "only operators give a domain to a tenant or take it away",
}
DOMAIN_FIELDS_TENANTS_CHANGE: frozenset[str] = frozenset()


def domain_fields_allowed(actor) -> frozenset[str]:
    # No actor: the CLI or a task, both the operators' own.
    if actor is None or actor_is_operator(actor):
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


# Exempting a host name from DNS housekeeping, or restoring one it removed, serves a name
# whatever DNS says about it: the operators' decision, as whether a domain is served.
NAME_HOUSEKEEPING_OPERATORS_ONLY = (
    "only operators exempt a name from DNS housekeeping or restore one it removed"
)


def name_housekeeping_check(*, actor, field: str) -> None:
    """Refuse, under ``field``, an exemption or a restore this actor may not make."""
    if actor is not None and not actor_is_operator(actor):
        raise ValidationError({field: NAME_HOUSEKEEPING_OPERATORS_ONLY})
