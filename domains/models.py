from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower, Now
from django.utils import timezone

from domains.names import MAX_NAME_LENGTH, NameKind


def default_domain_quota() -> int:
    return settings.SERWEB_TENANT_DOMAIN_QUOTA


def default_pending_claim_limit() -> int:
    return settings.SERWEB_TENANT_PENDING_CLAIMS


class Tenant(models.Model):
    """A customer who may own domains; its owner logs in to the tenant pages."""

    name = models.CharField(max_length=100, unique=True)
    owner = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="tenant"
    )
    created_at = models.DateTimeField(default=timezone.now, db_default=Now())
    # When the owner proved its e-mail address; None while a tenant that signed up itself
    # has not (it can sign in, and do nothing else yet). Tenants operators create start
    # confirmed.
    confirmed_at = models.DateTimeField(null=True, blank=True, default=timezone.now)
    # How many domains it may hold, counting its claims still waiting for DNS proof; and
    # how many of those claims may wait at once (domain_claim_start).
    domain_quota = models.PositiveIntegerField(default=default_domain_quota)
    pending_claim_limit = models.PositiveIntegerField(default=default_pending_claim_limit)

    class Meta:
        ordering = ["name"]
        constraints = [
            # "Acme" and "acme" are one tenant, however concurrent their creations.
            models.UniqueConstraint(Lower("name"), name="tenant_name_unique_ignoring_case")
        ]

    def __str__(self) -> str:
        return self.name


class DomainState(models.TextChoices):
    PENDING = "pending", "pending verification"
    ACTIVE = "active", "active"
    SUSPECT = "suspect", "suspect (DNS no longer points at us; still served)"
    DISABLED = "disabled", "disabled by DNS housekeeping"
    REMOVED = "removed", "removed (restorable)"


# States in which the proxy serves a domain (an operator may still switch it off).
SERVED_STATES = (DomainState.ACTIVE, DomainState.SUSPECT)


class DomainOrigin(models.TextChoices):
    OPERATOR = "operator", "operator"
    TENANT = "tenant", "tenant self-registration"
    DNS = "dns", "learnt from DNS"


class DomainQuerySet(models.QuerySet):
    def served(self) -> "DomainQuerySet":
        return self.filter(enabled=True, state__in=SERVED_STATES)


class Domain(models.Model):
    """One SIP domain: one did, any number of names."""

    # The canonical name at creation; it never changes, so HA1 hashes computed with it
    # as the realm stay valid when another name becomes canonical.
    did = models.CharField(max_length=MAX_NAME_LENGTH, unique=True)
    state = models.CharField(max_length=16, choices=DomainState.choices, default=DomainState.ACTIVE)
    # The operator's switch; independent of the DNS lifecycle, which never re-enables a
    # domain an operator disabled.
    enabled = models.BooleanField(default=True)
    origin = models.CharField(
        max_length=16, choices=DomainOrigin.choices, default=DomainOrigin.OPERATOR
    )
    tenant = models.ForeignKey(
        Tenant, null=True, blank=True, on_delete=models.PROTECT, related_name="domains"
    )
    created_at = models.DateTimeField(default=timezone.now, db_default=Now())
    updated_at = models.DateTimeField(default=timezone.now, db_default=Now())
    state_changed_at = models.DateTimeField(default=timezone.now, db_default=Now())

    objects = DomainQuerySet.as_manager()

    class Meta:
        ordering = ["did"]
        indexes = [models.Index(fields=["state", "enabled"])]

    def __str__(self) -> str:
        return self.did

    @property
    def is_served(self) -> bool:
        return self.enabled and self.state in SERVED_STATES

    @property
    def canonical_name(self) -> str:
        return next(n.name for n in self.names.all() if n.is_canonical)


class DomainName(models.Model):
    """A name that leads to a domain: its canonical name, an alias or an IP literal."""

    KIND_CHOICES = [
        (NameKind.HOSTNAME, "host name"),
        (NameKind.IPV4, "IPv4 literal"),
        (NameKind.IPV6, "IPv6 literal"),
    ]

    domain = models.ForeignKey(Domain, on_delete=models.CASCADE, related_name="names")
    # Unique across the system: one name leads to one did. Stored lower case, A-labels.
    name = models.CharField(max_length=MAX_NAME_LENGTH, unique=True)
    kind = models.CharField(max_length=8, choices=KIND_CHOICES, default=NameKind.HOSTNAME)
    is_canonical = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now, db_default=Now())

    class Meta:
        ordering = ["-is_canonical", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["domain"],
                condition=Q(is_canonical=True),
                name="domainname_one_canonical_per_domain",
            )
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def dns_state(self) -> str:
        """Where the name stands in its DNS lifecycle: active before its first check, and
        for an IP literal. Reads its check row: select ``dns_check`` with many names."""
        check = getattr(self, "dns_check", None)
        return check.state if check is not None else NameState.ACTIVE

    @property
    def is_served_by_state(self) -> bool:
        """Whether its lifecycle lets the proxy serve the name (when its domain is served)."""
        return self.dns_state in SERVED_NAME_STATES


