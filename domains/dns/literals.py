"""The IP literal names of a domain checked now against the configured proxy addresses
(SERWEB_PROXY_ADDRESSES), as "verify now" does and as a literal put back under
housekeeping is: no DNS question, so the answer is there at once. Housekeeping checks them
in its runs (domains.dns.housekeeping) by the same rules (domains.dns.lifecycle
.decide_literal): a literal that is no longer one of our addresses leaves the proxy's
relations like a disabled host name, and is served again as soon as it is ours again.
An exempt literal is served whatever the addresses."""

from datetime import datetime

from django.db import transaction

from domains.dns.lifecycle import decide_literal
from domains.dns.names import NameVerification, name_checks_of, name_observed
from domains.dns.observation import observe_literal
from domains.dns.policy import DnsPolicy
from domains.dns.slots import LITERAL_KINDS
from domains.models import Domain, DomainName, NameCheck
from domains.services import Actor, domain_lock


def literal_conclude(
    *,
    actor: Actor,
    domain: Domain,
    name: DomainName,
    check: NameCheck,
    policy: DnsPolicy,
    now: datetime,
) -> NameVerification:
    """Check one literal of a domain (locked by the caller) and apply what it calls for."""
    observation = observe_literal(name.name, policy.proxy)
    outcome = observation.outcome(policy)
    decision = decide_literal(state=check.state, outcome=outcome)
    return name_observed(
        actor=actor,
        domain=domain,
        name=name,
        check=check,
        observation=observation,
        outcome=outcome,
        decision=decision,
        now=now,
        policy=policy,
    )


@transaction.atomic
def literals_conclude(
    *, actor: Actor, domain: Domain, policy: DnsPolicy, now: datetime
) -> list[NameVerification]:
    """Check every IP literal of the domain that is not exempt now."""
    domain_lock(domain)
    checks = name_checks_of([domain.pk], kinds=LITERAL_KINDS)
    names = DomainName.objects.filter(pk__in=list(checks)).order_by("-is_canonical", "name")
    return [
        literal_conclude(
            actor=actor, domain=domain, name=name, check=checks[name.pk], policy=policy, now=now
        )
        for name in names
        if not checks[name.pk].exempt
    ]
