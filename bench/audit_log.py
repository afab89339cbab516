"""The audit log page at millions of entries: server time and queries per filter.

    .venv/bin/python bench/audit_log.py [--entries 2000000] [--repeat 15]

Creates a scratch PostgreSQL database (``--database-url``, default SERWEB_BENCH_DATABASE_URL
or postgres://postgres@127.0.0.1:5432/serweb_bench_audit; the name must contain "bench"),
migrates it, writes --entries audit entries with PostgreSQL alone (five actors, five
channels, ten actions, four object types, 50,000 dids, runs of three entries, one entry
every quarter second), then asks the page in-process (Django's test client, signed in as an
operator) for each filter's first page and for a page half-way down the list, and prints
the median and 95th percentile of the time to answer and the number of queries.
"""

import argparse
import os
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import configure_django, recreate_database  # noqa: E402

FILL = """
INSERT INTO audit_auditentry (created_at, actor_name, actor_role, channel, action, object_type,
                              object_repr, did, before, after, "group")
SELECT now() - (g || ' milliseconds')::interval * 250,
       (ARRAY['alice', 'ops', 'system', 'bob', 'carol'])[1 + g %% 5],
       'operator',
       (ARRAY['web', 'api', 'cli', 'task', 'api'])[1 + g %% 5],
       (ARRAY['domain.create', 'domain.disable', 'subscriber.create', 'subscriber.password',
              'validfrom.add', 'domain.enable', 'alias.add', 'domain.delete', 'tenant.create',
              'proxy.create'])[1 + (g * 7) %% 10],
       (ARRAY['domain', 'subscriber', 'user_alias', 'tenant'])[1 + g %% 4],
       'u' || (g %% 100000) || '@d' || (g %% 50000) || '.example',
       'd' || (g %% 50000) || '.example',
       jsonb_build_object('did', 'd' || (g %% 50000) || '.example', 'enabled', true,
                          'names', jsonb_build_array('d' || (g %% 50000) || '.example')),
       jsonb_build_object('did', 'd' || (g %% 50000) || '.example', 'enabled', false,
                          'names', jsonb_build_array('d' || (g %% 50000) || '.example')),
       md5((g / 3)::text)::uuid
FROM generate_series(1, %s) AS g
"""

FILTERS = {
    "everything": {},
    "actor": {"actor_name": "carol"},
    "channel": {"channel": "web"},
    "object type": {"object_type": "tenant"},
    "object": {"object": "u777@d777.example"},
    "did": {"did": "d777.example"},
    "action": {"action": "tenant.create"},
    "an hour, long ago": {"since": "HOUR_START", "until": "HOUR_END"},
    "three at once": {"channel": "web", "action": "domain.create", "object_type": "domain"},
    # Two common values that never meet: the worst case, every entry of the rarer read.
    "never together": {"actor_name": "alice", "action": "domain.disable"},
    "one run": {"group": "RUN"},
}


def fill(entries: int) -> None:
    from django.db import connection

    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(FILL, [entries])
        cursor.execute("ANALYZE audit_auditentry")
    print(f"{entries:,} entries written in {time.perf_counter() - started:.0f} s")


def halfway_cursor(operator, params: dict) -> str | None:
    """The cursor of the entry half-way down the filtered list (found once, by offset)."""
    from audit.selectors import audit_entries_visible_to
    from portal.forms.audit import AuditLogFilters
    from portal.paging import encode_cursor
    from portal.views.operator.audit import ORDERING

    filters = AuditLogFilters(params, queryset=audit_entries_visible_to(operator))
    assert filters.is_valid(), filters.errors
    matching = filters.qs.order_by(*ORDERING)
    count = matching.count()
    if count < 100:
        return None
    return encode_cursor(matching[count // 2], ORDERING)


def measure(client, params: dict, repeat: int) -> tuple[list[float], int, int]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    times = []
    for _ in range(repeat):
        with CaptureQueriesContext(connection) as queries:
            started = time.perf_counter()
            answer = client.get("/audit/", params)
            times.append(time.perf_counter() - started)
        assert answer.status_code == 200, answer.status_code
    return times, len(queries), answer.content.count(b"<time datetime")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=2_000_000)
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument(
        "--database-url",
        default=os.environ.get("SERWEB_BENCH_DATABASE_URL")
        or "postgres://postgres@127.0.0.1:5432/serweb_bench_audit",
    )
    options = parser.parse_args()
    recreate_database(options.database_url)
    try:
        configure_django(options.database_url)
        run(options)
    finally:
        from django.db import connections

        connections.close_all()
        recreate_database(options.database_url, drop_only=True)


def run(options) -> None:
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.test import Client
    from django.test.utils import setup_test_environment
    from django.utils import timezone

    from audit.models import AuditEntry

    call_command("migrate", verbosity=0)
    fill(options.entries)
    setup_test_environment()
    settings.ALLOWED_HOSTS = ["testserver"]
    settings.DEBUG = False
    operator = get_user_model().objects.create_user("op", is_staff=True)
    client = Client()
    client.force_login(operator)
    oldest = AuditEntry.objects.order_by("created_at").values_list("created_at", flat=True)[0]
    hour = timezone.localtime(oldest) + timedelta(hours=1)
    substitutes = {
        "HOUR_START": hour.strftime("%Y-%m-%dT%H:%M"),
        "HOUR_END": (hour + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M"),
        "RUN": str(AuditEntry.objects.order_by("-id").values_list("group", flat=True)[100]),
    }
    print(f"{'filter':16} {'page':9} {'median':>8} {'p95':>8} {'queries':>8} {'rows':>5}")
    for name, raw in FILTERS.items():
        params = {key: substitutes.get(value, value) for key, value in raw.items()}
        pages = {"first": params}
        cursor = halfway_cursor(operator, params)
        if cursor is not None:
            pages["half-way"] = {**params, "after": cursor}
        for page, query in pages.items():
            times, queries, rows = measure(client, query, options.repeat)
            times.sort()
            p95 = times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]
            print(
                f"{name:16} {page:9} {statistics.median(times) * 1000:6.1f}ms "
                f"{p95 * 1000:6.1f}ms {queries:8} {rows:5}"
            )


if __name__ == "__main__":
    main()