class AttributeType(models.IntegerChoices):
    # Kamailio's domain_attrs.type values.
    INTEGER = 0, "integer"
    STRING = 2, "string"


class AttributeSource(models.TextChoices):
    OPERATOR = "operator", "operator"
    DNS = "dns", "DNS"


class DomainAttribute(models.Model):
    """A per-domain setting the proxy reads as $avp(dom_<name>).

    One row per (domain, name, source); the operator's row wins over the DNS one. A row
    whose value equals the attribute's default is kept (it may override a DNS value) but
    never shown to the proxy: Kamailio's load time grows with every did that has rows.
    """

    domain = models.ForeignKey(Domain, on_delete=models.CASCADE, related_name="attributes")
    name = models.CharField(max_length=32)
    type = models.PositiveSmallIntegerField(choices=AttributeType.choices)
    value = models.CharField(max_length=255)
    source = models.CharField(
        max_length=16, choices=AttributeSource.choices, default=AttributeSource.OPERATOR
    )
    is_default = models.BooleanField(default=False)
    updated_at = models.DateTimeField(default=timezone.now, db_default=Now())

    class Meta:
        ordering = ["name", "source"]
        constraints = [
            models.UniqueConstraint(
                fields=["domain", "name", "source"], name="domainattribute_one_per_source"
            ),
            models.CheckConstraint(condition=Q(type__in=[0, 2]), name="domainattribute_known_type"),
        ]

    def __str__(self) -> str:
        return f"{self.name}={self.value}"


# --- DNS verification ---------------------------------------------------------------------


class CheckVerdict(models.TextChoices):
    # The values of domains.dns.sip.Verdict.
    OURS = "ours", "points at us"
    PARTIAL = "partial", "partly points at us"
    FOREIGN = "foreign", "points elsewhere"
    UNAVAILABLE = "unavailable", "SIP deliberately not offered"
    ABSENT = "absent", "nothing published"
    UNKNOWN = "unknown", "DNS did not answer"


class DnsCheck(models.Model):
    """What the latest DNS check of a domain or of one of its names saw, and the counters
    of the lifecycle (domains.dns.lifecycle) that check moved it by."""

    verdict = models.CharField(max_length=16, choices=CheckVerdict.choices, blank=True)
    # Whether the verdict counts for the lifecycle: positive, negative, neutral or unknown.
    outcome = models.CharField(max_length=16, blank=True, default="")
    reason = models.CharField(max_length=255, blank=True, default="")
    evidence = models.JSONField(default=dict, blank=True)
    checked_at = models.DateTimeField(null=True, blank=True)
    # When the shortest-lived DNS answer behind the verdict expires.
    expires_at = models.DateTimeField(null=True, blank=True)
    last_positive_at = models.DateTimeField(null=True, blank=True)
    # Negatives counted towards disabling: at most one per spacing interval.
    negatives = models.PositiveIntegerField(default=0)
    first_negative_at = models.DateTimeField(null=True, blank=True)
    last_negative_at = models.DateTimeField(null=True, blank=True)
    # Consecutive checks that got no answer; a long run alerts the operators.
    unknowns = models.PositiveIntegerField(default=0)

    class Meta:
        abstract = True


class DomainCheck(DnsCheck):
    """The latest DNS verification of a domain, what it saw, and the lifecycle counters.

    Overwritten by every check (one row per domain); the transitions it caused are kept
    in DomainTransition with their evidence. The domain's verdict is the best one of its
    host names (domains.dns.lifecycle.deciding_observation): a domain is negative only
    when none of its names points at us.
    """

    domain = models.OneToOneField(
        Domain, on_delete=models.CASCADE, primary_key=True, related_name="dns_check"
    )
    # Housekeeping verifies the domain and moves it through the lifecycle (suspect,
    # disabled, removed); off for a domain an operator serves whatever DNS says. A domain
    # without a row is managed. (A flag here, not on Domain: on SQLite a new NOT NULL
    # column rebuilds domains_domain and breaks the proxy-facing views over it.)
    managed = models.BooleanField(default=True)
    # When the tenant was told that housekeeping may soon disable the suspect domain; once
    # per suspect spell (cleared when the domain is active again).
    warned_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["verdict"])]

    def __str__(self) -> str:
        return f"{self.domain_id}: {self.verdict or 'never checked'}"


class NameState(models.TextChoices):
    # The values of DomainState's, so the one lifecycle moves both.
    ACTIVE = "active", "active"
    SUSPECT = "suspect", "suspect (DNS no longer points at us; still served)"
    DISABLED = "disabled", "disabled by DNS housekeeping (not served)"
    REMOVED = "removed", "removed (restorable)"


