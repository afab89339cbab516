"""The lifecycle of DNS.md as pure functions: the current state, the counters and one
outcome in, the transition out. No DNS question and no database: the verification
services and housekeeping feed it observations and write down what it decides.

ACTIVE -> SUSPECT on the first negative; SUSPECT -> DISABLED after enough negatives a
spacing apart, the first one old enough (and the authoritative servers agreeing, which the
caller asks); DISABLED -> REMOVED after a second, longer grace; any positive -> ACTIVE with
the counters reset; UNKNOWN (and NEUTRAL) changes nothing.

Every host name of a domain goes through the same lifecycle (``decide_name``), and the
domain's own goes by the best of its names' observations (``deciding_observation``): one
name pointing at us keeps the domain, and a name that no longer does is disabled alone.
An IP literal has a shorter one (``decide_literal``): whether it is one of our addresses
is the operator's configuration, not DNS, so there is nothing to wait for.
"""

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from domains.dns.observation import Observation, Outcome
from domains.dns.policy import DnsPolicy
from domains.models import DomainState, NameState

if TYPE_CHECKING:
    from domains.models import DnsCheck


@dataclass(frozen=True)
class Counters:
    negatives: int = 0
    first_negative_at: datetime | None = None
    last_negative_at: datetime | None = None

    @classmethod
    def of(cls, check: "DnsCheck") -> "Counters":
        return cls(check.negatives, check.first_negative_at, check.last_negative_at)

    def counted(self, now: datetime, spacing: timedelta) -> "Counters":
        """One more negative, unless the last counted one is more recent than ``spacing``."""
        if self.last_negative_at is not None and now - self.last_negative_at < spacing:
            return self
        return Counters(self.negatives + 1, self.first_negative_at or now, now)


@dataclass(frozen=True)
class Decision:
    to_state: str | None
    counters: Counters
    # SUSPECT -> DISABLED waits for the domain's authoritative servers to agree.
    needs_authority: bool = False
    note: str = ""


def decide(
    *,
    state: str,
    state_changed_at: datetime,
    counters: Counters,
    outcome: Outcome,
    now: datetime,
    policy: DnsPolicy,
) -> Decision:
    """The lifecycle of DNS.md as a pure function of the current state and one outcome."""
    if outcome == Outcome.POSITIVE:
        back = state in (DomainState.PENDING, DomainState.SUSPECT, DomainState.DISABLED)
        return Decision(DomainState.ACTIVE if back else None, Counters())
    if outcome != Outcome.NEGATIVE:
        return Decision(None, counters)
    counted = counters.counted(now, policy.negative_spacing)
    if state == DomainState.ACTIVE:
        return Decision(DomainState.SUSPECT, counted)
    if state == DomainState.SUSPECT:
        assert counted.first_negative_at is not None
        enough = counted.negatives >= policy.negatives_to_disable
        old_enough = now - counted.first_negative_at >= policy.disable_grace
        if enough and old_enough:
            return Decision(DomainState.DISABLED, counted, needs_authority=True)
        return Decision(
            None,
            counted,
            note=f"{counted.negatives} of {policy.negatives_to_disable} negatives counted",
        )
    if state == DomainState.DISABLED and now - state_changed_at >= policy.remove_grace:
        return Decision(DomainState.REMOVED, counted)
    return Decision(None, counted)


def unless_unconfirmed(decision: Decision, confirmed: bool | None, what: str) -> Decision:
    """``decision``, but a disable its authoritative servers did not confirm (``confirmed``
    False: they disagree; None: they were not asked, as ``what`` changed during the check)
    does not happen."""
    if not decision.needs_authority or confirmed:
        return decision
    note = (
        "not disabled: the authoritative servers disagree"
        if confirmed is False
        else f"not disabled yet: the {what} changed during the check"
    )
    return replace(decision, to_state=None, note=note)


def disable_earliest_at(counters: Counters, policy: DnsPolicy, now: datetime) -> datetime | None:
    """For a suspect domain: the first moment from ``now`` on when a negative check could
    disable it under ``decide`` (the negatives still missing counted a spacing apart, the
    first negative old enough), if its authoritative servers agree then; None before any
    negative."""
    if counters.first_negative_at is None or counters.last_negative_at is None:
        return None
    missing = policy.negatives_to_disable - counters.negatives
    enough_at = now
    if missing > 0:
        next_counted = max(counters.last_negative_at + policy.negative_spacing, now)
        enough_at = next_counted + (missing - 1) * policy.negative_spacing
    return max(enough_at, counters.first_negative_at + policy.disable_grace)


# How well an outcome of one name speaks for its domain: the first kind found decides.
_SPEAKS_FOR_DOMAIN = {Outcome.POSITIVE: 0, Outcome.UNKNOWN: 1, Outcome.NEUTRAL: 2}


def deciding_observation(observations: Sequence[Observation], policy: DnsPolicy) -> Observation:
    """Of the observations of a domain's host names (the canonical name's first), the one
    the domain's lifecycle goes by: the first that points at us; else one without an
    answer (nothing can be concluded while a name may still point at us); else one that
    points partly at us; only when every name is negative, the first of them.

    So a domain stays served while any of its names points at us, and its did never
    depends on which one does."""
    return min(observations, key=lambda seen: _SPEAKS_FOR_DOMAIN.get(seen.outcome(policy), 3))


def decide_name(
    *,
    domain_state: str,
    state: str,
    state_changed_at: datetime,
    counters: Counters,
    outcome: Outcome,
    now: datetime,
    policy: DnsPolicy,
) -> Decision:
    """The lifecycle of one host name: ``decide``'s, except that the names of a domain
    still pending (never served, waiting for DNS to point at us) count no negatives."""
    if domain_state == DomainState.PENDING and outcome == Outcome.NEGATIVE:
        return Decision(None, counters, note="not counted: the domain is pending")
    return decide(
        state=state,
        state_changed_at=state_changed_at,
        counters=counters,
        outcome=outcome,
        now=now,
        policy=policy,
    )


def decide_literal(*, state: str, outcome: Outcome) -> Decision:
    """The lifecycle of an IP literal name: disabled as soon as it is not one of the proxy
    addresses, active again as soon as it is. No grace, no authoritative servers to ask
    and no removal: nothing transient stands behind the verdict (a wrong address list at
    once for many literals is the circuit breaker's), and deleting a literal is the
    operator's."""
    if outcome == Outcome.POSITIVE and state != NameState.ACTIVE:
        return Decision(NameState.ACTIVE, Counters())
    if outcome == Outcome.NEGATIVE and state != NameState.DISABLED:
        return Decision(NameState.DISABLED, Counters())
    return Decision(None, Counters())
