"""The proxy's on-demand lookup: "is host H ours, and which did and canonical name?"

``GET /proxy/lookup?host=H`` answers with a status code the proxy can branch on and a
small JSON body:

- 200 ``{"host", "ours": true, "did", "canonical", "state", "source", "learned"}``
- 404 ``{"host", "ours": false, "reason", "source", "ttl"}``: not ours (unknown, not
  served, reserved, or DNS says it points elsewhere)
- 503 ``{"host", "ours": false, "reason": "dns-unknown" | "rate-limited", "retry_after"}``:
  no answer now; ask again later (``ttl`` too after an unanswered DNS check)
- 400 ``{"error"}`` for a host that is not a name; 403 for a client not allowed

Known hosts come from a per-process cache (a few seconds) or one indexed query. An
unknown host is looked up in DNS only when auto-learning is on, at most once per negative
TTL per host and at most SERWEB_LOOKUP_DNS_PER_MINUTE times a minute overall, so random
names cannot turn serweb into a DNS amplifier. A check holds its web worker for
SERWEB_LOOKUP_DNS_MS at most, well within the proxy's patience, and only
SERWEB_LOOKUP_DNS_AT_ONCE of them run at once on a host, so random names cannot take
the workers from known hosts and pages either; the others are told to ask again later.

``ttl`` is how many seconds the proxy may remember a "not ours" answer instead of asking
again (the reference kamailio.cfg's negative cache, WITH_LOOKUP): SERWEB_LOOKUP_NEGATIVE_TTL,
or what is left of it when the answer comes from serweb's own negative cache, so the proxy
never holds an answer longer than serweb would give it. A name that becomes served is
deleted from the proxies' cache by the reload pipeline (proxies/negatives.py). An answer
about a name being checked right now, or one refused for the rate limit, has none.
"""

import fcntl
import logging
import math
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db.models import OuterRef, Subquery
from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_GET

from domains.dns.observation import Outcome
from domains.dns.policy import DnsPolicy
from domains.dns.verification import domain_learn
from domains.models import SERVED_NAME_STATES, SERVED_STATES, DomainName
from domains.names import normalize_host
from serweb.clients import address_allowed, client_ip
from serweb.metrics import LOOKUPS

logger = logging.getLogger("serweb.lookup")

# Per-process answers for known hosts: {host as asked: (expires, answer)}.
_known: dict[str, tuple[float, "LookupAnswer"]] = {}
_KNOWN_MAX = 200_000
UNKNOWN_REASON = "dns-unknown"
CHECKING_REASON = "being checked"


@dataclass(frozen=True)
class LookupAnswer:
    host: str
    ours: bool
    did: str = ""
    canonical: str = ""
    state: str = ""
    source: str = ""  # cache, database, dns, negative-cache
    reason: str = ""
    learned: bool = False
    status: int = 404
    retry_after: int = 0
    ttl: int = 0  # seconds the proxy may remember a "not ours" answer

    def as_json(self) -> dict:
        body = asdict(self)
        del body["status"]
        return {key: value for key, value in body.items() if value not in ("", 0) or key == "ours"}


def _not_ours(host: str, reason: str, source: str, status: int = 404, **extra) -> LookupAnswer:
    return LookupAnswer(host=host, ours=False, reason=reason, source=source, status=status, **extra)


def _from_database(host: str) -> LookupAnswer | None:
    canonical = DomainName.objects.filter(domain=OuterRef("domain"), is_canonical=True).values(
        "name"
    )[:1]
    row = (
        DomainName.objects.filter(name=host)
        .annotate(canonical=Subquery(canonical))
        .values_list(
            "domain__did", "domain__state", "domain__enabled", "canonical", "dns_check__state"
        )
        .first()
    )
    if row is None:
        return None
    did, state, enabled, canonical_name, name_state = row
    name_served = name_state is None or name_state in SERVED_NAME_STATES
    if enabled and state in SERVED_STATES and name_served:
        return LookupAnswer(host, True, did, canonical_name, state, source="database", status=200)
    if not enabled:
        reason = "disabled by the operator"
    elif state not in SERVED_STATES:
        reason = f"not served ({state})"
    else:
        reason = f"this name is not served ({name_state})"
    return LookupAnswer(
        host,
        False,
        did,
        canonical_name,
        state,
        "database",
        reason,
        status=404,
        ttl=settings.SERWEB_LOOKUP_NEGATIVE_TTL,
    )


