"""The lifecycle of DNS.md driven by observations alone: no DNS server and no database (a
test here that touched the database would fail: none is marked for it)."""

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

import pytest

from domains.dns.lifecycle import (
    Counters,
    Decision,
    decide,
    decide_name,
    deciding_observation,
    disable_earliest_at,
)
from domains.dns.observation import Observation, Outcome, Ownership
from domains.dns.policy import DnsPolicy
from domains.dns.sip import SipCheck, Verdict
from domains.models import DomainState

HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)

POLICY = DnsPolicy(
    nameservers=(("127.0.0.1", 53),),
    timeout=0.2,
    lifetime=0.4,
    concurrency=10,
    authority_port=53,
    proxy_hostnames=("sip.serweb.test",),
    proxy_addresses=("192.0.2.10",),
    reserved_suffixes=("invalid",),
    label="serweb",
    allow_partial=False,
    auto_learn=False,
    import_attributes=True,
    negatives_to_disable=3,
    negative_spacing=6 * HOUR,
    disable_grace=72 * HOUR,
    remove_grace=30 * DAY,
    check_interval=24 * HOUR,
    housekeeping_every=15 * timedelta(minutes=1),
    unknown_alert=12,
    canaries=(),
    breaker_percent=1.0,
    breaker_minimum=20,
    chunk_size=1000,
)


def seen(verdict: Verdict, ownership: Ownership = Ownership.NOT_REQUIRED) -> Observation:
    return Observation("voip.example", SipCheck("voip.example", verdict, str(verdict)), ownership)


NEGATIVE = seen(Verdict.ABSENT)
POSITIVE = seen(Verdict.OURS)
UNKNOWN = seen(Verdict.UNKNOWN)


@dataclass
class Domain:
    """A domain as the lifecycle sees it, moved as the verification services move one
    (the authoritative servers agreeing whenever they are asked)."""

    state: str = DomainState.ACTIVE
    state_changed_at: datetime = T0 - 100 * DAY
    counters: Counters = field(default_factory=Counters)

    def check(self, observation: Observation, now: datetime, policy=POLICY) -> Decision:
        decision = decide(
            state=self.state,
            state_changed_at=self.state_changed_at,
            counters=self.counters,
            outcome=observation.outcome(policy),
            now=now,
            policy=policy,
        )
        self.counters = decision.counters
        if decision.to_state:
            self.state, self.state_changed_at = decision.to_state, now
        return decision


@pytest.mark.parametrize(
    ("state", "outcome", "to_state"),
    [
        ("active", Outcome.POSITIVE, None),
        ("suspect", Outcome.POSITIVE, "active"),
        ("disabled", Outcome.POSITIVE, "active"),
        ("pending", Outcome.POSITIVE, "active"),
        ("active", Outcome.NEGATIVE, "suspect"),
        ("pending", Outcome.NEGATIVE, None),
        ("active", Outcome.UNKNOWN, None),
        ("suspect", Outcome.UNKNOWN, None),
        ("disabled", Outcome.UNKNOWN, None),
        ("suspect", Outcome.NEUTRAL, None),
    ],
)
def test_each_state_and_outcome_decides_one_transition(state, outcome, to_state):
    counters = Counters(5, T0 - 100 * HOUR, T0 - 10 * HOUR)
    decision = decide(
        state=state,
        state_changed_at=T0 - 40 * DAY,
        counters=counters,
        outcome=outcome,
        now=T0,
        policy=POLICY,
    )
    assert decision.to_state == to_state
    if outcome == Outcome.POSITIVE:
        assert decision.counters == Counters()
    if outcome in (Outcome.UNKNOWN, Outcome.NEUTRAL):
        assert decision.counters == counters


def test_suspect_to_disabled_needs_the_count_the_age_and_the_authority():
    def suspect(counters: Counters):
        return decide(
            state="suspect",
            state_changed_at=T0,
            counters=counters,
            outcome=Outcome.NEGATIVE,
            now=T0,
            policy=POLICY,
        )

    young = suspect(Counters(5, T0 - 70 * HOUR, T0 - 7 * HOUR))
    few = suspect(Counters(1, T0 - 80 * HOUR, T0 - 7 * HOUR))
    due = suspect(Counters(2, T0 - 80 * HOUR, T0 - 7 * HOUR))
    assert young.to_state is None and few.to_state is None
    assert due.to_state == "disabled" and due.needs_authority


