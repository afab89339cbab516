"""The change log of the htable index mode: what to send a proxy at generation g.

IndexEntry holds every key of the proxies' two hash tables (a name and its did; a
"<did>:<attribute>" and its value) as the latest generation has it, each stamped with the
generation that last changed it, and a tombstone (value None) for a key that went. So a
proxy at generation g needs the entries stamped after g, whatever happened in between: a
key changed five times is sent once, with its value now.

The entries are written inside the transaction of the change (``changes_record``, called
by the domains_changed receiver after the generation bump, which serialises writers on
the ReloadState row): committed is logged, and a crash between the commit and the send
loses nothing. They are compared with the proxy-facing relations themselves (``domain``,
``domain_attrs``), so what is logged is what a full reload would load.

The log is complete between ReloadState.log_floor and log_generation. A change made
while it was not kept (the stock mode, or a process without SERWEB_PROXY_DOMAINS=htable)
leaves log_generation behind; ``log_rebuild`` then compares every key, and proxies below
the new floor get a full reload. Tombstones every enabled proxy has passed are purged (by
the drift check and after a full reload) and the floor moves up to them.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Min

from proxies.generation import STATE_PK
from proxies.models import IndexEntry, IndexTable, Proxy, ReloadState

# A change of more domains than this is compared over all keys rather than by did: one
# scan instead of a parameter list as long as the import.
_BY_DID_MAX = 5000


@dataclass(frozen=True)
class Change:
    table: str  # IndexTable
    key: str
    value: str | None  # None: delete the key
    is_int: bool = False


def _relation(name: str) -> str:
    if connection.vendor == "postgresql":
        return f'"{settings.SERWEB_PROXY_SCHEMA}".{name}'
    return name


def _did_filter(column: str, dids: list[str] | None) -> tuple[str, list]:
    if dids is None:
        return "TRUE", []
    if connection.vendor == "postgresql":
        return f"{column} = ANY(%s)", [dids]
    return f"{column} IN (SELECT value FROM json_each(%s))", [_json(dids)]


def _json(values: list[str]) -> str:
    import json

    return json.dumps(values)


def _diff(generation: int, dids: list[str] | None) -> None:
    """Stamp with ``generation`` every key of ``dids`` (all keys: None) whose value in the
    proxy-facing relations differs from its entry: new keys, changed values, and the
    keys that went (tombstones). A name that moved to another domain takes that domain's
    did, whichever of the two is in ``dids``."""
    domain, attrs = _relation("domain"), _relation("domain_attrs")
    entries = IndexEntry._meta.db_table
    names, attributes = IndexTable.NAMES.value, IndexTable.ATTRS.value
    view_did, view_params = _did_filter("v.did", dids)
    entry_did, entry_params = _did_filter("did", dids)
    attr_did, attr_params = _did_filter("did", dids)
    sql = f"""
        WITH touched_names AS (
            SELECT v.domain AS key FROM {domain} v WHERE {view_did}
            UNION
            SELECT key FROM {entries}
            WHERE "table" = '{names}' AND value IS NOT NULL AND {entry_did}
        ),
        served_attrs AS (
            SELECT did || ':' || name AS key, did, value, type FROM {attrs} WHERE {attr_did}
        ),
        touched_attrs AS (
            SELECT key, did FROM served_attrs
            UNION
            SELECT key, did FROM {entries}
            WHERE "table" = '{attributes}' AND value IS NOT NULL AND {entry_did}
        ),
        wanted AS (
            SELECT '{names}' AS tbl, t.key AS key, v.did AS value, FALSE AS is_int,
                   v.did AS did
            FROM touched_names t LEFT JOIN {domain} v ON v.domain = t.key
            UNION ALL
            SELECT '{attributes}', t.key, a.value, COALESCE(a.type = 0, FALSE), t.did
            FROM touched_attrs t LEFT JOIN served_attrs a ON a.key = t.key
        )
        INSERT INTO {entries} ("table", key, value, is_int, did, generation)
        SELECT w.tbl, w.key, w.value, w.is_int, COALESCE(w.did, e.did), %s
        FROM wanted w LEFT JOIN {entries} e ON e."table" = w.tbl AND e.key = w.key
        WHERE (e.key IS NULL AND w.value IS NOT NULL)
           OR (e.key IS NOT NULL
               AND (e.value IS DISTINCT FROM w.value OR e.is_int <> w.is_int))
        ON CONFLICT ("table", key) DO UPDATE SET
            value = excluded.value, is_int = excluded.is_int, did = excluded.did,
            generation = excluded.generation
    """
    params = [*view_params, *entry_params, *attr_params, *entry_params, generation]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def changes_record(*, dids: Iterable[str] | None) -> None:
    """Log what the current transaction changed for ``dids`` (None: anything), under the
    generation it bumped. Inside that transaction, after the bump."""
    state = ReloadState.objects.filter(pk=STATE_PK).values_list(
        "desired_generation", "log_generation"
    )
    generation, logged = next(iter(state), (0, None))
    # The first change of this transaction finds the log at the generation before; a
    # later one at this transaction's own. Otherwise it is incomplete and left for a
    # rebuild.
    if logged is None or logged not in (generation, generation - 1):
        return
    clean = sorted(set(dids)) if dids is not None else None
    _diff(generation, clean if clean is None or len(clean) <= _BY_DID_MAX else None)
    if logged != generation:
        ReloadState.objects.filter(pk=STATE_PK).update(log_generation=generation)


@dataclass(frozen=True)
class LogState:
    generation: int  # the desired one
    changed_at: datetime | None  # when it was made
    logged: int | None  # the last generation the log holds
    floor: int  # the first generation it holds all of, after this one

    @property
    def complete(self) -> bool:
        return self.logged == self.generation


def log_state() -> LogState:
    """The desired generation (as generation.desired_state has it) and the log's, in one
    read."""
    state = ReloadState.objects.filter(pk=STATE_PK).values_list(
        "desired_generation", "changed_at", "log_generation", "log_floor"
    )
    return LogState(*next(iter(state), (0, None, None, 0)))


def log_is_complete() -> bool:
    return log_state().complete


@transaction.atomic
def log_rebuild() -> int:
    """Compare every key with the relations and make the log complete at the desired
    generation, which becomes its floor. Returns that generation."""
    state = ReloadState.objects.select_for_update().filter(pk=STATE_PK).first()
    if state is None:
        state = ReloadState.objects.create(pk=STATE_PK)
    if state.log_generation == state.desired_generation:
        return state.log_floor
    _diff(state.desired_generation, None)
    ReloadState.objects.filter(pk=STATE_PK).update(
        log_generation=state.desired_generation, log_floor=state.desired_generation
    )
    with connection.cursor() as cursor:
        # Up to a million rows may have come at once: without fresh statistics the planner
        # takes the log for empty, and each change's comparison scans all of it.
        cursor.execute(f"ANALYZE {IndexEntry._meta.db_table}")
    return state.desired_generation


def log_floor() -> int:
    return log_state().floor


def changes_after(generation: int, *, limit: int) -> list[Change] | None:
    """The changes a proxy at ``generation`` needs, in the order to send them, or None
    when there are more than ``limit``.

    Attributes are set before names and names deleted before attributes: a domain that
    becomes served has its attributes from its first request on, and one that goes is
    never served without them."""
    rows = list(
        IndexEntry.objects.filter(generation__gt=generation).values_list(
            "table", "key", "value", "is_int"
        )[: limit + 1]
    )
    if len(rows) > limit:
        return None
    changes = [Change(table, key, value, is_int) for table, key, value, is_int in rows]

    def order(change: Change) -> tuple[int, str]:
        names = change.table == IndexTable.NAMES
        if change.value is not None:
            return (1 if names else 0), change.key
        return (2 if names else 3), change.key

    return sorted(changes, key=order)


def changes_count(generation: int, *, limit: int) -> int:
    """How many keys a proxy at ``generation`` needs, counted up to ``limit`` + 1."""
    return IndexEntry.objects.filter(generation__gt=generation)[: limit + 1].count()


def tombstones_purge() -> None:
    """Forget deletions every enabled proxy has applied; the floor follows."""
    passed = Proxy.objects.filter(enabled=True).aggregate(low=Min("applied_generation"))["low"]
    if not passed:
        return
    with transaction.atomic():
        # The floor first: a proxy enabled again below it gets a full reload, as it
        # would need deletions that are gone.
        ReloadState.objects.filter(pk=STATE_PK, log_floor__lt=passed).update(log_floor=passed)
        IndexEntry.objects.filter(value__isnull=True, generation__lte=passed).delete()
