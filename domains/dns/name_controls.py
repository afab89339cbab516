"""The operators' decisions about one name of a domain: exempting it from DNS housekeeping
(served whatever DNS or the proxy addresses say) or putting it back, and restoring a
name housekeeping removed. Through the policies, audited, and a reload when whether the
proxy serves the name changes."""

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from audit.services import audit_record
from domains.dns.literals import literal_conclude
from domains.dns.policy import DnsPolicy
from domains.models import Domain, DomainName, NameCheck, NameState
from domains.names import NameKind, normalize_host
from domains.policies import name_housekeeping_check
from domains.services import Actor, domain_lock, domain_served_names_changed


def _name_of(domain: Domain, name: str) -> DomainName:
    try:
        host = normalize_host(name)
    except ValidationError as exc:
        raise ValidationError({"name": exc.messages}) from None
    found = domain.names.filter(name=host.value).first()
    if found is None:
        raise ValidationError({"name": f"{host.value} is not a name of domain {domain.did}"})
    return found


@transaction.atomic
def name_exempt_set(*, actor: Actor, domain: Domain, name: str, exempt: bool) -> NameCheck:
    """Exempt a name from DNS housekeeping (served whatever DNS says, or for an IP literal
    whatever the proxy addresses: a name kept for a legacy device), or put it back under
    housekeeping. An exempted name is active at once, its counters cleared; a host name
    put back is checked again by the next run, an IP literal at once (no DNS question)."""
    name_housekeeping_check(actor=actor, field="exempt")
    domain_lock(domain)
    host = _name_of(domain, name)
    check, _created = NameCheck.objects.get_or_create(name=host)
    if check.exempt == exempt:
        return check
    before = {"name": host.name, "exempt": check.exempt, "state": check.state}
    was_served = check.is_served
    check.exempt = exempt
    fields = ["exempt"]
    if exempt and check.state != NameState.ACTIVE:
        check.state = NameState.ACTIVE
        check.state_changed_at = timezone.now()
        fields += ["state", "state_changed_at"]
    if exempt:
        check.negatives, check.first_negative_at, check.last_negative_at = 0, None, None
        fields += ["negatives", "first_negative_at", "last_negative_at"]
    check.save(update_fields=fields)
    audit_record(
        actor=actor,
        action="domain.name_exempt" if exempt else "domain.name_managed",
        object_type="domain",
        object_repr=domain.did,
        domain=domain,
        before=before,
        after={"name": host.name, "exempt": exempt, "state": check.state},
    )
    if check.is_served != was_served:
        domain_served_names_changed(domain)
    if not exempt and host.kind != NameKind.HOSTNAME:
        policy = DnsPolicy.from_settings()
        literal_conclude(
            actor=actor, domain=domain, name=host, check=check, policy=policy, now=timezone.now()
        )
    return check


@transaction.atomic
def name_restore(*, actor: Actor, domain: Domain, name: str) -> NameCheck:
    """Bring a host name housekeeping removed back under housekeeping: disabled (not
    served) until DNS points it at us again, which the next check of the domain sees.
    (Housekeeping never removes an IP literal.)"""
    name_housekeeping_check(actor=actor, field="name")
    domain_lock(domain)
    host = _name_of(domain, name)
    check = NameCheck.objects.filter(name=host).first()
    state = check.state if check is not None else NameState.ACTIVE
    if check is None or state != NameState.REMOVED:
        raise ValidationError({"name": f"{host.name} is {state}, not removed"})
    _restore(actor, domain, host.name, check)
    return check


def names_restore_removed(*, actor: Actor, domain: Domain) -> list[str]:
    """Restore every host name of a domain (locked by the caller) that housekeeping
    removed, as a restore of the domain does; the names restored."""
    restored = []
    for check in NameCheck.objects.filter(
        name__domain=domain, state=NameState.REMOVED
    ).select_related("name"):
        _restore(actor, domain, check.name.name, check)
        restored.append(check.name.name)
    return restored


def _restore(actor: Actor, domain: Domain, name: str, check: NameCheck) -> None:
    check.state = NameState.DISABLED
    check.state_changed_at = timezone.now()
    check.negatives, check.first_negative_at, check.last_negative_at = 0, None, None
    check.save(
        update_fields=[
            "state",
            "state_changed_at",
            "negatives",
            "first_negative_at",
            "last_negative_at",
        ]
    )
    audit_record(
        actor=actor,
        action="domain.name_restore",
        object_type="domain",
        object_repr=domain.did,
        domain=domain,
        before={"name": name, "state": NameState.REMOVED},
        after={"name": name, "state": NameState.DISABLED},
    )