def test_negatives_move_a_domain_to_suspect_disabled_and_removed_over_the_graces():
    domain = Domain()

    assert domain.check(NEGATIVE, T0).to_state == DomainState.SUSPECT
    assert domain.counters == Counters(1, T0, T0)
    # Inside the spacing a negative is not counted again.
    assert domain.check(NEGATIVE, T0 + 5 * HOUR) == Decision(
        None, Counters(1, T0, T0), note="1 of 3 negatives counted"
    )
    domain.check(NEGATIVE, T0 + 6 * HOUR)
    third = domain.check(NEGATIVE, T0 + 12 * HOUR)
    # Enough negatives, but the first is not old enough yet.
    assert (third.to_state, third.note) == (None, "3 of 3 negatives counted")
    assert domain.state == DomainState.SUSPECT

    disabling = domain.check(NEGATIVE, T0 + 72 * HOUR)
    assert (disabling.to_state, disabling.needs_authority) == (DomainState.DISABLED, True)
    assert domain.counters.negatives == 4

    # Disabled: removed only once the second grace has passed since it was disabled.
    assert domain.check(NEGATIVE, T0 + 72 * HOUR + 30 * DAY - HOUR).to_state is None
    assert domain.check(NEGATIVE, T0 + 72 * HOUR + 30 * DAY).to_state == DomainState.REMOVED
    # Removed is the end: further negatives change nothing.
    assert domain.check(NEGATIVE, T0 + 100 * DAY).to_state is None


@pytest.mark.parametrize("verdict", [Verdict.ABSENT, Verdict.FOREIGN, Verdict.UNAVAILABLE])
def test_every_negative_verdict_counts(verdict):
    assert seen(verdict).outcome(POLICY) == Outcome.NEGATIVE
    assert Domain().check(seen(verdict), T0).to_state == DomainState.SUSPECT


@pytest.mark.parametrize("state", list(DomainState))
def test_an_unknown_answer_changes_no_state_and_no_counter(state):
    counters = Counters(2, T0 - 80 * HOUR, T0 - 7 * HOUR)
    domain = Domain(state=state, counters=counters)

    decision = domain.check(UNKNOWN, T0)

    assert decision == Decision(None, counters)
    assert (domain.state, domain.counters) == (state, counters)


def test_a_missing_token_is_negative_and_an_unanswered_token_question_unknown():
    assert seen(Verdict.OURS, Ownership.PROVEN).outcome(POLICY) == Outcome.POSITIVE
    assert seen(Verdict.OURS, Ownership.MISSING).outcome(POLICY) == Outcome.NEGATIVE
    assert seen(Verdict.OURS, Ownership.UNKNOWN).outcome(POLICY) == Outcome.UNKNOWN
    assert Domain().check(seen(Verdict.OURS, Ownership.MISSING), T0).to_state == "suspect"


def test_partly_pointing_at_us_changes_nothing_unless_the_operator_allows_it():
    partial = seen(Verdict.PARTIAL)
    suspect = Domain(state=DomainState.SUSPECT, counters=Counters(1, T0, T0))

    assert partial.outcome(POLICY) == Outcome.NEUTRAL
    assert suspect.check(partial, T0 + HOUR) == Decision(None, Counters(1, T0, T0))
    allowing = replace(POLICY, allow_partial=True)
    assert suspect.check(partial, T0 + 2 * HOUR, allowing).to_state == DomainState.ACTIVE


@pytest.mark.parametrize("state", [DomainState.PENDING, DomainState.SUSPECT, DomainState.DISABLED])
def test_a_positive_answer_restores_the_domain_and_resets_the_counters(state):
    domain = Domain(state=state, counters=Counters(3, T0 - 80 * HOUR, T0 - HOUR))

    assert domain.check(POSITIVE, T0) == Decision(DomainState.ACTIVE, Counters())
    assert domain.state == DomainState.ACTIVE


def test_a_positive_answer_between_negatives_starts_the_count_again():
    domain = Domain()
    domain.check(NEGATIVE, T0)
    domain.check(NEGATIVE, T0 + 6 * HOUR)
    assert domain.check(POSITIVE, T0 + 12 * HOUR).to_state == DomainState.ACTIVE

    domain.check(NEGATIVE, T0 + 13 * HOUR)
    assert domain.counters == Counters(1, T0 + 13 * HOUR, T0 + 13 * HOUR)
    # Without the reset, this negative would have disabled it.
    assert domain.check(NEGATIVE, T0 + 73 * HOUR).to_state is None


