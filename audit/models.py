from django.conf import settings
from django.db import models
from django.db.models.functions import Now
from django.utils import timezone


class AuditEntry(models.Model):
    """One write: who, when, through what, what, and the state before and after.

    Secrets (HA1 hashes, passwords, tokens) are never recorded, only that they changed.
    """

    created_at = models.DateTimeField(default=timezone.now, db_default=Now(), db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    # Kept when the user is deleted; "system" for housekeeping, the CLI's login otherwise.
    actor_name = models.CharField(max_length=150)
    channel = models.CharField(max_length=16)  # web, api, cli, task
    action = models.CharField(max_length=64, db_index=True)  # e.g. domain.create
    object_type = models.CharField(max_length=32)
    object_repr = models.CharField(max_length=200)
    # The did the write concerns, so a tenant can be shown the entries of its domains.
    did = models.CharField(max_length=64, blank=True, default="", db_index=True)
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "audit entries"

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M:%S} {self.actor_name} {self.action} {self.object_repr}"
