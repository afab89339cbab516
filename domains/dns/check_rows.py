"""What one observation writes on a check row: a domain's (DomainCheck) or one of its host
names' (NameCheck), both of the same shape (domains.models.DnsCheck). Housekeeping saves
many rows at once (domains.dns.slots.save_checks); ``check_save`` saves one."""

from datetime import datetime, timedelta

from domains.dns.lifecycle import Counters
from domains.dns.observation import Observation, Outcome
from domains.models import DnsCheck

# What record_observation writes on a check row.
OBSERVATION_FIELDS = (
    "verdict",
    "outcome",
    "reason",
    "evidence",
    "checked_at",
    "expires_at",
    "unknowns",
    "last_positive_at",
)
COUNTER_FIELDS = ["negatives", "first_negative_at", "last_negative_at"]


def record_observation(
    check: DnsCheck, seen: Observation, outcome: Outcome, now: datetime
) -> list[str]:
    """Put one observation on a check row; the fields changed."""
    check.verdict = str(seen.sip.verdict)
    check.outcome = str(outcome)
    check.reason = seen.reason[:255]
    check.evidence = seen.to_evidence()
    check.checked_at = now
    check.expires_at = now + timedelta(seconds=seen.sip.ttl)
    if outcome == Outcome.UNKNOWN:
        check.unknowns += 1
    else:
        check.unknowns = 0
    if outcome == Outcome.POSITIVE:
        check.last_positive_at = now
    return list(OBSERVATION_FIELDS)


def apply_counters(check: DnsCheck, counters: Counters) -> None:
    check.negatives = counters.negatives
    check.first_negative_at = counters.first_negative_at
    check.last_negative_at = counters.last_negative_at


def check_save(
    check: DnsCheck, seen: Observation, outcome: Outcome, now: datetime, counters: Counters
) -> None:
    """Record one observation and the counters it leaves on a check row, and save it."""
    fields = record_observation(check, seen, outcome, now)
    apply_counters(check, counters)
    check.save(update_fields=[*fields, *COUNTER_FIELDS])
