"""DNS housekeeping: re-verify a slice of the domains and move them through the lifecycle.

A run takes one slot of the domains (domains.dns.slots), so the beat schedule spreads
every domain once over the check interval. Canary domains go first: if
one does not verify, our resolver or host list is broken and the run stops. Positive
changes apply as they come; negative ones wait for the end of the run, and if more than a
small share of the slice would turn negative they are all held (circuit breaker).
"""

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from audit.services import audit_record
from domains.dns.attributes import import_dns_attributes
from domains.dns.client import Status
from domains.dns.lifecycle import Counters, decide
from domains.dns.observation import Observation, Outcome, confirm_with_authority, observe
from domains.dns.policy import DnsPolicy
from domains.dns.resolution import run_dns
from domains.dns.sip import ProxyIdentity, TargetCache, Verdict, check_sip_domain
from domains.dns.slots import (
    Row,
    breaker_threshold,
    checks_of,
    claim_slot,
    current_slot,
    save_checks,
    slot_names,
    slot_rows,
)
from domains.dns.verification import (
    COUNTER_FIELDS,
    OBSERVATION_FIELDS,
    apply_counters,
    domain_transition,
    record_observation,
)
from domains.models import Domain, DomainCheck, HousekeepingRun
from domains.services import Actor, domains_lock

logger = logging.getLogger(__name__)

ClientFactory = Callable[[], Any]


@dataclass
class Held:
    """A negative change waiting for the end of the run (and the circuit breaker)."""

    row: Row
    counters: Counters
    to_state: str | None
    needs_authority: bool
    observation: Observation | None


@dataclass
class Tally:
    checked: int = 0
    queries: int = 0
    verdicts: dict[str, int] = field(default_factory=dict)
    outcomes: dict[str, int] = field(default_factory=dict)
    transitions: dict[str, int] = field(default_factory=dict)
    # Domains without an answer for too many checks in a row: how many, and the first few.
    unknown_alert_count: int = 0
    unknown_alerts: list[str] = field(default_factory=list)
    attributes: dict[str, int] = field(default_factory=dict)

    def count(self, bucket: dict[str, int], key: str) -> None:
        bucket[key] = bucket.get(key, 0) + 1

    def as_summary(self) -> dict[str, Any]:
        return {
            "verdicts": self.verdicts,
            "outcomes": self.outcomes,
            "transitions": self.transitions,
            "unknown_alerts": self.unknown_alerts,
            "unknown_alert_count": self.unknown_alert_count,
            "attributes": self.attributes,
        }


async def _observe_chunk(
    rows: list[Row],
    *,
    client_factory: ClientFactory,
    targets: TargetCache,
    policy: DnsPolicy,
) -> list[Observation]:
    limit = asyncio.Semaphore(policy.concurrency)
    async with client_factory() as client:

        async def one(row: Row) -> Observation:
            async with limit:
                return await observe(
                    row.name, client=client, targets=targets, policy=policy, token=row.token
                )

        return list(await asyncio.gather(*(one(row) for row in rows)))


async def _check_canaries(
    policy: DnsPolicy, client_factory: ClientFactory, proxy: ProxyIdentity
) -> str:
    """Why the canaries say the run must stop; empty when they all point at us."""
    async with client_factory() as client:
        targets = TargetCache(proxy)
        checks = await asyncio.gather(
            *(check_sip_domain(n, client=client, targets=targets) for n in policy.canaries)
        )
    failed = [c for c in checks if c.verdict != Verdict.OURS]
    return "; ".join(f"canary {c.domain}: {c.verdict} ({c.reason})" for c in failed)


async def _proxy_identity(policy: DnsPolicy, client_factory: ClientFactory) -> ProxyIdentity:
    async with client_factory() as client:
        return await policy.proxy.with_hostname_addresses(client)