def _remember(key: str, answer: LookupAnswer) -> None:
    seconds = settings.SERWEB_LOOKUP_CACHE_SECONDS
    if not seconds:
        return
    if len(_known) >= _KNOWN_MAX:
        _known.clear()
    _known[key] = (time.monotonic() + seconds, answer)


def forget_cached_answers() -> None:
    _known.clear()


def _negative_key(host: str) -> str:
    return f"serweb:lookup:negative:{host}"


def not_ours_remember(host: str, reason: str, *, ttl: int) -> None:
    """Remember for ``ttl`` seconds what a DNS check of ``host`` concluded, with when that
    ends (the ``ttl`` of the answers given from it)."""
    cache.set(_negative_key(host), (reason, time.time() + ttl), timeout=ttl)


def _remembered(key: str) -> tuple[str, int] | None:
    """What serweb's negative cache holds for a host, and for how many more seconds."""
    value = cache.get(key)
    if value is None:
        return None
    reason, until = value
    return reason, max(1, math.ceil(until - time.time()))


def _rate_limited() -> bool:
    """One more DNS lookup this minute, across processes when the cache is shared."""
    limit = settings.SERWEB_LOOKUP_DNS_PER_MINUTE
    key = f"serweb:lookup:dns-rate:{int(time.time() // 60)}"
    cache.add(key, 0, timeout=120)
    try:
        return cache.incr(key) > limit
    except ValueError:  # expired between add and incr
        return False


class _Slot:
    """One of SERWEB_LOOKUP_DNS_AT_ONCE places for a DNS check: a lock file under
    SERWEB_VAR_DIR, shared by the web processes of this host and freed by the kernel when
    its holder exits, however. The file holds when the slot may be used again."""

    def __init__(self, fd: int) -> None:
        self.fd = fd

    def rest(self, seconds: float) -> None:
        """DNS did not answer: keep this slot closed as long again, so a DNS server that
        times out holds a worker for half the time at most, not back to back."""
        os.ftruncate(self.fd, 0)
        os.pwrite(self.fd, f"{time.time() + seconds:.3f}".encode(), 0)

    def resting(self) -> bool:
        try:
            return float(os.pread(self.fd, 32, 0) or 0) > time.time()
        except ValueError:
            return False


@contextmanager
def _dns_slot() -> Iterator[_Slot | None]:
    """A free slot, held until the block ends; None when every slot is taken or resting."""
    slot = _take_slot(Path(settings.VAR_DIR) / "lookup")
    try:
        yield slot
    finally:
        if slot is not None:
            os.close(slot.fd)  # and with it the lock


