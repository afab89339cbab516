from django.conf import settings
from django.db import models
from django.db.models.functions import Now
from django.utils import timezone


class ApiTokenQuerySet(models.QuerySet):
    def active(self) -> "ApiTokenQuerySet":
        return self.filter(revoked_at__isnull=True)


class ApiToken(models.Model):
    """A bearer token for automation. Only a SHA-256 of the secret is stored: a leaked
    database does not leak working tokens. The prefix finds the row; it is no secret."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=12, unique=True)
    key_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(default=timezone.now, db_default=Now())
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = ApiTokenQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.prefix} ({self.name})"


class IdempotencyRecord(models.Model):
    """The answer given to a POST with an Idempotency-Key, replayed when it is retried."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    key = models.CharField(max_length=255)
    method = models.CharField(max_length=8)
    path = models.CharField(max_length=500)
    request_hash = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField()
    body = models.JSONField(null=True)
    created_at = models.DateTimeField(default=timezone.now, db_default=Now(), db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "key"], name="idempotency_one_per_user_key")
        ]

    def __str__(self) -> str:
        return f"{self.method} {self.path} [{self.key}]"


class Job(models.Model):
    """Work started from the API or a page and done by a worker (in-process without a
    broker), which the caller polls: a DNS verification, a claim's check, a proxy's reload,
    an import."""

    class Kind(models.TextChoices):
        VERIFY_DOMAIN = "verify_domain", "verify a domain in DNS"
        VERIFY_CLAIM = "verify_claim", "check a tenant's claim in DNS"
        RELOAD_PROXY = "reload_proxy", "reload a proxy"
        IMPORT_DOMAINS = "import_domains", "import domains"
        IMPORT_SUBSCRIBERS = "import_subscribers", "import subscribers"

    class State(models.TextChoices):
        QUEUED = "queued", "queued"
        RUNNING = "running", "running"
        DONE = "done", "done"
        FAILED = "failed", "failed"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    kind = models.CharField(max_length=32, choices=Kind.choices)
    # The primary key of what the job works on: the domain, the claim, the proxy.
    target_id = models.BigIntegerField()
    target = models.CharField(max_length=100)
    state = models.CharField(max_length=16, choices=State.choices, default=State.QUEUED)
    result = models.JSONField(null=True, blank=True)
    # Why it failed, in the API's error shape ({"detail", "code", "fields"}); None if not.
    error = models.JSONField(null=True, blank=True)
    # How far a long job has got (rows of an import), for a progress bar; 0 of 0 if unknown.
    progress_done = models.PositiveIntegerField(default=0, db_default=0)
    progress_total = models.PositiveIntegerField(default=0, db_default=0)
    created_at = models.DateTimeField(default=timezone.now, db_default=Now())
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        # The latest job of a claim or domain (the cooldown of "check now", its panel).
        indexes = [models.Index(fields=["kind", "target_id", "-id"], name="job_kind_target")]

    def __str__(self) -> str:
        return f"{self.kind} {self.target} ({self.state})"
