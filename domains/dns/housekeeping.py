"""DNS housekeeping: re-verify every host name of a slice of the domains and move each name,
and each domain, through the lifecycle.

A run takes one slot of the domains (domains.dns.slots), so the beat schedule spreads
every domain once over the check interval. Canary domains go first: if one does not
verify, our resolver or host list is broken and the run stops. Each host name (the
canonical one and every alias) is checked with the same RFC 3263 procedure, the targets
resolved once for the whole run; it moves through its own lifecycle (domains.dns.names),
and its domain through the domain's, by the best of its names
(domains.dns.lifecycle.deciding_observation). Each IP literal is checked against the
configured proxy addresses, without a DNS question, and has a lifecycle of its own
(decide_literal) that leaves the domain's alone. Positive changes apply as they come;
negative ones wait for the end of the run, and if more names than a small share of the
slice's would turn negative they are all held (circuit breaker).
"""

import logging
from dataclasses import replace
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from audit.services import audit_record
from domains.dns.attributes import import_dns_attributes
from domains.dns.check_rows import (
    COUNTER_FIELDS,
    OBSERVATION_FIELDS,
    apply_counters,
    record_observation,
)
from domains.dns.client import Status
from domains.dns.lifecycle import (
    Counters,
    decide,
    decide_literal,
    deciding_observation,
)
from domains.dns.names import name_checks_of, name_decision, name_transition
from domains.dns.notices import disable_warning, warning_after
from domains.dns.observation import Observation, Outcome, observe_literal
from domains.dns.policy import DnsPolicy
from domains.dns.resolution import run_dns
from domains.dns.sip import TargetCache
from domains.dns.slots import (
    LITERAL_KINDS,
    NOT_READ,
    Held,
    Row,
    Tally,
    breaker_threshold,
    by_domain,
    checks_of,
    claim_slot,
    current_slot,
    save_checks,
    slot_names,
    slot_rows,
    still_checked,
)
from domains.dns.sweep import (
    ClientFactory,
    check_canaries,
    confirm_names,
    observe_chunk,
    proxy_identity,
)
from domains.dns.verification import domain_transition
from domains.models import Domain, DomainCheck, HousekeepingRun, NameCheck, NameState
from domains.services import Actor, domains_lock

