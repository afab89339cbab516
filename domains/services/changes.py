"""What every write to a domain does besides its own change: the snapshot and the audit
entry, the domain's ``updated_at``, and the ``domains_changed`` signal for the proxies."""

from typing import Any

from django.utils import timezone

from audit.services import Actor, audit_record
from domains.models import Domain, Tenant
from domains.signals import domains_changed


def domain_snapshot(domain: Domain) -> dict[str, Any]:
    names = list(domain.names.order_by("-is_canonical", "name"))
    return {
        "did": domain.did,
        "state": domain.state,
        "enabled": domain.enabled,
        "origin": domain.origin,
        "tenant": domain.tenant.name if domain.tenant_id else None,
        "canonical": next((n.name for n in names if n.is_canonical), None),
        "names": [n.name for n in names],
        "attributes": {
            f"{a.name}[{a.source}]": a.value for a in domain.attributes.order_by("name", "source")
        },
    }


def domain_record(
    actor: Actor,
    action: str,
    domain: Domain,
    before: dict | None,
    after: dict | None,
    tenant: Tenant | None = None,
) -> None:
    audit_record(
        actor=actor,
        action=action,
        object_type="domain",
        object_repr=domain.did,
        domain=domain,
        tenant=tenant,
        before=before,
        after=after,
    )


def domain_touch(domain: Domain) -> None:
    domain.updated_at = timezone.now()
    domain.save(update_fields=["updated_at"])


def domain_changed(domain: Domain) -> None:
    domains_changed.send(sender=Domain, dids=[domain.did])


def domain_served_names_changed(domain: Domain) -> None:
    """What follows a change of which of its names the proxy serves, made by the DNS
    lifecycle of one name (domains.dns.names): the domain is touched and proxies reload."""
    domain_touch(domain)
    domain_changed(domain)
