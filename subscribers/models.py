from django.db import models
from django.db.models.functions import Now
from django.utils import timezone

from domains.models import Domain
from domains.names import MAX_NAME_LENGTH


class Subscriber(models.Model):
    """A digest user of a domain. The proxy sees it keyed by the domain's did."""

    domain = models.ForeignKey(Domain, on_delete=models.CASCADE, related_name="subscribers")
    username = models.CharField(max_length=MAX_NAME_LENGTH)
    # md5(username:realm:password) and md5(username@did:realm:password): password
    # equivalents, never shown or logged.
    ha1 = models.CharField(max_length=128)
    ha1b = models.CharField(max_length=128)
    # The realm the hashes were computed with; when the domain's realm changes, rows
    # with another value need a new password before they can authenticate.
    ha1_realm = models.CharField(max_length=MAX_NAME_LENGTH)
    # Only filled when SERWEB_STORE_CLEAR_PASSWORDS is on.
    password = models.CharField(max_length=64, blank=True, default="")
    email = models.EmailField(blank=True, default="")
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now, db_default=Now())
    updated_at = models.DateTimeField(default=timezone.now, db_default=Now())

    class Meta:
        ordering = ["domain_id", "username"]
        constraints = [
            models.UniqueConstraint(fields=["domain", "username"], name="subscriber_unique")
        ]
        indexes = [
            # The operators' search by the start of a user name, across domains: LIKE
            # 'prefix%' takes a pattern index whatever the database's collation
            # (PostgreSQL; other databases ignore the operator class).
            models.Index(
                fields=["username"],
                name="subscriber_username_prefix",
                opclasses=["varchar_pattern_ops"],
            ),
            # The disabled ones, few, in the lists' order: listing them reads no others.
            models.Index(
                fields=["domain", "username"],
                name="subscriber_disabled",
                condition=models.Q(enabled=False),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.username}@{self.domain.did}"


class ValidFrom(models.Model):
    """A From user name the digest user may present (Kamailio uri_db, SER valid_user)."""

    subscriber = models.ForeignKey(Subscriber, on_delete=models.CASCADE, related_name="valid_froms")
    from_user = models.CharField(max_length=MAX_NAME_LENGTH)
    created_at = models.DateTimeField(default=timezone.now, db_default=Now())

    class Meta:
        ordering = ["from_user"]
        constraints = [
            models.UniqueConstraint(fields=["subscriber", "from_user"], name="validfrom_unique")
        ]

    def __str__(self) -> str:
        return self.from_user


class UserAlias(models.Model):
    """Another user name (a phone number, say) that leads to a subscriber (alias_db)."""

    domain = models.ForeignKey(Domain, on_delete=models.CASCADE, related_name="user_aliases")
    username = models.CharField(max_length=MAX_NAME_LENGTH)
    subscriber = models.ForeignKey(Subscriber, on_delete=models.CASCADE, related_name="aliases")
    created_at = models.DateTimeField(default=timezone.now, db_default=Now())

    class Meta:
        ordering = ["domain_id", "username"]
        verbose_name_plural = "user aliases"
        constraints = [
            models.UniqueConstraint(fields=["domain", "username"], name="useralias_unique")
        ]

    def __str__(self) -> str:
        return f"{self.username}@{self.domain.did}"
