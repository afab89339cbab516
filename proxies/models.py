from django.db import models
from django.db.models.functions import Now
from django.utils import timezone

from proxies import transport


class ProxyTransport(models.TextChoices):
    FIFO = transport.FIFO, "JSON-RPC over the local FIFO"
    UDP = transport.UDP, "JSON-RPC over UDP (datagram)"
    HTTP = transport.HTTP, "JSON-RPC over HTTP"


class Proxy(models.Model):
    """A Kamailio instance that reads the proxy-facing relations and must be reloaded."""

    name = models.CharField(max_length=64, unique=True)
    transport = models.CharField(max_length=8, choices=ProxyTransport.choices)
    # FIFO path, HOST:PORT or URL, by transport.
    address = models.CharField(max_length=255)
    enabled = models.BooleanField(default=True)
    # HOST:PORT where the proxy answers SIP over UDP; serweb sends it an OPTIONS per
    # changed name after a reload to confirm what is live. Empty: no probe.
    sip_address = models.CharField(max_length=255, blank=True, default="")

    # What the proxy has loaded: the generation, and when that generation was made, so
    # the domains changed since then are the pending ones.
    applied_generation = models.BigIntegerField(default=0)
    applied_changed_at = models.DateTimeField(null=True, blank=True)
    last_reload_at = models.DateTimeField(null=True, blank=True)
    last_reload_seconds = models.FloatField(null=True, blank=True)
    # domain.reload calls serweb has sent; a burst of changes should add one, not many.
    reload_count = models.BigIntegerField(default=0)
    # When the proxy last answered the probes as the database says it should.
    last_verified_at = models.DateTimeField(null=True, blank=True)

    # A reload task is queued for this proxy: later changes ride on it (one per proxy).
    reload_scheduled_at = models.DateTimeField(null=True, blank=True)
    # The claim: a reload is running against this proxy since then. Set and cleared with
    # conditional UPDATEs so that one runs at a time (concurrent domain.reload calls have
    # crashed Kamailio).
    reloading_since = models.DateTimeField(null=True, blank=True)

    # Failed attempts since the last success, for the retry backoff.
    failures = models.PositiveIntegerField(default=0)
    next_retry_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True, default="")
    last_error_at = models.DateTimeField(null=True, blank=True)

    # When the proxy started, as its uptime (core.uptime) last told: a later start means
    # it restarted since, and got a full reload rather than the changes alone.
    proxy_started_at = models.DateTimeField(null=True, blank=True)
    # What the proxy holds is not known (serweb never reloaded it, it answered against
    # the database, an update failed half-way, it restarted): in the htable index mode its
    # next catch-up is a full reload rather than the changes alone.
    full_reload_due = models.BooleanField(default=True)
    # Incremental updates sent (htable.sets/htable.delete of the changed keys), in the
    # mode where the domain index is a hash table; reload_count counts the full reloads.
    update_count = models.BigIntegerField(default=0)

    # Shared memory as the proxy last reported it (core.shmmem), in bytes.
    shm_total = models.BigIntegerField(null=True, blank=True)
    shm_free = models.BigIntegerField(null=True, blank=True)
    shm_checked_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_default=Now())

    class Meta:
        # Created by the domains app before proxies had one of their own; the data stayed.
        db_table = "domains_proxy"
        ordering = ["name"]
        verbose_name_plural = "proxies"

    def __str__(self) -> str:
        return self.name


class ReloadState(models.Model):
    """A single row: the generation of proxy-facing data every proxy should have loaded.

    Read and bumped in proxies/generation.py only."""

    desired_generation = models.BigIntegerField(default=0)
    changed_at = models.DateTimeField(default=timezone.now, db_default=Now())
    # The change log (IndexEntry, proxies/index_log.py) holds every change of the
    # generations after log_floor up to log_generation; None: it has to be rebuilt first
    # (never built, or changes were made while the proxies did not use it). A proxy at a
    # generation below log_floor gets a full reload.
    log_generation = models.BigIntegerField(null=True, blank=True)
    log_floor = models.BigIntegerField(default=0)

    class Meta:
        db_table = "domains_reloadstate"

    def __str__(self) -> str:
        return f"generation {self.desired_generation}"


class IndexTable(models.TextChoices):
    NAMES = "names", "domain names (name -> did)"
    ATTRS = "attrs", "domain attributes (did:name -> value)"


class IndexEntry(models.Model):
    """One key of the proxies' hash tables as the latest generation has it, stamped with
    the generation that last changed it: the change log of the htable index mode.

    A proxy at generation g needs exactly the entries stamped after g: a value to set, or
    None to delete (a tombstone, purged once every proxy has passed it). Written in the
    transaction of the change (proxies/index_log.py), so a change committed is a change
    logged, whatever happens before it is sent."""

    table = models.CharField(max_length=5, choices=IndexTable.choices)
    # A name (64 characters at most) or "<did>:<attribute name>" (64 + 1 + 32).
    key = models.CharField(max_length=100)
    # None: the key went (a tombstone), which differs from any value, the empty one too.
    value = models.CharField(max_length=255, null=True, blank=True)  # noqa: DJ001
    is_int = models.BooleanField(default=False)
    # The did the key belongs to (a name's did, an attribute's domain), to find a
    # domain's keys when it changes; a tombstone keeps the last one.
    did = models.CharField(max_length=64)
    generation = models.BigIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["table", "key"], name="indexentry_one_per_key")
        ]
        indexes = [
            models.Index(fields=["generation"], name="indexentry_generation"),
            models.Index(fields=["did"], name="indexentry_did"),
            # The tombstones, for the purge (most entries are live).
            models.Index(
                fields=["generation"],
                condition=models.Q(value__isnull=True),
                name="indexentry_tombstones",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.table} {self.key}={self.value}"
