"""The DNS lifecycle of each host name of a domain: the names a check looks at, their check
rows, a name's move through the lifecycle (audited, in the domain's DNS history, told to
the tenant, and a reload when whether the proxy serves it changes) and the verification
of a domain's names now. The operators' exemption and restore of a name are in
domains.dns.name_controls, IP literals in domains.dns.literals.

A name follows the lifecycle of DNS.md (domains.dns.lifecycle.decide_name): suspect on
the first negative, disabled after the negatives and grace periods with the authoritative
servers agreeing, removed after the second grace, active again as soon as it points at
us. A disabled or removed name leaves the proxy's ``domain`` relation; its domain and its
other names stay served. IP literals are no DNS names: theirs is shorter
(domains.dns.lifecycle.decide_literal) and moves them through ``name_transition`` too.
"""

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from audit.services import audit_record
from domains.dns.check_rows import check_save
from domains.dns.client import Client
from domains.dns.lifecycle import Counters, Decision, decide_name, unless_unconfirmed
from domains.dns.notices import name_transition_notify
from domains.dns.observation import Observation, Outcome, confirm_fresh
from domains.dns.policy import DnsPolicy
from domains.dns.resolution import run_dns
from domains.dns.sip import ProxyIdentity
from domains.models import (
    Domain,
    DomainName,
    DomainTransition,
    HousekeepingRun,
    NameCheck,
    NameState,
)
from domains.names import NameKind
from domains.services import Actor, domain_lock, domain_served_names_changed

logger = logging.getLogger(__name__)


def checked_host_names(domain: Domain) -> list[DomainName]:
    """The names of the domain a DNS check looks at, the canonical one first: its host
    names, but those exempt from housekeeping or removed by it (restoring a removed name
    is an operator's decision)."""
    names = (
        domain.names.filter(kind=NameKind.HOSTNAME)
        .exclude(dns_check__exempt=True)
        .exclude(dns_check__state=NameState.REMOVED)
        .order_by("-is_canonical", "name")
    )
    return list(names)


def name_checks_of(
    domain_ids: Iterable[int],
    *,
    defer: Sequence[str] = (),
    kinds: Sequence[str] = (NameKind.HOSTNAME,),
) -> dict[int, NameCheck]:
    """The check rows of these (locked) domains' names of ``kinds`` (host names), by name
    id, created where missing, without the fields in ``defer``. Names deleted meanwhile
    have none."""
    ids = list(domain_ids)
    names = list(
        DomainName.objects.filter(domain_id__in=ids, kind__in=kinds).values_list("pk", flat=True)
    )
    rows = NameCheck.objects.filter(name__domain_id__in=ids, name__kind__in=kinds).defer(*defer)
    checks = {check.pk: check for check in rows}
    missing = [NameCheck(name_id=pk) for pk in names if pk not in checks]
    NameCheck.objects.bulk_create(missing)
    checks.update((check.pk, check) for check in missing)
    return checks


@transaction.atomic
def name_transition(
    *,
    actor: Actor,
    domain: Domain,
    check: NameCheck,
    name: str,
    canonical: bool,
    to_state: str,
    verdict: str,
    reason: str,
    evidence: dict[str, Any],
    run: HousekeepingRun | None = None,
    now: datetime | None = None,
    pointing: Sequence[str] = (),
    token: str | None = None,
    policy: DnsPolicy | None = None,
) -> DomainTransition:
    """Move one name of a domain (locked by the caller) through the lifecycle, keeping the
    evidence in the domain's DNS history and an entry in its audit trail, which the
    domain's tenant reads. The canonical name going negative while other names of the
    domain point at us (``pointing``, as the same check saw them) says so, and that the
    domain stays served under them: its did does not change. The tenant hears of a host
    name's move as notices.name_transition_notify decides (``token``: the owner's, for the
    records expected at the canonical name)."""
    when = now or timezone.now()
    from_state = check.state
    was_served = check.is_served
    check.state = to_state
    check.state_changed_at = when
    check.save(update_fields=["state", "state_changed_at"])
    note = ""
    others = [other for other in pointing if other != name]
    if canonical and to_state != NameState.ACTIVE and others:
        note = (
            f"the canonical name {name} does not point at us ({verdict}): {domain.did} "
            f"stays served under {', '.join(others)}"
        )
        logger.warning("DNS: %s", note)
    transition = DomainTransition.objects.create(
        domain=domain,
        name=name,
        from_state=from_state,
        to_state=to_state,
        verdict=verdict,
        reason=(f"{reason}; {note}" if note else reason)[:255],
        evidence=evidence,
        run=run,
        created_at=when,
    )
    after: dict[str, Any] = {"name": name, "state": to_state, "verdict": verdict, "reason": reason}
    if note:
        after["note"] = note
    audit_record(
        actor=actor,
        action=f"domain.name_{to_state}",
        object_type="domain",
        object_repr=domain.did,
        domain=domain,
        before={"name": name, "state": from_state},
        after=after,
    )
    name_transition_notify(
        domain=domain,
        name=name,
        from_state=from_state,
        to_state=to_state,
        evidence=evidence,
        token=token if canonical else None,
        policy=policy or DnsPolicy.from_settings(),
        now=when,
        served_under=others,
    )
    if check.is_served != was_served:
        domain_served_names_changed(domain)
    return transition


