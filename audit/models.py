from django.conf import settings
from django.db import models
from django.db.models.functions import Now
from django.utils import timezone
from django.utils.functional import cached_property

from audit.diff import Diff, entry_diff


class ActorRole(models.TextChoices):
    OPERATOR = "operator", "operator"
    TENANT = "tenant", "tenant"
    # Housekeeping and other tasks. A command is an operator's, whoever runs it.
    SYSTEM = "system", "system"


class Channel(models.TextChoices):
    """The doors a write comes through (audit.services.audit_channel), and what one run of
    each is called."""

    WEB = "web", "web request"
    API = "api", "API request"
    CLI = "cli", "command"
    TASK = "task", "job or task"
    # A service called by code outside any of them: a shell, a test.
    CODE = "code", "code run"


# The object types the services record, offered as suggestions where people filter; not a
# constraint on what an entry may hold.
KNOWN_OBJECT_TYPES = (
    "domain",
    "subscriber",
    "user_alias",
    "tenant",
    "claim",
    "proxy",
    "api_token",
    "import",
    "backup",
    "housekeeping",
)


class AuditEntry(models.Model):
    """One write: who, when, through what, what, and the state before and after.

    An entry belongs to the object it is about and to the tenant that owned it at the time,
    not to a name: a did given to another tenant later, or a domain moved, takes none of
    its earlier history along. Secrets (HA1 hashes, passwords, tokens) are never
    recorded, only that they changed.
    """

    created_at = models.DateTimeField(default=timezone.now, db_default=Now())
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    # Kept when the user is deleted: the user's login (a command run with --as records that
    # operator as the user); without a user, the operating-system login running a command,
    # "system" for tasks and housekeeping (audit.services.audit_acting).
    actor_name = models.CharField(max_length=150)
    # What the actor was at the time, so a tenant can be told "operator" instead of a login.
    actor_role = models.CharField(
        max_length=16, choices=ActorRole.choices, default=ActorRole.SYSTEM
    )
    channel = models.CharField(max_length=16)  # web, api, cli, task
    action = models.CharField(max_length=64)  # e.g. domain.create
    object_type = models.CharField(max_length=32)
    object_repr = models.CharField(max_length=200)
    # The domain the write concerns. No constraint and nothing done on deletion: the id
    # stays after the domain is deleted, and ids are never reused, so a new domain with
    # the same did starts a history of its own.
    domain = models.ForeignKey(
        "domains.Domain",
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    # The tenant that owned the domain (or the claim) when the write happened: the only
    # tenant that may read the entry. None: operators only.
    tenant = models.ForeignKey(
        "domains.Tenant", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # The did at the time, for people and for filtering; never for deciding who may read.
    did = models.CharField(max_length=64, blank=True, default="")
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    # The run that wrote it (one web or API request, one command, one job or task run): the
    # entries of one run are read together. None: written outside any run.
    group = models.UUIDField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "audit entries"
        # Newest first, paged by (created_at, id): each filter's index leads with its column
        # and ends in that order, so a page is a short index range at any depth.
        indexes = [
            models.Index(fields=["tenant", "created_at"]),
            models.Index(fields=["created_at", "id"], name="audit_time_idx"),
            *(
                models.Index(fields=[column, "created_at", "id"], name=f"audit_{column}_time_idx")
                for column in ("actor_name", "channel", "action", "object_type", "did", "group")
            ),
            models.Index(fields=["object_repr", "created_at", "id"], name="audit_object_time_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M:%S} {self.actor_name} {self.action} {self.object_repr}"

    @cached_property
    def changes(self) -> Diff:
        """The entry as a field diff, secrets only as changed."""
        return entry_diff(self.before, self.after)