def test_an_active_domain_stays_active_and_a_removed_one_needs_the_operator():
    active = Domain(counters=Counters(1, T0, T0))
    assert active.check(POSITIVE, T0 + HOUR) == Decision(None, Counters())
    removed = Domain(state=DomainState.REMOVED)
    assert removed.check(POSITIVE, T0).to_state is None


def test_a_pending_domain_counts_negatives_but_is_not_suspected():
    pending = Domain(state=DomainState.PENDING)

    assert pending.check(NEGATIVE, T0) == Decision(None, Counters(1, T0, T0))
    assert pending.state == DomainState.PENDING


def test_the_earliest_disable_is_when_a_negative_would_disable():
    domain = Domain()
    assert disable_earliest_at(domain.counters, POLICY, T0) is None
    domain.check(NEGATIVE, T0)
    domain.check(NEGATIVE, T0 + 10 * HOUR)

    earliest = disable_earliest_at(domain.counters, POLICY, T0 + 11 * HOUR)

    assert earliest == T0 + 72 * HOUR
    too_early = replace(domain)
    assert too_early.check(NEGATIVE, earliest - HOUR).to_state is None
    assert domain.check(NEGATIVE, earliest).to_state == DomainState.DISABLED


# --- the names of a domain ------------------------------------------------------------------


def named(name: str, verdict: Verdict) -> Observation:
    return Observation(name, SipCheck(name, verdict, str(verdict)))


@pytest.mark.parametrize(
    ("verdicts", "deciding"),
    [
        # One name pointing at us keeps the domain, whichever it is.
        ((Verdict.ABSENT, Verdict.OURS), "alias"),
        ((Verdict.OURS, Verdict.ABSENT), "canonical"),
        # While a name has no answer, nothing is concluded about the domain.
        ((Verdict.FOREIGN, Verdict.UNKNOWN), "alias"),
        ((Verdict.PARTIAL, Verdict.UNKNOWN), "alias"),
        ((Verdict.ABSENT, Verdict.PARTIAL), "alias"),
        # Every name negative: the canonical name's verdict.
        ((Verdict.ABSENT, Verdict.FOREIGN), "canonical"),
        ((Verdict.OURS, Verdict.OURS), "canonical"),
    ],
)
def test_a_domain_goes_by_the_best_of_its_names(verdicts, deciding):
    canonical, alias = named("canonical", verdicts[0]), named("alias", verdicts[1])

    assert deciding_observation([canonical, alias], POLICY).name == deciding


def test_the_canonical_name_going_negative_moves_the_name_not_the_domain():
    domain, canonical, alias = Domain(), Domain(), Domain()
    for hours in (0, 6, 12, 72):
        now = T0 + hours * HOUR
        observations = [named("canonical", Verdict.ABSENT), named("alias", Verdict.OURS)]
        domain.check(deciding_observation(observations, POLICY), now)
        canonical.check(observations[0], now)
        alias.check(observations[1], now)

    assert (domain.state, canonical.state, alias.state) == ("active", "disabled", "active")


def test_a_name_follows_the_domains_lifecycle():
    counters = Counters(2, T0 - 80 * HOUR, T0 - 7 * HOUR)
    for state in (DomainState.ACTIVE, DomainState.SUSPECT, DomainState.DISABLED):
        for outcome in Outcome:
            same = {
                "state": state,
                "state_changed_at": T0 - 40 * DAY,
                "counters": counters,
                "outcome": outcome,
                "now": T0,
                "policy": POLICY,
            }
            assert decide_name(domain_state=DomainState.ACTIVE, **same) == decide(**same)


def test_the_names_of_a_pending_domain_count_no_negatives():
    counters = Counters(1, T0 - HOUR, T0 - HOUR)
    pending = {"domain_state": DomainState.PENDING, "state_changed_at": T0, "now": T0}

    negative = decide_name(
        state="active", counters=counters, outcome=Outcome.NEGATIVE, policy=POLICY, **pending
    )
    positive = decide_name(
        state="suspect", counters=counters, outcome=Outcome.POSITIVE, policy=POLICY, **pending
    )

    assert (negative.to_state, negative.counters) == (None, counters)
    assert (positive.to_state, positive.counters) == ("active", Counters())