# States in which the proxy serves a name of a served domain.
SERVED_NAME_STATES = (NameState.ACTIVE, NameState.SUSPECT)


class NameCheck(DnsCheck):
    """The DNS lifecycle of one host name of a domain (the canonical one or an alias): its
    latest check, its counters and where it stands. A name without a row is active.

    A disabled or removed name is left out of the proxy-facing ``domain`` relation while
    the domain and its other names stay served. Its own row, not columns on DomainName:
    on SQLite a new column rebuilds domains_domainname under the proxy-facing views.
    """

    name = models.OneToOneField(
        DomainName, on_delete=models.CASCADE, primary_key=True, related_name="dns_check"
    )
    state = models.CharField(max_length=16, choices=NameState.choices, default=NameState.ACTIVE)
    state_changed_at = models.DateTimeField(default=timezone.now)
    # Left alone by housekeeping and served whatever DNS says (a name kept for a legacy
    # device); an operator's decision.
    exempt = models.BooleanField(default=False)

    class Meta:
        indexes = [models.Index(fields=["state"])]

    def __str__(self) -> str:
        return f"name {self.name_id}: {self.state}"

    @property
    def is_served(self) -> bool:
        return self.state in SERVED_NAME_STATES


class HousekeepingRun(models.Model):
    """One run of DNS housekeeping over a slice of the domains."""

    class Status(models.TextChoices):
        RUNNING = "running", "running"
        COMPLETED = "completed", "completed"
        # A canary domain did not verify: our resolver or our host list is broken.
        ABORTED = "aborted", "aborted by a canary"
        # Too many domains would have turned negative at once: none were changed.
        HELD = "held", "negative changes held by the circuit breaker"

    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    slot = models.PositiveIntegerField(default=0)
    slots = models.PositiveIntegerField(default=1)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.RUNNING)
    checked = models.PositiveIntegerField(default=0)
    queries = models.PositiveBigIntegerField(default=0)
    # Verdict and outcome counts, transitions made and held, alerts.
    summary = models.JSONField(default=dict, blank=True)
    message = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["-started_at", "-id"]
        constraints = [
            # The run lock: a worker starts a slot by inserting its running run, and a
            # second worker's insert for the same slot is refused (housekeeping_run).
            models.UniqueConstraint(
                fields=["slot", "slots"],
                condition=models.Q(status="running"),
                name="housekeepingrun_one_running_per_slot",
            )
        ]

    def __str__(self) -> str:
        return f"housekeeping {self.started_at:%Y-%m-%d %H:%M} {self.status}"


class DomainTransition(models.Model):
    """A lifecycle change made by DNS verification, with the evidence behind it: the
    domain's own, or one of its host names' (the domain's DNS history)."""

    domain = models.ForeignKey(Domain, on_delete=models.CASCADE, related_name="dns_transitions")
    # The host name that moved; empty for the domain itself. The text, not a key: the
    # history outlives a name the operator deletes.
    name = models.CharField(max_length=MAX_NAME_LENGTH, blank=True, default="")
    from_state = models.CharField(max_length=16, choices=DomainState.choices)
    to_state = models.CharField(max_length=16, choices=DomainState.choices)
    verdict = models.CharField(max_length=16, choices=CheckVerdict.choices)
    reason = models.CharField(max_length=255, blank=True, default="")
    evidence = models.JSONField(default=dict, blank=True)
    run = models.ForeignKey(
        HousekeepingRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        subject = self.name or self.domain_id
        return f"{subject}: {self.from_state} -> {self.to_state}"


class DomainClaim(models.Model):
    """A tenant's request to be served a domain, proven by a TXT record holding the token."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="claims")
    name = models.CharField(max_length=MAX_NAME_LENGTH)
    # Random, at least 128 bits; a secret until published, never written to the audit trail.
    token = models.CharField(max_length=64)
    domain = models.ForeignKey(
        Domain, null=True, blank=True, on_delete=models.SET_NULL, related_name="claims"
    )
    created_at = models.DateTimeField(default=timezone.now)
    # A claim still waiting then is dropped (claims_purge_expired); None for one proven.
    expires_at = models.DateTimeField(null=True, blank=True)
    verified_at = models.DateTimeField(null=True, blank=True)
    checked_at = models.DateTimeField(null=True, blank=True)
    result = models.CharField(max_length=255, blank=True, default="")

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "name"], name="domainclaim_one_per_tenant"),
            # One tenant at a time waits for a name: another is told it is not available,
            # however many ask at once.
            models.UniqueConstraint(
                fields=["name"],
                condition=Q(verified_at__isnull=True),
                name="domainclaim_one_waiting_per_name",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} claimed by {self.tenant_id}"

    @property
    def waiting(self) -> bool:
        return self.verified_at is None

    @property
    def expired(self) -> bool:
        """Waited past its expiry: dropped by the next purge, or by claiming the name again."""
        return self.waiting and self.expires_at is not None and self.expires_at <= timezone.now()