def _take_slot(directory: Path) -> _Slot | None:
    try:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        for number in range(settings.SERWEB_LOOKUP_DNS_AT_ONCE):
            fd = os.open(directory / f"dns-{number}.lock", os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                continue
            slot = _Slot(fd)
            if not slot.resting():
                return slot
            os.close(fd)
    except OSError:
        logger.exception("the lookup asks no DNS: no lock file in %s", directory)
    return None


def _lookup_policy(within: float) -> DnsPolicy:
    """The DNS settings, with tries short enough that a lost packet is asked again within
    the lookup's time."""
    policy = DnsPolicy.from_settings()
    return replace(
        policy, timeout=min(policy.timeout, within / 2), lifetime=min(policy.lifetime, within)
    )


def lookup_host(raw: str) -> LookupAnswer:
    key = (raw or "").strip().lower()
    hit = _known.get(key)
    if hit is not None and hit[0] > time.monotonic():
        return replace(hit[1], source="cache")
    host = normalize_host(raw).value  # ValidationError: the caller answers 400
    answer = _from_database(host)
    if answer is not None:
        _remember(key, answer)
        return answer
    return _unknown_host(host)


def _unknown_host(host: str) -> LookupAnswer:
    if not settings.SERWEB_DNS_AUTO_LEARN:
        ttl = settings.SERWEB_LOOKUP_NEGATIVE_TTL
        return _not_ours(host, "unknown host", "database", ttl=ttl)
    negative_key = _negative_key(host)
    remembered = _remembered(negative_key)
    if remembered is not None:
        return _from_negative_cache(host, *remembered)
    within = settings.SERWEB_LOOKUP_DNS_MS / 1000
    with _dns_slot() as slot:
        if slot is None:
            # A slot frees within a check's time, or twice that after an unanswered one.
            return _not_ours(host, "rate-limited", "dns", 503, retry_after=math.ceil(2 * within))
        return _checked_in_dns(host, negative_key, within, slot)


def _from_negative_cache(host: str, reason: str, left: int) -> LookupAnswer:
    if reason == UNKNOWN_REASON:
        return _not_ours(host, reason, "negative-cache", 503, retry_after=60, ttl=left)
    if reason == CHECKING_REASON:
        # Ours, perhaps, in a moment: nothing for the proxy to remember.
        return _not_ours(host, reason, "negative-cache")
    return _not_ours(host, reason, "negative-cache", ttl=left)


def _checked_in_dns(host: str, negative_key: str, within: float, slot: _Slot) -> LookupAnswer:
    if _rate_limited():
        return _not_ours(host, "rate-limited", "dns", status=503, retry_after=60)
    policy = _lookup_policy(within)
    ttl = settings.SERWEB_LOOKUP_NEGATIVE_TTL
    # Claimed before asking, so concurrent requests for one name cost one lookup.
    if not cache.add(negative_key, (CHECKING_REASON, time.time() + ttl), timeout=ttl):
        remembered = _remembered(negative_key) or (CHECKING_REASON, ttl)
        return _from_negative_cache(host, *remembered)
    started = time.monotonic()
    try:
        domain, seen = domain_learn(name=host, policy=policy, within=within)
    except ValidationError as exc:
        reason = "; ".join(exc.messages)
        not_ours_remember(host, reason, ttl=ttl)
        # A concurrent learner may have created it a moment ago.
        return _from_database(host) or _not_ours(host, reason, "dns", ttl=ttl)
    if domain is not None:
        cache.delete(negative_key)
        answer = _from_database(host)
        assert answer is not None
        return replace(answer, source="dns", learned=True)
    outcome = seen.outcome(policy)
    if outcome == Outcome.UNKNOWN:
        slot.rest(time.monotonic() - started)
        # Asked again after a shorter while than a real negative answer.
        unknown_ttl = min(ttl, 60)
        not_ours_remember(host, UNKNOWN_REASON, ttl=unknown_ttl)
        return _not_ours(host, UNKNOWN_REASON, "dns", 503, retry_after=60, ttl=unknown_ttl)
    reason = f"DNS: {seen.sip.verdict} ({seen.reason})"
    not_ours_remember(host, reason, ttl=ttl)
    return _not_ours(host, reason, "dns", ttl=ttl)


def _answer_kind(answer: LookupAnswer) -> str:
    if answer.ours:
        return "ours"
    return "unavailable" if answer.status == 503 else "not_ours"


@require_GET
def lookup_view(request: HttpRequest) -> JsonResponse:
    if not address_allowed(client_ip(request), settings.SERWEB_LOOKUP_CLIENTS):
        return JsonResponse({"error": "this client may not ask"}, status=403)
    raw = request.GET.get("host", "")
    try:
        answer = lookup_host(raw)
    except ValidationError as exc:
        return JsonResponse({"error": "; ".join(exc.messages)}, status=400)
    LOOKUPS.labels(answer=_answer_kind(answer), source=answer.source).inc()
    response = JsonResponse(answer.as_json(), status=answer.status)
    if answer.retry_after:
        response["Retry-After"] = str(answer.retry_after)
    return response