class Housekeeping:
    """One run; ``housekeeping_run`` is the way in."""

    def __init__(
        self,
        *,
        run: HousekeepingRun,
        policy: DnsPolicy,
        now: datetime,
        actor: Actor,
        client_factory: ClientFactory,
    ) -> None:
        self.run = run
        self.policy = policy
        self.now = now
        self.actor = actor
        self.client_factory = client_factory
        self.tally = Tally()
        self.held: list[Held] = []
        self.held_changes = 0
        self.threshold = 0
        self.proxy = policy.proxy

    def execute(self) -> HousekeepingRun:
        total = slot_names(self.run.slot, self.run.slots).count()
        self.threshold = breaker_threshold(total, self.policy)
        self.proxy = run_dns(_proxy_identity(self.policy, self.client_factory))
        if self.policy.canaries:
            failure = run_dns(_check_canaries(self.policy, self.client_factory, self.proxy))
            if failure:
                return self._finish(HousekeepingRun.Status.ABORTED, failure, alert=True)
        targets = TargetCache(self.proxy)
        for rows in slot_rows(self.run.slot, self.run.slots, self.policy.chunk_size):
            seen = run_dns(
                _observe_chunk(
                    rows, client_factory=self.client_factory, targets=targets, policy=self.policy
                )
            )
            self._record_chunk(rows, seen)
        if self.held_changes > self.threshold:
            message = (
                f"{self.held_changes} of {total} domains would have turned negative "
                f"(limit {self.threshold}): nothing was changed. Check the resolver, "
                "SERWEB_PROXY_HOSTNAMES and SERWEB_PROXY_ADDRESSES."
            )
            return self._finish(HousekeepingRun.Status.HELD, message, alert=True)
        self._apply_held()
        return self._finish(HousekeepingRun.Status.COMPLETED, "")

    def _record_chunk(self, rows: list[Row], seen: list[Observation]) -> None:
        # One transaction per chunk: a burst of changes costs one reload (domains_changed
        # coalesces per transaction), and observations, counters and states land together.
        # The domains are locked first, in id order, as by every writer of their checks
        # (domain_delete cascades to them): a deletion during the run waits or is waited
        # for, and what it deleted is skipped.
        with transaction.atomic():
            domains = domains_lock(row.domain_id for row in rows)
            checks = checks_of(list(domains))
            positive_moves: list[tuple[Domain, Observation, str | None]] = []
            for row, observation in zip(rows, seen, strict=True):
                domain = domains.get(row.domain_id)
                if domain is None or not checks[domain.pk].managed:
                    continue  # deleted, or left to the operator, during the run
                # The state as it is now, not as it was before the DNS work.
                row = replace(row, state=domain.state, state_changed_at=domain.state_changed_at)
                check = checks[domain.pk]
                outcome = observation.outcome(self.policy)
                self._count(row, observation, outcome, check)
                record_observation(check, observation, outcome, self.now)
                decision = decide(
                    state=row.state,
                    state_changed_at=row.state_changed_at,
                    counters=Counters.of(check),
                    outcome=outcome,
                    now=self.now,
                    policy=self.policy,
                )
                if outcome == Outcome.POSITIVE:
                    apply_counters(check, decision.counters)
                    published = observation.config and observation.config.status == Status.ANSWER
                    if decision.to_state or published:
                        positive_moves.append((domain, observation, decision.to_state))
                elif outcome == Outcome.NEGATIVE:
                    self._hold(row, decision.counters, decision, observation, check)
            save_checks(checks.values(), [*OBSERVATION_FIELDS, *COUNTER_FIELDS])
            for domain, observation, to_state in positive_moves:
                self._apply_positive(domain, observation, to_state)

    def _count(self, row: Row, observation: Observation, outcome: Outcome, check) -> None:
        tally = self.tally
        tally.checked += 1
        tally.queries += observation.queries
        tally.count(tally.verdicts, str(observation.sip.verdict))
        tally.count(tally.outcomes, str(outcome))
        if outcome == Outcome.UNKNOWN and check.unknowns + 1 >= self.policy.unknown_alert:
            tally.unknown_alert_count += 1
            if len(tally.unknown_alerts) < 50:
                tally.unknown_alerts.append(row.name)

    def _hold(self, row, counters, decision, observation, check) -> None:
        if counters == Counters.of(check) and not decision.to_state:
            return  # nothing would change (a negative inside the spacing interval)
        if decision.to_state:
            self.held_changes += 1
        # Past the breaker's limit only the count matters: keep memory flat.
        if self.held_changes > self.threshold:
            return
        keep = observation if decision.to_state else None
        self.held.append(Held(row, counters, decision.to_state, decision.needs_authority, keep))

    def _apply_positive(
        self, domain: Domain, observation: Observation, to_state: str | None
    ) -> None:
        if to_state is not None:
            self._move(domain, to_state, observation)
        if observation.config is not None and observation.config.status == Status.ANSWER:
            result = import_dns_attributes(
                actor=self.actor, domain=domain, config=observation.config
            )
            self.tally.count(self.tally.attributes, result.status)

    def _move(self, domain: Domain, to_state: str, observation: Observation) -> None:
        self.tally.count(self.tally.transitions, f"{domain.state}->{to_state}")
        domain_transition(
            actor=self.actor,
            domain=domain,
            to_state=to_state,
            verdict=str(observation.sip.verdict),
            reason=observation.reason,
            evidence=observation.to_evidence(),
            run=self.run,
            now=self.now,
        )

    def _apply_held(self) -> None:
        confirmations = self._confirm([h for h in self.held if h.needs_authority])
        size = self.policy.chunk_size
        for start in range(0, len(self.held), size):
            self._apply_held_batch(self.held[start : start + size], confirmations)

    def _apply_held_batch(self, batch: list[Held], confirmations: dict) -> None:
        # One transaction per batch: a burst of changes costs one reload (domains_changed
        # coalesces per transaction), and counters and states land together.
        # The domains first, in id order, then their checks: the order of every writer.
        with transaction.atomic():
            domains = domains_lock(held.row.domain_id for held in batch)
            checks = DomainCheck.objects.in_bulk(list(domains))
            for held in batch:
                domain = domains.get(held.row.domain_id)
                check = checks.get(held.row.domain_id)
                if domain is None or check is None or check.checked_at != self.now:
                    continue  # deleted, or checked again since (that check decided)
                apply_counters(check, held.counters)
                if held.to_state is None or held.observation is None:
                    continue
                if domain.state != held.row.state:
                    continue  # changed by someone else during the run
                observation = held.observation
                if held.needs_authority:
                    confirmed, authority = confirmations[held.row.domain_id]
                    observation = replace(observation, authority=authority)
                    if not confirmed:
                        self.tally.count(self.tally.transitions, "disable-not-confirmed")
                        continue
                self._move(domain, held.to_state, observation)
            save_checks(checks.values(), COUNTER_FIELDS)

    def _confirm(self, candidates: list[Held]) -> dict[int, tuple[bool, dict[str, Any]]]:
        if not candidates:
            return {}

        async def confirm_all() -> list[tuple[bool, dict[str, Any]]]:
            limit = asyncio.Semaphore(self.policy.concurrency)
            async with self.client_factory() as client:

                async def one(held: Held) -> tuple[bool, dict[str, Any]]:
                    async with limit:
                        return await confirm_with_authority(
                            held.row.name,
                            client=client,
                            proxy=self.proxy,
                            policy=self.policy,
                            token=held.row.token,
                        )

                return list(await asyncio.gather(*(one(h) for h in candidates)))

        results = run_dns(confirm_all())
        return {h.row.domain_id: r for h, r in zip(candidates, results, strict=True)}

    def _finish(self, status: str, message: str, *, alert: bool = False) -> HousekeepingRun:
        run = self.run
        run.status = status
        run.message = message
        run.finished_at = timezone.now()
        run.checked = self.tally.checked
        run.queries = self.tally.queries
        run.summary = {**self.tally.as_summary(), "held_changes": self.held_changes}
        run.save()
        if self.tally.unknown_alerts:
            logger.warning(
                "DNS housekeeping: %d domains without an answer for %d checks in a row: %s",
                self.tally.unknown_alert_count,
                self.policy.unknown_alert,
                ", ".join(self.tally.unknown_alerts[:10]),
            )
        if alert:
            logger.error("DNS housekeeping run %s %s: %s", run.pk, status, message)
            audit_record(
                actor=self.actor,
                action=f"housekeeping.{status}",
                object_type="housekeeping",
                object_repr=f"run {run.pk} slot {run.slot}/{run.slots}",
                after={"message": message, **run.summary},
            )
        return run


def housekeeping_run(
    *,
    actor: Actor = None,
    slot: int | None = None,
    slots: int | None = None,
    now: datetime | None = None,
    policy: DnsPolicy | None = None,
    client_factory: ClientFactory | None = None,
) -> HousekeepingRun | None:
    """Re-verify one slot of the domains (the current one by default; ``slots=1``: all).

    Returns None when the same slot is being run already.
    """
    policy = policy or DnsPolicy.from_settings()
    now = now or timezone.now()
    slots = slots or policy.slots
    slot = current_slot(now, policy) % slots if slot is None else slot
    if not 0 <= slot < slots:
        raise ValueError(f"slot {slot} is not between 0 and {slots - 1}")
    run = claim_slot(slot, slots, now)
    if run is None:
        return None
    job = Housekeeping(
        run=run,
        policy=policy,
        now=now,
        actor=actor,
        client_factory=client_factory or policy.client,
    )
    try:
        return job.execute()
    except BaseException:
        HousekeepingRun.objects.filter(pk=run.pk).update(
            status=HousekeepingRun.Status.ABORTED, finished_at=timezone.now(), message="crashed"
        )
        raise