logger = logging.getLogger(__name__)


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
        # IP literals are ours by the configured addresses alone (observe_literal).
        self.literal_proxy = policy.proxy

    def execute(self) -> HousekeepingRun:
        slot, slots = self.run.slot, self.run.slots
        total = slot_names(slot, slots).count() + slot_names(slot, slots, literals=True).count()
        self.threshold = breaker_threshold(total, self.policy)
        self.proxy = run_dns(proxy_identity(self.policy, self.client_factory))
        if self.policy.canaries:
            failure = run_dns(check_canaries(self.policy, self.client_factory, self.proxy))
            if failure:
                return self._finish(HousekeepingRun.Status.ABORTED, failure, alert=True)
        targets = TargetCache(self.proxy)
        for rows in slot_rows(self.run.slot, self.run.slots, self.policy.chunk_size):
            seen = run_dns(
                observe_chunk(
                    rows, client_factory=self.client_factory, targets=targets, policy=self.policy
                )
            )
            self._record_chunk(rows, seen)
        for rows in slot_rows(slot, slots, self.policy.chunk_size, literals=True):
            self._record_literals(rows)
        if self.held_changes > self.threshold:
            message = (
                f"{self.held_changes} of {total} names would have turned negative "
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
        # and names (domain_delete and domain_name_remove cascade to them): a deletion
        # during the run waits or is waited for, and what it deleted is skipped.
        with transaction.atomic():
            domains = domains_lock(row.domain_id for row in rows)
            checks = checks_of(list(domains))
            name_checks = name_checks_of(domains, defer=NOT_READ)
            moves: list[tuple[Domain, Observation, str | None]] = []
            name_moves: list[tuple[Domain, Row, NameCheck, Observation]] = []
            touched: list[NameCheck] = []
            recorded: list[DomainCheck] = []
            for domain_id, pairs in by_domain(rows, seen):
                domain = domains.get(domain_id)
                if domain is None or not checks[domain.pk].managed:
                    continue  # deleted, or left to the operator, during the run
                # Names deleted, exempted or removed during the run are left out.
                pairs = [
                    (row, observation)
                    for row, observation in pairs
                    if row.name_id in name_checks and still_checked(name_checks[row.name_id])
                ]
                if not pairs:
                    continue
                held_before = self.held_changes
                pointing = tuple(
                    row.name for row, seen in pairs if seen.outcome(self.policy) == Outcome.POSITIVE
                )
                for row, observation in pairs:
                    check = name_checks[row.name_id]
                    touched.append(check)
                    if self._record_name(domain, row, observation, check, pointing):
                        name_moves.append((domain, row, check, observation))
                recorded.append(checks[domain.pk])
                move = self._record_domain(domain, pairs, checks[domain.pk], held_before)
                if move is not None:
                    moves.append(move)
            # Only the rows recorded: the others' evidence was not read.
            save_checks(recorded, [*OBSERVATION_FIELDS, *COUNTER_FIELDS, "warned_at"])
            save_checks(touched, [*OBSERVATION_FIELDS, *COUNTER_FIELDS], model=NameCheck)
            for domain, row, check, observation in name_moves:
                self._move_name(domain, row, check, NameState.ACTIVE, observation)
            for domain, observation, to_state in moves:
                self._apply_positive(domain, observation, to_state)

    def _record_literals(self, rows: list[Row]) -> None:
        """The IP literals of a chunk against the configured proxy addresses (no DNS
        question): one that is ours again is active at once; one no longer ours waits,
        like every negative change, for the end of the run and the circuit breaker."""
        with transaction.atomic():
            domains = domains_lock(row.domain_id for row in rows)
            checks = name_checks_of(domains, defer=NOT_READ, kinds=LITERAL_KINDS)
            unmanaged = set(
                DomainCheck.objects.filter(domain_id__in=list(domains), managed=False).values_list(
                    "domain_id", flat=True
                )
            )
            touched: list[NameCheck] = []
            back: list[tuple[Domain, Row, NameCheck, Observation]] = []
            for row in rows:
                domain, check = domains.get(row.domain_id), checks.get(row.name_id)
                if domain is None or check is None or check.exempt or domain.pk in unmanaged:
                    continue  # deleted, exempted or left to the operator during the run
                observation = observe_literal(row.name, self.literal_proxy)
                outcome = observation.outcome(self.policy)
                self.tally.count_name(observation, outcome)
                record_observation(check, observation, outcome, self.now)
                touched.append(check)
                decision = decide_literal(state=check.state, outcome=outcome)
                if decision.to_state == NameState.ACTIVE:
                    back.append((domain, row, check, observation))
                elif decision.to_state is not None:
                    self._hold(row, decision, observation, check, name_id=row.name_id)
            save_checks(touched, list(OBSERVATION_FIELDS), model=NameCheck)
            for domain, row, check, observation in back:
                self._move_name(domain, row, check, NameState.ACTIVE, observation)

    def _record_name(
        self, domain: Domain, row: Row, observation: Observation, check, pointing: tuple
    ) -> bool:
        """One host name's observation and lifecycle; whether it moves back to active."""
        outcome = observation.outcome(self.policy)
        self.tally.count_name(observation, outcome)
        record_observation(check, observation, outcome, self.now)
        decision = name_decision(domain, check, outcome, self.now, self.policy)
        if outcome == Outcome.POSITIVE:
            apply_counters(check, decision.counters)
            return decision.to_state is not None
        if outcome == Outcome.NEGATIVE:
            self._hold(row, decision, observation, check, name_id=row.name_id, pointing=pointing)
        return False

    def _record_domain(
        self, domain: Domain, pairs: list[tuple[Row, Observation]], check, held_before: int
    ) -> tuple[Domain, Observation, str | None] | None:
        """The domain's own lifecycle, by the best of its names' observations (the
        canonical name's first); a positive move to apply, if any."""
        self.tally.domains += 1
        pairs = sorted(pairs, key=lambda pair: not pair[0].canonical)
        observation = deciding_observation([seen for _row, seen in pairs], self.policy)
        row = next(row for row, seen in pairs if seen is observation)
        # The state as it is now, not as it was before the DNS work.
        row = replace(row, state=domain.state, state_changed_at=domain.state_changed_at)
        outcome = observation.outcome(self.policy)
        if outcome == Outcome.UNKNOWN and check.unknowns + 1 >= self.policy.unknown_alert:
            self.tally.alert_unknown(row.name)
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
            if decision.to_state:
                warning_after(check, decision.to_state, self.policy, self.now)
            published = observation.config and observation.config.status == Status.ANSWER
            if decision.to_state or published:
                return domain, observation, decision.to_state
        elif outcome == Outcome.NEGATIVE:
            # The breaker counts names: a domain moving with none of its names counts one.
            self._hold(row, decision, observation, check, counted=self.held_changes > held_before)
        return None

    def _hold(
        self, row, decision, observation, check, *, name_id=None, counted=False, pointing=()
    ) -> None:
        counters = decision.counters
        if counters == Counters.of(check) and not decision.to_state:
            return  # nothing would change (a negative inside the spacing interval)
        if decision.to_state and not counted:
            self.held_changes += 1
        # Past the breaker's limit only the count matters: keep memory flat.
        if self.held_changes > self.threshold:
            return
        keep = observation if decision.to_state else None
        from_state = check.state if name_id is not None else row.state
        self.held.append(
            Held(
                row,
                counters,
                decision.to_state,
                decision.needs_authority,
                keep,
                from_state,
                name_id,
                pointing,
            )
        )

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

    def _move_name(
        self,
        domain: Domain,
        row: Row,
        check,
        to_state: str,
        observation: Observation,
        pointing: tuple[str, ...] = (),
    ) -> None:
        self.tally.count(self.tally.name_transitions, f"{check.state}->{to_state}")
        name_transition(
            actor=self.actor,
            domain=domain,
            check=check,
            name=row.name,
            canonical=row.canonical,
            to_state=to_state,
            verdict=str(observation.sip.verdict),
            reason=observation.reason,
            evidence=observation.to_evidence(),
            run=self.run,
            now=self.now,
            pointing=pointing,
            token=row.token,
            policy=self.policy,
        )

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
            policy=self.policy,
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
            checks = DomainCheck.objects.defer(*NOT_READ).in_bulk(list(domains))
            name_checks = NameCheck.objects.defer(*NOT_READ).in_bulk(
                [held.name_id for held in batch if held.name_id is not None]
            )
            for held in batch:
                domain = domains.get(held.row.domain_id)
                if held.name_id is None:
                    check = checks.get(held.row.domain_id)
                    state = domain.state if domain is not None else None
                else:
                    check = name_checks.get(held.name_id)
                    if check is not None and check.exempt:
                        continue  # exempted during the run: left alone from now on
                    state = check.state if check is not None else None
                if domain is None or check is None or check.checked_at != self.now:
                    continue  # deleted, or checked again since (that check decided)
                apply_counters(check, held.counters)
                if held.to_state is None and held.name_id is None:
                    disable_warning(
                        domain=domain,
                        check=check,
                        token=held.row.token,
                        policy=self.policy,
                        now=self.now,
                    )
                if held.to_state is None or held.observation is None:
                    continue
                if state != held.from_state:
                    continue  # changed by someone else during the run
                observation = held.observation
                if held.needs_authority:
                    confirmed, authority = confirmations[(held.row.name, held.row.token)]
                    observation = replace(observation, authority=authority)
                    if not confirmed:
                        bucket = "transitions" if held.name_id is None else "name_transitions"
                        self.tally.count(getattr(self.tally, bucket), "disable-not-confirmed")
                        continue
                if held.name_id is None:
                    warning_after(check, held.to_state, self.policy, self.now)
                    self._move(domain, held.to_state, observation)
                else:
                    self._move_name(
                        domain, held.row, check, held.to_state, observation, held.pointing
                    )
            save_checks(checks.values(), [*COUNTER_FIELDS, "warned_at"])
            save_checks(name_checks.values(), COUNTER_FIELDS, model=NameCheck)

    def _confirm(self, candidates: list[Held]) -> dict[tuple, tuple[bool, dict[str, Any]]]:
        """The authoritative servers' answer for each name (and token) to be disabled: a
        domain and its canonical name turning disabled together ask once."""
        asked = list(dict.fromkeys((h.row.name, h.row.token) for h in candidates))
        if not asked:
            return {}
        results = run_dns(
            confirm_names(
                asked, client_factory=self.client_factory, proxy=self.proxy, policy=self.policy
            )
        )
        return dict(zip(asked, results, strict=True))

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
