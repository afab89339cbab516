"""Which names serweb may be asked to serve from DNS: not IP literals, not reserved
suffixes, not names under another tenant's domain; and the refusal that does not tell
who holds a name."""

from django.core.exceptions import ValidationError

from domains.dns.policy import DnsPolicy
from domains.models import DomainName, Tenant
from domains.names import HostName, normalize_host


def reserved_suffix(name: str, policy: DnsPolicy) -> str | None:
    """The reserved suffix ``name`` falls under, matched on whole labels."""
    for suffix in policy.reserved_suffixes:
        if name == suffix or name.endswith("." + suffix):
            return suffix
    return None


def _parent_names(name: str) -> list[str]:
    labels = name.split(".")
    return [".".join(labels[i:]) for i in range(1, len(labels) - 1)]


def not_available(name: str) -> str:
    """The refusal a tenant gets for a name someone else holds or may hold: it does not
    tell who holds what."""
    return f"{name} is not available; ask the operator"


def claimable_host(raw: str, *, tenant: Tenant | None, policy: DnsPolicy) -> HostName:
    """A name a tenant (or DNS auto-learning, ``tenant=None``) may ask serweb to serve.

    Refused: IP literals, reserved suffixes, and names under a domain of another tenant
    (under any tenant's domain when learnt from DNS, and the refusal says so to the
    operator; a tenant is told only that the name is not available).
    """
    host = normalize_host(raw)
    if host.is_ip:
        raise ValidationError(f"{host.value}: an IP address cannot be verified in DNS")
    suffix = reserved_suffix(host.value, policy)
    if suffix is not None:
        raise ValidationError(f"{host.value}: names under .{suffix} are never served")
    parents = DomainName.objects.filter(name__in=_parent_names(host.value)).select_related(
        "domain__tenant"
    )
    for parent in parents:
        owner = parent.domain.tenant
        if owner is not None and tenant is None:
            raise ValidationError(
                f"{host.value} is under {parent.name}, a domain of another tenant; "
                "only its owner can add names under it"
            )
        if owner is not None and owner.pk != tenant.pk:
            raise ValidationError(not_available(host.value))
    return host