# --- verifying a domain's names now -------------------------------------------------------


@dataclass(frozen=True)
class NameVerification:
    """What one check did to one host name, for commands, pages and the API."""

    name: str
    canonical: bool
    observation: Observation
    outcome: Outcome
    from_state: str
    to_state: str
    note: str = ""


def names_conclude(
    *,
    actor: Actor,
    domain: Domain,
    seen: list[tuple[DomainName, Observation]],
    proxy: ProxyIdentity,
    now: datetime,
    policy: DnsPolicy,
    token: str | None = None,
    client: Client | None = None,
) -> list[NameVerification]:
    """Record the observation of each host name and apply the transition it calls for;
    ``token``: the owner's, looked for at the canonical name."""
    known = NameCheck.objects.in_bulk([name.pk for name, _seen in seen])
    # A first look without a lock, to know which names' authoritative servers must be
    # asked: no DNS question is asked under a lock.
    confirmed: dict[str, tuple[bool, dict[str, Any]]] = {}
    for name, observation in seen:
        check = known.get(name.pk) or NameCheck()
        first = name_decision(domain, check, observation.outcome(policy), now, policy)
        if first.needs_authority:
            confirmed[name.name] = run_dns(
                confirm_fresh(
                    name.name,
                    policy=policy,
                    proxy=proxy,
                    token=token if name.is_canonical else None,
                    client=client,
                )
            )
    pointing = [n.name for n, o in seen if o.outcome(policy) == Outcome.POSITIVE]
    results = []
    with transaction.atomic():
        domain_lock(domain)  # the domain first, then its names' checks
        checks = name_checks_of([domain.pk])
        for name, observation in seen:
            check = checks.get(name.pk)
            if check is None or check.exempt or check.state == NameState.REMOVED:
                continue  # deleted, exempted or removed meanwhile
            outcome = observation.outcome(policy)
            decision = name_decision(domain, check, outcome, now, policy)
            if decision.needs_authority:
                agreed, authority = confirmed.get(name.name, (None, None))
                if authority is not None:
                    observation = replace(observation, authority=authority)
                decision = unless_unconfirmed(decision, agreed, "name")
            results.append(
                name_observed(
                    actor=actor,
                    domain=domain,
                    name=name,
                    check=check,
                    observation=observation,
                    outcome=outcome,
                    decision=decision,
                    now=now,
                    policy=policy,
                    pointing=pointing,
                    token=token,
                )
            )
    return results


def name_observed(
    *,
    actor: Actor,
    domain: Domain,
    name: DomainName,
    check: NameCheck,
    observation: Observation,
    outcome: Outcome,
    decision: Decision,
    now: datetime,
    policy: DnsPolicy,
    pointing: Sequence[str] = (),
    token: str | None = None,
) -> NameVerification:
    """Record one name's observation on its check row (the domain locked by the caller),
    move the name where ``decision`` says, and what that did, for host names and IP
    literals alike."""
    from_state = check.state
    check_save(check, observation, outcome, now, decision.counters)
    if decision.to_state and decision.to_state != from_state:
        name_transition(
            actor=actor,
            domain=domain,
            check=check,
            name=name.name,
            canonical=name.is_canonical,
            to_state=decision.to_state,
            verdict=str(observation.sip.verdict),
            reason=observation.reason,
            evidence=observation.to_evidence(),
            now=now,
            pointing=pointing,
            token=token,
            policy=policy,
        )
    return NameVerification(
        name=name.name,
        canonical=name.is_canonical,
        observation=observation,
        outcome=outcome,
        from_state=from_state,
        to_state=check.state,
        note=decision.note,
    )


def name_decision(
    domain: Domain, check: NameCheck, outcome: Outcome, now: datetime, policy: DnsPolicy
) -> Decision:
    """What ``outcome`` does to a host name of ``domain``, by its check row's state and
    counters (domains.dns.lifecycle.decide_name)."""
    return decide_name(
        domain_state=domain.state,
        state=check.state,
        state_changed_at=check.state_changed_at,
        counters=Counters.of(check),
        outcome=outcome,
        now=now,
        policy=policy,
    )
